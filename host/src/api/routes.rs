//! Routing and handlers.

use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::{Method, Request, Response, StatusCode};

use super::body::{MAX_COMPONENT_BYTES, MAX_JSON_BYTES, json, read};
use super::dto::{
    CancelView, DeploymentList, DeploymentView, InvocationList, InvocationView, InvokeRequest,
    JournalView, StepView,
};
use super::error::ApiError;
use crate::DEFAULT_TENANT;
use crate::ids::InvocationId;
use crate::journal::{InvocationRecord, InvocationState};
use crate::metrics::METRICS;
use crate::outbound::Policy;
use crate::scheduler::Scheduler;

/// Longest a request may wait for an invocation to finish.
const MAX_WAIT: Duration = Duration::from_secs(300);
/// Most invocations one list returns.
const MAX_LIST: usize = 10_000;

/// Answers one request.
pub async fn handle(scheduler: &Scheduler, req: Request<Incoming>) -> Response<Full<Bytes>> {
    route(scheduler, req)
        .await
        .unwrap_or_else(ApiError::into_response)
}

async fn route(
    scheduler: &Scheduler,
    req: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, ApiError> {
    let path = req.uri().path().to_string();
    let query = req.uri().query().unwrap_or("").to_string();
    let decoded: Vec<String> = path
        .trim_matches('/')
        .split('/')
        .map(percent_decode)
        .collect();
    let segments: Vec<&str> = decoded.iter().map(String::as_str).collect();
    let tenant = DEFAULT_TENANT;
    match (req.method(), segments.as_slice()) {
        (&Method::GET, ["v1", "health"]) => {
            Ok(json(StatusCode::OK, &serde_json::json!({"status": "ok"})))
        }
        (&Method::GET, ["v1", "stats"]) => {
            let stored = scheduler.store().counts(tenant)?;
            let stored = stored.into_iter().map(|(s, n)| (tenant.to_string(), s, n));
            let counts: serde_json::Map<String, serde_json::Value> = scheduler
                .live_counts(stored.collect())
                .into_iter()
                .filter(|(_, _, n)| *n > 0)
                .map(|(_, state, n)| (state.as_str().to_string(), n.into()))
                .collect();
            Ok(json(
                StatusCode::OK,
                &serde_json::json!({"invocations": counts}),
            ))
        }
        (&Method::GET, ["metrics"]) => {
            let counts = scheduler.live_counts(scheduler.store().all_counts()?);
            let text = METRICS.render(&counts, &scheduler.destinations().stats());
            let mut response = Response::new(Full::new(Bytes::from(text)));
            response.headers_mut().insert(
                hyper::header::CONTENT_TYPE,
                hyper::header::HeaderValue::from_static("text/plain; version=0.0.4"),
            );
            Ok(response)
        }
        (&Method::PUT, ["v1", "deployments", name]) => {
            let name = name.to_string();
            let policy = policy_header(&req)?;
            let bytes = read(req.into_body(), MAX_COMPONENT_BYTES).await?;
            let deployment = scheduler
                .deploy(tenant, &name, bytes.to_vec(), policy)
                .await?;
            Ok(json(
                StatusCode::CREATED,
                &DeploymentView::from(&deployment),
            ))
        }
        (&Method::GET, ["v1", "deployments"]) => {
            let deployments = scheduler.store().deployments(tenant)?;
            let view = DeploymentList {
                deployments: deployments.iter().map(DeploymentView::from).collect(),
            };
            Ok(json(StatusCode::OK, &view))
        }
        (&Method::GET, ["v1", "deployments", name]) => {
            let deployment = scheduler.store().deployment(tenant, name)?.ok_or_else(|| {
                ApiError::not_found(
                    "unknown_deployment",
                    format!("no deployment named `{name}`"),
                )
            })?;
            Ok(json(StatusCode::OK, &DeploymentView::from(&deployment)))
        }
        (&Method::POST, ["v1", "invocations"]) => {
            let wait = wait_param(&query)?;
            let body = read(req.into_body(), MAX_JSON_BYTES).await?;
            let request: InvokeRequest = serde_json::from_slice(&body).map_err(|e| {
                ApiError::bad_request(
                    "invalid_json",
                    format!("the request body is not a valid invocation: {e}"),
                )
            })?;
            let record = scheduler
                .invoke(
                    tenant,
                    &request.function,
                    request.input.get().as_bytes().to_vec(),
                    wait.is_some(),
                )
                .await?;
            let record = match wait {
                Some(timeout) => scheduler
                    .wait(tenant, record.id, timeout)
                    .await?
                    .unwrap_or(record),
                None => record,
            };
            let status = if record.state.is_terminal() {
                StatusCode::OK
            } else {
                StatusCode::ACCEPTED
            };
            Ok(json(status, &view(scheduler, &record)?))
        }
        (&Method::GET, ["v1", "invocations"]) => {
            let state = match param(&query, "state") {
                None => None,
                Some(s) => Some(InvocationState::parse(&s).ok_or_else(|| {
                    ApiError::bad_request(
                        "invalid_state",
                        format!(
                            "`state` must be pending, running, suspended, completed, failed or \
                             cancelled, got `{s}`"
                        ),
                    )
                })?),
            };
            let limit = match param(&query, "limit") {
                None => 100,
                Some(s) => s.parse::<usize>().ok().filter(|n| *n > 0).ok_or_else(|| {
                    ApiError::bad_request(
                        "invalid_limit",
                        format!("`limit` must be a positive number, got `{s}`"),
                    )
                })?,
            };
            let limit = limit.min(MAX_LIST);
            let records = match param(&query, "parent") {
                Some(parent) => {
                    let parent = parse_id(&parent)?;
                    let mut children = scheduler.store().children(tenant, parent, usize::MAX)?;
                    children.retain(|r| state.is_none_or(|s| s == scheduler.live_state(r)));
                    children.truncate(limit);
                    children
                }
                None => {
                    let keep =
                        |r: &InvocationRecord| state.is_none_or(|s| s == scheduler.live_state(r));
                    scheduler.store().invocations(tenant, keep, limit)?
                }
            };
            let view = InvocationList {
                invocations: records
                    .iter()
                    .map(|r| view(scheduler, r))
                    .collect::<Result<_, _>>()?,
            };
            Ok(json(StatusCode::OK, &view))
        }
        (&Method::GET, ["v1", "invocations", id]) => {
            let id = parse_id(id)?;
            let record = match wait_param(&query)? {
                Some(timeout) => scheduler.wait(tenant, id, timeout).await?,
                None => scheduler.store().invocation(tenant, id)?,
            }
            .ok_or_else(|| unknown_invocation(id))?;
            Ok(json(StatusCode::OK, &view(scheduler, &record)?))
        }
        (&Method::POST, ["v1", "invocations", id, "signals", name]) => {
            let id = parse_id(id)?;
            let name = name.to_string();
            let body = read(req.into_body(), MAX_JSON_BYTES).await?;
            let data = if body.iter().all(u8::is_ascii_whitespace) {
                b"null".to_vec()
            } else {
                body.to_vec()
            };
            scheduler.signal(tenant, id, &name, data).await?;
            let record = scheduler
                .store()
                .invocation(tenant, id)?
                .ok_or_else(|| unknown_invocation(id))?;
            Ok(json(StatusCode::ACCEPTED, &view(scheduler, &record)?))
        }
        (&Method::POST, ["v1", "invocations", id, "cancel"]) => {
            let id = parse_id(id)?;
            let cancelled = scheduler.cancel(tenant, id).await?;
            let view = CancelView {
                cancelled: cancelled.iter().map(ToString::to_string).collect(),
            };
            Ok(json(StatusCode::OK, &view))
        }
        (&Method::GET, ["v1", "invocations", id, "journal"]) => {
            let id = parse_id(id)?;
            // Look the record up first: another tenant's id is unknown here.
            scheduler
                .store()
                .invocation(tenant, id)?
                .ok_or_else(|| unknown_invocation(id))?;
            let steps = scheduler.store().steps(id)?;
            let view = JournalView {
                id: id.to_string(),
                steps: steps
                    .iter()
                    .map(|(seq, entry)| StepView::new(*seq, entry))
                    .collect(),
            };
            Ok(json(StatusCode::OK, &view))
        }
        (
            _,
            ["v1", "deployments", ..]
            | ["v1", "invocations", ..]
            | ["v1", "health" | "stats"]
            | ["metrics"],
        ) => Err(ApiError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
            format!("{} is not allowed on {path}", req.method()),
        )),
        _ => Err(ApiError::not_found(
            "not_found",
            format!("no route for {path}"),
        )),
    }
}

