//! Guest log lines: emitted through `tracing` once, when first recorded; silent on replay.

use super::{StepRequest, Steps, mismatched};
use crate::bindings::LogLevel;
use crate::ids::InvocationId;
use crate::journal::Outcome;

pub(super) fn emit(invocation: InvocationId, level: LogLevel, message: &str) -> Outcome {
    let id = invocation.to_string();
    match level {
        LogLevel::Trace => tracing::trace!(target: "guest", invocation = %id, "{message}"),
        LogLevel::Debug => tracing::debug!(target: "guest", invocation = %id, "{message}"),
        LogLevel::Info => tracing::info!(target: "guest", invocation = %id, "{message}"),
        LogLevel::Warn => tracing::warn!(target: "guest", invocation = %id, "{message}"),
        LogLevel::Error => tracing::error!(target: "guest", invocation = %id, "{message}"),
    }
    Outcome::Unit
}

/// Journaled log line.
pub async fn log(steps: &mut Steps, level: LogLevel, message: &str) -> wasmtime::Result<()> {
    match steps.take(StepRequest::Log { level, message }).await? {
        Outcome::Unit => Ok(()),
        other => Err(mismatched("log", &other)),
    }
}
