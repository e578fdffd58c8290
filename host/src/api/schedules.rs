//! The schedule routes: `/v1/schedules` (make, list) and `/v1/schedules/{name}` (show,
//! pause, resume, delete), each within the caller's tenant.

use std::time::Duration;

use axum::Json;
use axum::body::Body;
use axum::extract::State;
use hyper::StatusCode;

use super::admin::json_body;
use super::auth::Tenant;
use super::dto::{ScheduleList, ScheduleRequest, ScheduleView};
use super::error::ApiError;
use super::params::Segments;
use crate::journal::Missed;
use crate::scheduler::{NewSchedule, Scheduler};

/// Most a grace may be: a day.
const MAX_GRACE_MS: u64 = 24 * 60 * 60 * 1000;

/// `POST /v1/schedules`: 201 and the new schedule.
pub async fn create(
    State(scheduler): State<Scheduler>,
    Tenant(tenant): Tenant,
    body: Body,
) -> Result<(StatusCode, Json<ScheduleView>), ApiError> {
    let request: ScheduleRequest = json_body(body, "schedule").await?;
    let missed = match request.missed.as_deref() {
        None => Missed::Once,
        Some(text) => text.parse().map_err(|e: crate::journal::BadMissed| {
            ApiError::bad_request("invalid_missed", e.to_string())
        })?,
    };
    let grace_ms = request.grace_ms.unwrap_or(60_000);
    if grace_ms > MAX_GRACE_MS {
        return Err(ApiError::bad_request(
            "invalid_grace",
            format!("`grace_ms` {grace_ms} is more than a day ({MAX_GRACE_MS})"),
        ));
    }
    let new = NewSchedule {
        name: request.name,
        cron: request.cron,
        tz: request.tz,
        target: request.function,
        input: request.input.get().as_bytes().to_vec(),
        missed,
        grace: Duration::from_millis(grace_ms),
    };
    let schedule = scheduler.create_schedule(&tenant, new).await?;
    Ok((StatusCode::CREATED, Json(ScheduleView::from(&schedule))))
}

/// `GET /v1/schedules`.
pub async fn list(
    State(scheduler): State<Scheduler>,
    Tenant(tenant): Tenant,
) -> Result<Json<ScheduleList>, ApiError> {
    let schedules = scheduler.schedules(&tenant)?;
    Ok(Json(ScheduleList {
        schedules: schedules.iter().map(ScheduleView::from).collect(),
    }))
}

/// `GET /v1/schedules/{name}`.
pub async fn show(
    State(scheduler): State<Scheduler>,
    Tenant(tenant): Tenant,
    Segments(name): Segments<String>,
) -> Result<Json<ScheduleView>, ApiError> {
    Ok(Json((&scheduler.schedule(&tenant, &name)?).into()))
}

/// `POST /v1/schedules/{name}/pause`: it makes no firings until resumed.
pub async fn pause(
    State(scheduler): State<Scheduler>,
    Tenant(tenant): Tenant,
    Segments(name): Segments<String>,
) -> Result<Json<ScheduleView>, ApiError> {
    let schedule = scheduler.pause_schedule(&tenant, &name, true).await?;
    Ok(Json((&schedule).into()))
}

/// `POST /v1/schedules/{name}/resume`: it fires again from its next firing after now.
pub async fn resume(
    State(scheduler): State<Scheduler>,
    Tenant(tenant): Tenant,
    Segments(name): Segments<String>,
) -> Result<Json<ScheduleView>, ApiError> {
    let schedule = scheduler.pause_schedule(&tenant, &name, false).await?;
    Ok(Json((&schedule).into()))
}

/// `DELETE /v1/schedules/{name}`: the schedule as it was removed; the invocations it made
/// stay.
pub async fn delete(
    State(scheduler): State<Scheduler>,
    Tenant(tenant): Tenant,
    Segments(name): Segments<String>,
) -> Result<Json<ScheduleView>, ApiError> {
    let schedule = scheduler.schedule(&tenant, &name)?;
    scheduler.delete_schedule(&tenant, &name).await?;
    Ok(Json((&schedule).into()))
}