/// The header carrying a deployment's policy (JSON).
pub const POLICY_HEADER: &str = "reprise-policy";

fn policy_header(req: &Request<Incoming>) -> Result<Policy, ApiError> {
    let Some(value) = req.headers().get(POLICY_HEADER) else {
        return Ok(Policy::default());
    };
    serde_json::from_slice(value.as_bytes()).map_err(|e| {
        ApiError::bad_request(
            "invalid_policy",
            format!("the `{POLICY_HEADER}` header is not a valid policy: {e}"),
        )
    })
}

/// The view of `record`, with what it waits for if it is suspended.
fn view(scheduler: &Scheduler, record: &InvocationRecord) -> Result<InvocationView, ApiError> {
    let wait = match record.state {
        InvocationState::Suspended => scheduler.store().wait_state(&record.tenant, record.id)?,
        _ => None,
    };
    let mut view = InvocationView::new(record, wait.as_ref());
    view.state = scheduler.live_state(record).as_str().to_string();
    Ok(view)
}

fn unknown_invocation(id: InvocationId) -> ApiError {
    ApiError::not_found("unknown_invocation", format!("no invocation {id}"))
}

fn parse_id(text: &str) -> Result<InvocationId, ApiError> {
    text.parse().map_err(|e: crate::ids::BadInvocationId| {
        ApiError::bad_request("invalid_id", e.to_string())
    })
}

/// A path segment or query value with its `%XX` escapes decoded (invalid ones kept as written).
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (byte, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The value of query parameter `name`.
fn param(query: &str, name: &str) -> Option<String> {
    query
        .split('&')
        .filter_map(|pair| pair.split_once('=').or(Some((pair, ""))))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| percent_decode(value))
}

/// `wait=SECONDS` (fractions allowed), capped at [`MAX_WAIT`].
fn wait_param(query: &str) -> Result<Option<Duration>, ApiError> {
    match param(query, "wait") {
        None => Ok(None),
        Some(s) => s
            .parse::<f64>()
            .ok()
            .filter(|secs| secs.is_finite() && *secs >= 0.0)
            .map(|secs| Some(Duration::from_secs_f64(secs).min(MAX_WAIT)))
            .ok_or_else(|| {
                ApiError::bad_request(
                    "invalid_wait",
                    format!("`wait` must be a number of seconds, got `{s}`"),
                )
            }),
    }
}
