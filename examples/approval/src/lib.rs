//! An approval workflow: `request_approval` asks a person to approve something, waits for
//! their answer — a signal named `decision` — and gives up after a timeout.
//!
//! ```text
//! reprise invoke approval --input '{"subject": "Refund order 1234", "notify_url": "https://…", "timeout_seconds": 259200}'
//! reprise signal ID decision --data '{"approved": true, "by": "ada"}'
//! ```
//!
//! The wait is a `race` between the signal and a timer. While it waits (three days here) the
//! invocation holds no memory: it is suspended, and the host resumes it when the signal
//! arrives or the timer fires, whichever is first — across restarts. A decision sent before
//! the workflow starts waiting is kept for it.

use std::time::Duration;

use reprise_sdk::wait::{race, signal, timeout};
use reprise_sdk::{Error, http};
use serde::{Deserialize, Serialize};

/// Input of [`request_approval`].
#[derive(Deserialize)]
pub struct Request {
    /// What needs approving.
    pub subject: String,
    /// Where to send the request for approval (POST, JSON with the invocation id to answer).
    pub notify_url: String,
    /// How long to wait for a decision.
    pub timeout_seconds: u64,
}

/// The payload of the `decision` signal.
#[derive(Deserialize)]
pub struct Decision {
    /// Whether it is approved.
    pub approved: bool,
    /// Who decided.
    pub by: Option<String>,
}

/// Output of [`request_approval`].
#[derive(Serialize)]
pub struct Outcome {
    /// `approved`, `rejected` or `timed_out`.
    pub status: &'static str,
    /// Who decided, if someone did.
    pub by: Option<String>,
}

/// Asks for approval of `subject` and waits for a `decision` signal, at most
/// `timeout_seconds`.
#[reprise_sdk::function]
pub fn request_approval(input: Request) -> Result<Outcome, Error> {
    http::post(&input.notify_url)
        .json(&serde_json::json!({
            "subject": input.subject,
            "invocation": reprise_sdk::invocation_id(),
            "answer_with": "reprise signal INVOCATION decision --data '{\"approved\": true}'",
        }))
        .send()?
        .error_for_status()?;
    let first = race(&[
        signal("decision"),
        timeout(Duration::from_secs(input.timeout_seconds)),
    ]);
    if first.index == 1 {
        reprise_sdk::warn!("no decision on `{}` in time", input.subject);
        return Ok(Outcome {
            status: "timed_out",
            by: None,
        });
    }
    let decision: Decision = first.json()?;
    Ok(Outcome {
        status: if decision.approved {
            "approved"
        } else {
            "rejected"
        },
        by: decision.by,
    })
}

reprise_sdk::export!(request_approval);
