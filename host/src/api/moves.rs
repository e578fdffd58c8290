//! The move routes: a tenant's export (`GET /v1/invocations/{id}/bundle`), import
//! (`POST /v1/bundles`) and migration (`POST /v1/invocations/{id}/migrate`); the routes other
//! nodes call with the cluster key (`POST /v1/node/arrivals`, `…/arrivals/{move}/refuse`,
//! `POST /v1/node/messages`);
//! and the forwarding of requests about an invocation that moved to another node.

use axum::Json;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use hyper::header::{AUTHORIZATION, CONTENT_TYPE, LOCATION, RETRY_AFTER};
use hyper::{HeaderMap, StatusCode};

use super::admin::json_body;
use super::auth::{Admin, Tenant};
use super::body::{MAX_COMPONENT_BYTES, read_within};
use super::dto::{InvocationView, MigrateRequest, MigratedView};
use super::error::ApiError;
use super::handlers::view;
use super::params::{Segments, invocation_id};
use crate::access::Caller;
use crate::cluster::peer::{MoveAnswer, RefuseRequest};
use crate::ids::TenantId;
use crate::journal::{Phase, WriteError};
use crate::scheduler::{DrainError, DrainProgress, MessagesError, MoveError, Scheduler};

/// The largest bundle taken: a component of the largest size, and as much again of journal.
pub const MAX_BUNDLE_BYTES: usize = 2 * MAX_COMPONENT_BYTES;

/// `GET /v1/invocations/{id}/bundle`: the bundle file; the invocation is this node's no
/// more (until the bundle is imported here again).
pub async fn export(
    State(scheduler): State<Scheduler>,
    Tenant(tenant): Tenant,
    Segments(id): Segments<String>,
) -> Result<Response, ApiError> {
    let id = invocation_id(&id)?;
    let bytes = scheduler.export(&tenant, id).await?;
    let disposition = format!("attachment; filename=\"{id}.bundle\"");
    Ok((
        [
            (CONTENT_TYPE, "application/octet-stream".to_string()),
            (hyper::header::CONTENT_DISPOSITION, disposition),
        ],
        bytes,
    )
        .into_response())
}

/// `POST /v1/bundles`: 201 and the imported invocation, owned by this node from now on.
pub async fn import(
    State(scheduler): State<Scheduler>,
    axum::Extension(uploads): axum::Extension<super::Uploads>,
    Tenant(tenant): Tenant,
    body: Body,
) -> Result<(StatusCode, Json<InvocationView>), ApiError> {
    let (bytes, _buffered) = read_within(body, MAX_BUNDLE_BYTES, Some(&uploads)).await?;
    let record = scheduler.import(&tenant, &bytes).await?;
    Ok((StatusCode::CREATED, Json(view(&scheduler, &record)?)))
}

/// `POST /v1/invocations/{id}/migrate`: moves the invocation to the node `to`; answers once
/// that node owns it.
pub async fn migrate(
    State(scheduler): State<Scheduler>,
    Tenant(tenant): Tenant,
    Segments(id): Segments<String>,
    body: Body,
) -> Result<Json<MigratedView>, ApiError> {
    let id = invocation_id(&id)?;
    let request: MigrateRequest = json_body(body, "migrate request").await?;
    let migrated = scheduler.migrate(&tenant, id, &request.to).await?;
    Ok(Json(MigratedView {
        id: id.to_string(),
        to: migrated.to,
        state: migrated.record.state.as_str().to_string(),
    }))
}

