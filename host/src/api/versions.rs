//! The version routes: a deployment's versions with what runs on each
//! (`GET /v1/deployments/{name}/versions`) and the upgrade of one invocation onto another
//! version (`POST /v1/invocations/{id}/upgrade`).

use axum::Json;
use axum::body::Body;
use axum::extract::State;
use hyper::StatusCode;

use super::admin::json_body;
use super::auth::Tenant;
use super::dto::{UpgradeRequest, UpgradedView, VersionList, VersionView};
use super::error::ApiError;
use super::params::{Segments, invocation_id};
use crate::scheduler::{Scheduler, UpgradeError, VersionsError};

/// `GET /v1/deployments/{name}/versions`: newest first.
pub async fn versions(
    State(scheduler): State<Scheduler>,
    Tenant(tenant): Tenant,
    Segments(name): Segments<String>,
) -> Result<Json<VersionList>, ApiError> {
    let versions = scheduler.versions(&tenant, &name)?;
    Ok(Json(VersionList {
        name,
        versions: versions.iter().map(VersionView::from).collect(),
    }))
}

/// `POST /v1/invocations/{id}/upgrade`: moves it onto another version once that replayed
/// its journal; a divergence is a 409 naming the step, and nothing changes.
pub async fn upgrade(
    State(scheduler): State<Scheduler>,
    Tenant(tenant): Tenant,
    Segments(id): Segments<String>,
    body: Body,
) -> Result<Json<UpgradedView>, ApiError> {
    let id = invocation_id(&id)?;
    let request: UpgradeRequest = json_body(body, "upgrade request").await?;
    let upgraded = scheduler.upgrade(&tenant, id, request.to_version).await?;
    Ok(Json(UpgradedView {
        id: id.to_string(),
        from_component: upgraded.from.to_hex(),
        to_component: upgraded.record.component.to_hex(),
        to_version: upgraded.to_version,
        steps: upgraded.steps,
        state: scheduler.live_state(&upgraded.record).as_str().to_string(),
    }))
}

impl From<VersionsError> for ApiError {
    fn from(err: VersionsError) -> Self {
        match err {
            VersionsError::Target(crate::target::TargetError::UnknownDeployment(name)) => {
                ApiError::unknown_deployment(&name)
            }
            VersionsError::Target(err) => {
                ApiError::bad_request("invalid_deployment", err.to_string())
            }
            VersionsError::Store(err) => err.into(),
        }
    }
}

impl From<UpgradeError> for ApiError {
    fn from(err: UpgradeError) -> Self {
        let message = err.to_string();
        let conflict = |code| ApiError::new(StatusCode::CONFLICT, code, message.clone());
        match err {
            UpgradeError::NotFound(_) => ApiError::not_found("unknown_invocation", message),
            UpgradeError::Finished(..) => conflict("invocation_finished"),
            UpgradeError::Moved { .. } => conflict("moved"),
            UpgradeError::NoSuchVersion { .. } => ApiError::not_found("unknown_version", message),
            UpgradeError::AlreadyOn { .. } => conflict("already_on_version"),
            UpgradeError::Replay(err) => err.into(),
            UpgradeError::Changed(_) => conflict("invocation_changed"),
            UpgradeError::Store(err) => err.into(),
        }
    }
}
