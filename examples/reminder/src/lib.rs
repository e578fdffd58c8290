//! A durable reminder: `remind({"message": "...", "delay_seconds": 604800, "webhook_url": "..."})`
//! sleeps for the delay, then POSTs `{"reminder": message}` to the webhook.
//!
//! The sleep is durable: the invocation holds no memory while it waits, survives host
//! restarts, and fires at start if it fell due while the host was down. The webhook call
//! carries an `Idempotency-Key`, so a receiver can drop the duplicate a crash may cause.

use std::time::Duration;

use reprise_sdk::{Error, http};
use serde::{Deserialize, Serialize};

/// Input of [`remind`].
#[derive(Deserialize)]
pub struct Reminder {
    /// What to say.
    pub message: String,
    /// How long to wait first.
    pub delay_seconds: u64,
    /// Where to deliver it (POST, JSON).
    pub webhook_url: String,
}

/// Output of [`remind`].
#[derive(Serialize)]
pub struct Delivered {
    /// The webhook's HTTP status.
    pub status: u16,
}

/// Waits `delay_seconds`, then delivers `message` to `webhook_url`.
#[reprise_sdk::function]
pub fn remind(input: Reminder) -> Result<Delivered, Error> {
    reprise_sdk::info!("reminding in {} s: {}", input.delay_seconds, input.message);
    reprise_sdk::sleep(Duration::from_secs(input.delay_seconds));
    let response = http::post(&input.webhook_url)
        .json(&serde_json::json!({ "reminder": input.message }))
        .send()?
        .error_for_status()?;
    Ok(Delivered {
        status: response.status(),
    })
}

reprise_sdk::export!(remind);