/// `POST /v1/node/arrivals` (another node, with the cluster key): takes the bundle in the
/// body; answers whether this node owns its invocation now.
pub async fn arrive(
    State(scheduler): State<Scheduler>,
    axum::Extension(uploads): axum::Extension<super::Uploads>,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<MoveAnswer>, ApiError> {
    node_only(&scheduler, &headers)?;
    let (bytes, _buffered) = read_within(body, MAX_BUNDLE_BYTES, Some(&uploads)).await?;
    match scheduler.receive(&bytes).await {
        Ok(()) => Ok(Json(MoveAnswer {
            arrived: true,
            reason: None,
        })),
        Err(MoveError::Store(err)) => Err(err.into()),
        Err(err @ MoveError::ComponentMissing(_)) => Err(err.into()),
        Err(refused) => Ok(Json(MoveAnswer {
            arrived: false,
            reason: Some(refused.to_string()),
        })),
    }
}

/// `POST /v1/node/messages` (another node, with the cluster key): takes the messages in the
/// body (children's ends, cancels); 200 once every one is taken.
pub async fn messages(
    State(scheduler): State<Scheduler>,
    axum::Extension(uploads): axum::Extension<super::Uploads>,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<serde_json::Value>, ApiError> {
    node_only(&scheduler, &headers)?;
    let (bytes, _buffered) = read_within(body, MAX_BUNDLE_BYTES, Some(&uploads)).await?;
    match scheduler.receive_messages(&bytes).await {
        Ok(taken) => Ok(Json(serde_json::json!({ "taken": taken }))),
        Err(MessagesError::Malformed(why)) => Err(ApiError::bad_request("invalid_messages", why)),
        Err(err @ MessagesError::NotYet(_)) => {
            let mut err = ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "moving", err.to_string());
            err.retry_after = Some(1);
            Err(err)
        }
        Err(MessagesError::Store(err)) => Err(err.into()),
    }
}

/// `POST /v1/node/arrivals/{move}/refuse` (another node, with the cluster key): refuses the
/// move unless it arrived; answers which.
pub async fn refuse(
    State(scheduler): State<Scheduler>,
    headers: HeaderMap,
    Segments(move_id): Segments<String>,
    body: Body,
) -> Result<Json<MoveAnswer>, ApiError> {
    node_only(&scheduler, &headers)?;
    let move_id = u128::from_str_radix(&move_id, 16).map_err(|_| {
        ApiError::bad_request("invalid_move", "the move id is 32 hexadecimal digits")
    })?;
    let request: RefuseRequest = json_body(body, "refusal").await?;
    let id = invocation_id(&request.invocation)?;
    let tenant = TenantId::new(request.tenant);
    let arrived = scheduler.refuse_arrival(move_id, &tenant, id).await?;
    Ok(Json(MoveAnswer {
        arrived,
        reason: (!arrived).then(|| "refused before it arrived".to_string()),
    }))
}

/// `POST /v1/drain` (admin): `{"to": URL}`; 202 and the drain's progress — every unfinished
/// invocation moves to `to`, and this node takes no new work from now on.
pub async fn drain(
    State(scheduler): State<Scheduler>,
    _: Admin,
    body: Body,
) -> Result<(StatusCode, Json<DrainProgress>), ApiError> {
    let request: MigrateRequest = json_body(body, "drain request").await?;
    let progress = scheduler.drain(&request.to).map_err(|err| match err {
        DrainError::Move(err) => ApiError::from(err),
        err @ DrainError::Running(_) => {
            ApiError::new(StatusCode::CONFLICT, "draining", err.to_string())
        }
    })?;
    Ok((StatusCode::ACCEPTED, Json(progress)))
}

/// `GET /v1/drain` (admin): the drain's progress.
pub async fn drain_progress(
    State(scheduler): State<Scheduler>,
    _: Admin,
) -> Result<Json<DrainProgress>, ApiError> {
    scheduler
        .drain_progress()
        .map(Json)
        .ok_or_else(|| ApiError::not_found("no_drain", "this host is not draining"))
}

/// `Err` unless the request carries this node's cluster key.
fn node_only(scheduler: &Scheduler, headers: &HeaderMap) -> Result<(), ApiError> {
    let cluster = scheduler.cluster();
    if !cluster.enabled() {
        return Err(ApiError::forbidden(
            "this node has no cluster key and takes part in no moves",
        ));
    }
    let presented = headers
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    if cluster.admits(presented) {
        Ok(())
    } else {
        Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "this route is for other nodes: present the cluster key (Authorization: Bearer KEY)",
        ))
    }
}

