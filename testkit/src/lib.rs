//! Test Reprise functions in-process: a real embedded host (scheduler, runtime, redb journal
//! in a temporary directory) with a skippable clock, scripted HTTP answers by URL, and a
//! replay checker that reruns a function from every prefix of its journal and after a
//! simulated crash at every step.
//!
//! ```no_run
//! # async fn example() -> Result<(), reprise_testkit::TestError> {
//! use reprise_testkit::{Reply, TestHost};
//!
//! let host = TestHost::start().await?;
//! host.http().on("POST", "/hook", [Reply::status(200)]);
//! host.deploy("reminder", "target/wasm32-wasip2/guest/reminder.wasm").await?;
//! let input = serde_json::json!({"message": "hi", "delay_seconds": 604_800,
//!                                "webhook_url": host.http().url("/hook")});
//! let id = host.invoke("reminder", &input).await?;
//! let done = host.finish(id).await?;          // the 7-day sleep is skipped
//! assert_eq!(done.output()?["status"], 200);
//! let report = host.check_replay(id).await?;
//! assert!(report.is_deterministic(), "{report}");
//! # Ok(()) }
//! ```

mod error;
mod host;
mod http;
mod replay;

pub use error::TestError;
pub use host::{Finished, TestHost};
pub use http::{Received, Reply, ScriptedHttp};
pub use replay::{Divergence, FoundBy, ReplayReport};
