//! The rewind and fork routes: `POST /v1/invocations/{id}/rewind` and `/fork`, within the
//! caller's tenant.

use axum::Json;
use axum::body::Body;
use axum::extract::State;
use hyper::StatusCode;

use super::admin::json_body;
use super::auth::Tenant;
use super::dto::{ForkRequest, InvocationView, RewindRequest};
use super::error::ApiError;
use super::handlers::view;
use super::params::{Segments, invocation_id};
use crate::scheduler::{Onto, Scheduler};

/// `POST /v1/invocations/{id}/rewind`: the invocation, pending again from `to_step`.
pub async fn rewind(
    State(scheduler): State<Scheduler>,
    Tenant(tenant): Tenant,
    Segments(id): Segments<String>,
    body: Body,
) -> Result<Json<InvocationView>, ApiError> {
    let id = invocation_id(&id)?;
    let request: RewindRequest = json_body(body, "rewind request").await?;
    let onto = onto(request.component, request.deployment)?;
    let record = scheduler
        .rewind(&tenant, id, request.to_step, &onto)
        .await?;
    Ok(Json(view(&scheduler, &record)?))
}

/// `POST /v1/invocations/{id}/fork`: 201 and the new invocation.
pub async fn fork(
    State(scheduler): State<Scheduler>,
    Tenant(tenant): Tenant,
    Segments(id): Segments<String>,
    body: Body,
) -> Result<(StatusCode, Json<InvocationView>), ApiError> {
    let id = invocation_id(&id)?;
    let request: ForkRequest = json_body(body, "fork request").await?;
    let onto = onto(request.component, request.deployment)?;
    let record = scheduler.fork(&tenant, id, request.at_step, &onto).await?;
    Ok((StatusCode::CREATED, Json(view(&scheduler, &record)?)))
}

/// The code named by a request's `component` or `deployment` (at most one of them).
pub fn onto(component: Option<String>, deployment: Option<String>) -> Result<Onto, ApiError> {
    match (component, deployment) {
        (None, None) => Ok(Onto::Same),
        (Some(hash), None) => Ok(Onto::Component(hash)),
        (None, Some(name)) => Ok(Onto::Deployment(name)),
        (Some(_), Some(_)) => Err(ApiError::bad_request(
            "invalid_request",
            "give `component` or `deployment`, not both",
        )),
    }
}