/// Answers a request about an invocation that moved to another node with a redirect there
/// (307: same method and body), and one about an invocation still leaving with 503 and
/// `Retry-After`; passes every other request on.
pub async fn forward(State(scheduler): State<Scheduler>, request: Request, next: Next) -> Response {
    let Some(rest) = request.uri().path().strip_prefix("/v1/invocations/") else {
        return next.run(request).await;
    };
    let (id, _) = rest.split_once('/').unwrap_or((rest, ""));
    let (Ok(id), Some(Caller::Tenant(tenant))) = (id.parse(), request.extensions().get::<Caller>())
    else {
        return next.run(request).await;
    };
    let departure = match scheduler.store().departure(tenant, id) {
        Ok(Some(d)) if !d.to.is_empty() => d,
        Ok(_) => return next.run(request).await,
        Err(err) => return ApiError::from(err).into_response(),
    };
    match departure.phase {
        Phase::Left => {
            let query = request
                .uri()
                .query()
                .map(|q| format!("?{q}"))
                .unwrap_or_default();
            let location = format!("{}{}{query}", departure.to, request.uri().path());
            let message = format!("invocation {id} moved to {}", departure.to);
            let mut response =
                ApiError::new(StatusCode::TEMPORARY_REDIRECT, "moved", message).into_response();
            if let Ok(value) = location.parse() {
                response.headers_mut().insert(LOCATION, value);
            }
            response
        }
        Phase::Leaving => {
            let message = format!(
                "invocation {id} is moving to {}; retry in a moment",
                departure.to
            );
            let mut response =
                ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "moving", message).into_response();
            response.headers_mut().insert(RETRY_AFTER, 1.into());
            response
        }
    }
}

impl From<MoveError> for ApiError {
    fn from(err: MoveError) -> Self {
        let message = err.to_string();
        let conflict = |code| ApiError::new(StatusCode::CONFLICT, code, message.clone());
        match err {
            MoveError::NotFound(_) => ApiError::not_found("unknown_invocation", message),
            MoveError::Bundle(_) => ApiError::bad_request("invalid_bundle", message),
            MoveError::OtherTenant => ApiError::new(StatusCode::FORBIDDEN, "other_tenant", message),
            MoveError::Component(err) => crate::scheduler::DeployError::Component(err).into(),
            MoveError::Admission(err) => err.into(),
            MoveError::Refused(err) => match err {
                WriteError::Moved { .. } => conflict("moved"),
                WriteError::Linked { .. } => conflict("linked"),
                WriteError::InvocationFinished(_) => conflict("invocation_finished"),
                WriteError::InvocationExists(_) => conflict("invocation_exists"),
                WriteError::NoSuchTenant(_) => conflict("unknown_tenant"),
                WriteError::Arrived(_) => conflict("already_imported"),
                WriteError::ArrivalRefused(_) => conflict("move_refused"),
                WriteError::NotAllowed { .. } => ApiError::bad_request("invalid_bundle", message),
                err => crate::journal::StoreError::Write(err).into(),
            },
            MoveError::NoCluster => conflict("no_cluster"),
            MoveError::ComponentMissing(_) => conflict(crate::cluster::peer::COMPONENT_MISSING),
            MoveError::Draining => {
                let mut err = ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "draining", message);
                err.retry_after = Some(60);
                err
            }
            MoveError::BadTarget(_) => ApiError::bad_request("invalid_target", message),
            MoveError::TargetRefused { .. } => conflict("move_refused"),
            MoveError::Undecided { .. } => {
                let mut err =
                    ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "move_undecided", message);
                err.retry_after = Some(2);
                err
            }
            MoveError::Store(err) => err.into(),
        }
    }
}
