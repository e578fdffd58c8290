//! `GET /v1/invocations/{id}/logs`: an invocation's log lines from `?after=N` on, for a
//! reader that polls (the CLI's `logs --follow`, the console).

use axum::Json;
use axum::extract::State;

use super::auth::Tenant;
use super::dto::{LogLineView, LogsView, rfc3339};
use super::error::ApiError;
use super::params::{Params, Segments, invocation_id};
use crate::scheduler::{LogSource, Scheduler};

/// `GET /v1/invocations/{id}/logs`.
pub async fn logs(
    State(scheduler): State<Scheduler>,
    Tenant(tenant): Tenant,
    Segments(id): Segments<String>,
    params: Params,
) -> Result<Json<LogsView>, ApiError> {
    let id = invocation_id(&id)?;
    let after = params.after()?;
    let (record, lines) = scheduler
        .logs(&tenant, id)?
        .ok_or_else(|| super::handlers::unknown_invocation(id))?;
    let next = lines.len();
    let lines = lines
        .into_iter()
        .skip(after)
        .map(|line| {
            let (stream, level) = match line.source {
                LogSource::Step(level) => ("log", Some(level.to_string())),
                LogSource::Output(stream) => (stream.as_str(), None),
            };
            LogLineView {
                position: line.position,
                stream: stream.to_string(),
                level,
                text: line.text,
                at: rfc3339(line.at_ms),
            }
        })
        .collect();
    Ok(Json(LogsView {
        id: id.to_string(),
        lines,
        next,
        state: scheduler.live_state(&record).as_str().to_string(),
        done: record.state.is_terminal(),
    }))
}
