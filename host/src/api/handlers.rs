//! One handler per route, thin over the [`Scheduler`]: read what the request names, call
//! the scheduler or the store, answer a view.

use axum::Json;
use axum::body::Body;
use axum::extract::State;
use axum::response::IntoResponse;
use hyper::header::{CONTENT_TYPE, HeaderMap, HeaderValue};
use hyper::{Method, StatusCode, Uri};
use serde_json::{Value, json};

use super::auth::{Admin, Tenant};
use super::body::{MAX_COMPONENT_BYTES, MAX_JSON_BYTES, read, read_within};
use super::dto::{
    BulkRequest, BulkView, CancelView, DeploymentList, DeploymentView, GcView, HistoryView,
    IDEMPOTENCY_KEY_HEADER, InvocationList, InvocationView, InvokeRequest, JournalView, Omitted,
    REPLAYED_HEADER, RefusalView, StepView, VersionView,
};
use super::error::ApiError;
use super::params::{Params, Segments, invocation_id};
use crate::ids::InvocationId;
use crate::journal::{InvocationRecord, InvocationState, OverQuota};
use crate::metrics::METRICS;
use crate::outbound::Policy;
use crate::scheduler::{
    BadAction, BadFilter, BulkAction, Filter, InvokeOptions, Invoked, MAX_BULK_PAGE, Scheduler,
};

/// The header carrying a deployment's policy (JSON).
pub const POLICY_HEADER: &str = "reprise-policy";

/// A JSON answer with status 200, or an error.
type Answer<T> = Result<Json<T>, ApiError>;
/// A JSON answer with another status, or an error.
type AnswerWith<T> = Result<(StatusCode, Json<T>), ApiError>;

/// `GET /v1/health`.
pub async fn health() -> Json<Value> {
    Json(json!({"status": "ok"}))
}

/// `GET /v1/stats`: the tenant's invocations by state.
pub async fn stats(State(scheduler): State<Scheduler>, Tenant(tenant): Tenant) -> Answer<Value> {
    let tenant = &tenant;
    let stored = scheduler.store().counts(tenant)?;
    let stored = stored.into_iter().map(|(s, n)| (tenant.clone(), s, n));
    let counts: serde_json::Map<String, Value> = scheduler
        .live_counts(stored.collect())
        .into_iter()
        .filter(|(_, _, n)| *n > 0)
        .map(|(_, state, n)| (state.as_str().to_string(), n.into()))
        .collect();
    let stored_bytes = scheduler.store().stored_bytes(tenant)?;
    Ok(Json(
        json!({"tenant": tenant.as_str(), "invocations": counts, "stored_bytes": stored_bytes}),
    ))
}

/// `GET /v1/destinations`: the tenant's outbound destinations as they are now.
pub async fn destinations(
    State(scheduler): State<Scheduler>,
    Tenant(tenant): Tenant,
) -> Answer<Value> {
    let destinations: Vec<Value> = scheduler
        .destinations()
        .stats()
        .into_iter()
        .filter(|d| d.tenant == tenant.as_str())
        .map(|d| {
            json!({
                "destination": d.destination,
                "limit": d.limit,
                "in_flight": d.in_flight,
                "queued": d.queued,
                "breaker": d.breaker,
            })
        })
        .collect();
    Ok(Json(json!({ "destinations": destinations })))
}

/// `GET /metrics`: the Prometheus text.
pub async fn metrics(
    State(scheduler): State<Scheduler>,
    _: Admin,
) -> Result<impl IntoResponse, ApiError> {
    let counts: Vec<(String, &str, u64)> = scheduler
        .live_counts(scheduler.store().all_counts()?)
        .into_iter()
        .map(|(tenant, state, n)| (tenant.to_string(), state.as_str(), n))
        .collect();
    let text = METRICS.render(&counts, &scheduler.destinations().stats());
    let content_type = HeaderValue::from_static(crate::metrics::CONTENT_TYPE);
    Ok(([(CONTENT_TYPE, content_type)], text))
}

/// `PUT /v1/deployments/{name}`: the body is the component, the policy in [`POLICY_HEADER`].
pub async fn deploy(
    State(scheduler): State<Scheduler>,
    axum::Extension(uploads): axum::Extension<super::Uploads>,
    Tenant(tenant): Tenant,
    Segments(name): Segments<String>,
    headers: HeaderMap,
    body: Body,
) -> AnswerWith<DeploymentView> {
    let policy = policy(&headers)?;
    // The tenant's quota bounds what is buffered, checked as the bytes arrive.
    let quota = scheduler.limits(&tenant)?.component_bytes;
    let limit = usize::try_from(quota).map_or(MAX_COMPONENT_BYTES, |q| q.min(MAX_COMPONENT_BYTES));
    // `_buffered` holds the upload's share of the host's budget until the deploy ends.
    let (bytes, _buffered) = read_within(body, limit, Some(&uploads))
        .await
        .map_err(|err| {
            if limit < MAX_COMPONENT_BYTES && err.status == StatusCode::PAYLOAD_TOO_LARGE {
                let over = OverQuota::new("component_bytes", quota, "bytes per component");
                ApiError::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "quota_exceeded",
                    format!("the component is {over}"),
                )
            } else {
                err
            }
        })?;
    let deployment = scheduler
        .deploy(&tenant, &name, bytes.to_vec(), policy)
        .await?;
    Ok((StatusCode::CREATED, Json(DeploymentView::from(&deployment))))
}

/// `GET /v1/deployments`.
pub async fn deployments(
    State(scheduler): State<Scheduler>,
    Tenant(tenant): Tenant,
) -> Answer<DeploymentList> {
    let deployments = scheduler.store().deployments(&tenant)?;
    Ok(Json(DeploymentList {
        deployments: deployments.iter().map(DeploymentView::from).collect(),
    }))
}

/// `GET /v1/deployments/{name}`.
pub async fn deployment(
    State(scheduler): State<Scheduler>,
    Tenant(tenant): Tenant,
    Segments(name): Segments<String>,
) -> Answer<DeploymentView> {
    let deployment = scheduler
        .store()
        .deployment(&tenant, &name)?
        .ok_or_else(|| ApiError::unknown_deployment(&name))?;
    Ok(Json(DeploymentView::from(&deployment)))
}

/// `POST /v1/invocations[?wait=SECONDS]`: 200 once finished, else 202.
pub async fn invoke(
    State(scheduler): State<Scheduler>,
    Tenant(tenant): Tenant,
    params: Params,
    headers: HeaderMap,
    body: Body,
) -> Result<axum::response::Response, ApiError> {
    let tenant = &tenant;
    let wait = params.wait()?;
    let key = idempotency_key(&headers)?;
    let body = read(body, MAX_JSON_BYTES).await?;
    let request: InvokeRequest = serde_json::from_slice(&body).map_err(|e| {
        ApiError::bad_request(
            "invalid_json",
            format!("the request body is not a valid invocation: {e}"),
        )
    })?;
    let options = InvokeOptions {
        waited: wait.is_some(),
        key,
        start_at_ms: start_at_ms(&request)?,
    };
    let input = request.input.get().as_bytes().to_vec();
    let Invoked { record, replayed } = scheduler
        .invoke(tenant, &request.function, input, options)
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
    Ok(replayed_if(
        replayed,
        (status, Json(view(&scheduler, &record)?)),
    ))
}

/// `answer`, marked as the first request's when `replayed`.
fn replayed_if(replayed: bool, answer: impl IntoResponse) -> axum::response::Response {
    let mut response = answer.into_response();
    if replayed {
        response
            .headers_mut()
            .insert(REPLAYED_HEADER, HeaderValue::from_static("true"));
    }
    response
}

/// The request's `Idempotency-Key`, if it has one.
fn idempotency_key(headers: &HeaderMap) -> Result<Option<String>, ApiError> {
    let Some(value) = headers.get(IDEMPOTENCY_KEY_HEADER) else {
        return Ok(None);
    };
    match value.to_str() {
        Ok(key) => Ok(Some(key.to_string())),
        Err(_) => Err(ApiError::bad_request(
            "invalid_idempotency_key",
            "the Idempotency-Key header must be visible ASCII characters",
        )),
    }
}

/// Most a start may be put off: about ten years.
const MAX_DELAY_MS: u64 = 10 * 366 * 24 * 60 * 60 * 1000;

/// When the request asks the invocation to start, if later than now.
fn start_at_ms(request: &InvokeRequest) -> Result<Option<u64>, ApiError> {
    let bad = |message: String| ApiError::bad_request("invalid_start", message);
    let now = crate::clock::now_ms();
    let at = match (&request.start_at, request.delay_ms) {
        (Some(_), Some(_)) => return Err(bad("give `start_at` or `delay_ms`, not both".into())),
        (None, None) => return Ok(None),
        (None, Some(delay)) => now.saturating_add(delay),
        (Some(text), None) => {
            let time = humantime::parse_rfc3339_weak(text).map_err(|e| {
                let text: String = text.chars().take(64).collect();
                bad(format!(
                    "`start_at` `{text}` is not an RFC 3339 time such as 2026-12-02T10:00:00Z: {e}"
                ))
            })?;
            time.duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_millis() as u64)
        }
    };
    if at.saturating_sub(now) > MAX_DELAY_MS {
        return Err(bad(
            "the start is more than ten years away; the most is about ten years".into(),
        ));
    }
    Ok(Some(at))
}

/// How many invocations one page of a filtered list looks at, at most: past it, the page
/// ends early with a cursor to look on from.
pub const LIST_SCAN_BUDGET: usize = 100_000;

/// `GET /v1/invocations[?state=STATE][&filter=F][&text=T][&limit=N][&parent=ID][&before=ID]`,
/// newest first.
pub async fn invocations(
    State(scheduler): State<Scheduler>,
    Tenant(tenant): Tenant,
    params: Params,
) -> Answer<InvocationList> {
    let tenant = &tenant;
    let mut filter = params.filter()?;
    if let Some(state) = params.state()? {
        filter.state = Some(state);
    }
    let text = params.text()?;
    let limit = params.limit()?;
    let before = params.before()?;
    let keep = |r: &InvocationRecord| {
        filter.matches(r, scheduler.live_state(r))
            && text.is_none_or(|t| contains(&r.input, t.as_bytes()))
    };
    let (records, resume) = match params.parent()? {
        Some(parent) => {
            let mut children = scheduler.store().children(tenant, parent, usize::MAX)?;
            children.retain(|c| keep(c) && before.is_none_or(|b| c.id < b));
            children.truncate(limit);
            (children, None)
        }
        None => {
            let page = crate::storage::Page {
                before,
                from: filter.first_id(),
                limit,
                budget: LIST_SCAN_BUDGET,
                state: filter.state,
            };
            scheduler.store().invocations_page(tenant, &keep, page)?
        }
    };
    let next = match resume {
        Some(resume) => Some(resume.to_string()),
        None => (records.len() == limit)
            .then(|| records.last().map(|r| r.id.to_string()))
            .flatten(),
    };
    Ok(Json(InvocationList {
        invocations: records
            .iter()
            .map(|r| view(&scheduler, r).map(|v| listed(v, r)))
            .collect::<Result<_, _>>()?,
        next,
    }))
}

/// `GET /v1/invocations/{id}[?wait=SECONDS]`.
pub async fn invocation(
    State(scheduler): State<Scheduler>,
    Tenant(tenant): Tenant,
    Segments(id): Segments<String>,
    params: Params,
) -> Answer<InvocationView> {
    let id = invocation_id(&id)?;
    let record = match params.wait()? {
        Some(timeout) => scheduler.wait(&tenant, id, timeout).await?,
        None => scheduler.store().invocation(&tenant, id)?,
    }
    .ok_or_else(|| unknown_invocation(id))?;
    Ok(Json(view(&scheduler, &record)?))
}

/// `POST /v1/invocations/{id}/signals/{name}`: the body is the payload (`null` when empty).
pub async fn signal(
    State(scheduler): State<Scheduler>,
    Tenant(tenant): Tenant,
    Segments((id, name)): Segments<(String, String)>,
    headers: HeaderMap,
    body: Body,
) -> Result<axum::response::Response, ApiError> {
    let id = invocation_id(&id)?;
    let key = idempotency_key(&headers)?;
    let body = read(body, MAX_JSON_BYTES).await?;
    let data = if body.iter().all(u8::is_ascii_whitespace) {
        b"null".to_vec()
    } else {
        body.to_vec()
    };
    let replayed = scheduler.signal(&tenant, id, &name, data, key).await?;
    let record = scheduler
        .store()
        .invocation(&tenant, id)?
        .ok_or_else(|| unknown_invocation(id))?;
    let answer = (StatusCode::ACCEPTED, Json(view(&scheduler, &record)?));
    Ok(replayed_if(replayed, answer))
}

/// `POST /v1/invocations/{id}/cancel`: the invocation and its attached descendants.
pub async fn cancel(
    State(scheduler): State<Scheduler>,
    Tenant(tenant): Tenant,
    Segments(id): Segments<String>,
) -> Answer<CancelView> {
    let id = invocation_id(&id)?;
    let cancelled = scheduler.cancel(&tenant, id).await?;
    Ok(Json(CancelView {
        cancelled: cancelled.iter().map(ToString::to_string).collect(),
    }))
}

/// `POST /v1/invocations/bulk`: one page of a bulk action (or a count of its matches).
pub async fn bulk(
    State(scheduler): State<Scheduler>,
    Tenant(tenant): Tenant,
    body: Body,
) -> Answer<BulkView> {
    let body = read(body, MAX_JSON_BYTES).await?;
    let request: BulkRequest = serde_json::from_slice(&body).map_err(|e| {
        ApiError::bad_request(
            "invalid_json",
            format!("the request body is not a valid bulk request: {e}"),
        )
    })?;
    let action: BulkAction = request
        .action
        .parse()
        .map_err(|e: BadAction| ApiError::bad_request("invalid_action", e.to_string()))?;
    let filter = Filter::parse(&request.filter, crate::clock::now_ms())
        .map_err(|e: BadFilter| ApiError::bad_request("invalid_filter", e.to_string()))?;
    let before = request.before.as_deref().map(invocation_id).transpose()?;
    let limit = request.limit.unwrap_or(1_000);
    if limit == 0 || limit > MAX_BULK_PAGE {
        return Err(ApiError::bad_request(
            "invalid_limit",
            format!("`limit` must be 1 to {MAX_BULK_PAGE}, got {limit}"),
        ));
    }
    let action = match action {
        BulkAction::Rewind { .. } => BulkAction::Rewind {
            to_step: request.to_step.ok_or_else(|| {
                ApiError::bad_request("invalid_step", "`to_step` is required to rewind")
            })?,
            onto: super::rewind::onto(request.component, request.deployment)?,
        },
        _ if request.to_step.is_some()
            || request.component.is_some()
            || request.deployment.is_some() =>
        {
            return Err(ApiError::bad_request(
                "invalid_request",
                "`to_step`, `component` and `deployment` are for `rewind` only",
            ));
        }
        BulkAction::Upgrade { .. } => BulkAction::Upgrade {
            to: request.to_version,
        },
        _ if request.to_version.is_some() => {
            return Err(ApiError::bad_request(
                "invalid_request",
                "`to_version` is for `upgrade` only",
            ));
        }
        other => other,
    };
    let page = scheduler
        .bulk(&tenant, action, &filter, request.dry_run, before, limit)
        .await?;
    Ok(Json(BulkView {
        matched: page.matched,
        done: page.done,
        skipped: page.skipped,
        refusals: page
            .refusals
            .into_iter()
            .map(|(id, message)| RefusalView {
                id: id.to_string(),
                message,
            })
            .collect(),
        next: page.next.map(|id| id.to_string()),
        dry_run: request.dry_run,
    }))
}

/// `POST /v1/gc[?dry_run=true]`: runs the tenant's retention sweep now and removes its old
/// versions nothing unfinished runs on (or only counts both).
pub async fn gc(
    State(scheduler): State<Scheduler>,
    Tenant(tenant): Tenant,
    params: Params,
) -> Answer<GcView> {
    let dry_run = params.flag("dry_run")?;
    let swept = scheduler.gc(&tenant, dry_run).await?;
    let versions = scheduler.gc_versions(&tenant, dry_run).await?;
    Ok(Json(GcView {
        invocations: swept.invocations,
        keys: swept.keys,
        finished_before: super::dto::rfc3339(swept.before_ms),
        versions: versions.iter().map(VersionView::from).collect(),
        dry_run,
    }))
}

/// `POST /v1/invocations/{id}/pause`: it stops at once and does not wake until resumed.
pub async fn pause(
    State(scheduler): State<Scheduler>,
    Tenant(tenant): Tenant,
    Segments(id): Segments<String>,
) -> AnswerWith<InvocationView> {
    let id = invocation_id(&id)?;
    scheduler.pause(&tenant, id).await?;
    controlled(&scheduler, &tenant, id)
}

/// `POST /v1/invocations/{id}/resume`: a paused invocation goes on where it was.
pub async fn resume(
    State(scheduler): State<Scheduler>,
    Tenant(tenant): Tenant,
    Segments(id): Segments<String>,
) -> AnswerWith<InvocationView> {
    let id = invocation_id(&id)?;
    scheduler.resume(&tenant, id).await?;
    controlled(&scheduler, &tenant, id)
}

/// The answer to a control request on `id`: 202 and the invocation as it is now.
fn controlled(
    scheduler: &Scheduler,
    tenant: &crate::ids::TenantId,
    id: InvocationId,
) -> AnswerWith<InvocationView> {
    let record = scheduler
        .store()
        .invocation(tenant, id)?
        .ok_or_else(|| unknown_invocation(id))?;
    Ok((StatusCode::ACCEPTED, Json(view(scheduler, &record)?)))
}

/// `GET /v1/invocations/{id}/journal`.
pub async fn journal(
    State(scheduler): State<Scheduler>,
    Tenant(tenant): Tenant,
    Segments(id): Segments<String>,
    params: Params,
) -> Answer<JournalView> {
    let id = invocation_id(&id)?;
    // Look the record up first: another tenant's id is unknown here.
    scheduler
        .store()
        .invocation(&tenant, id)?
        .ok_or_else(|| unknown_invocation(id))?;
    let (from, limit) = (params.from()?, params.limit_or(MAX_JOURNAL_PAGE)?);
    // The page, and one step past it to tell whether there is a next page.
    let last = from.saturating_add(u32::try_from(limit).unwrap_or(u32::MAX));
    let mut recorded = scheduler.store().recorded_range(id, from..=last)?;
    let mut steps = Vec::with_capacity(limit.min(recorded.remaining()));
    for entry in recorded.by_ref().take(limit) {
        let (seq, entry) = entry.map_err(crate::journal::StoreError::from)?;
        steps.push(StepView::new(seq, &entry));
    }
    let next = match recorded.next() {
        Some(Ok((seq, _))) => Some(seq),
        _ => None,
    };
    let history = match params.flag("history")? {
        true => Some(
            scheduler
                .store()
                .history(id)?
                .iter()
                .map(HistoryView::from)
                .collect(),
        ),
        false => None,
    };
    Ok(Json(JournalView {
        id: id.to_string(),
        steps,
        next,
        history,
    }))
}

/// The answer to a path no route has: 404 `not_found`.
pub async fn not_found(uri: Uri) -> ApiError {
    ApiError::not_found("not_found", format!("no route for {}", uri.path()))
}

/// The answer to a method a route does not take: 405 `method_not_allowed`.
pub async fn method_not_allowed(method: Method, uri: Uri) -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        format!("{method} is not allowed on {}", uri.path()),
    )
}

/// The policy in [`POLICY_HEADER`], the default when there is none.
fn policy(headers: &HeaderMap) -> Result<Policy, ApiError> {
    let Some(value) = headers.get(POLICY_HEADER) else {
        return Ok(Policy::default());
    };
    serde_json::from_slice(value.as_bytes()).map_err(|e| {
        ApiError::bad_request(
            "invalid_policy",
            format!("the `{POLICY_HEADER}` header is not a valid policy: {e}"),
        )
    })
}

/// Largest input or output a list shows (larger ones are left out, their sizes given).
const MAX_LISTED_VALUE: usize = 64 * 1024;
/// Most journal steps one page returns (and the default).
const MAX_JOURNAL_PAGE: usize = 10_000;

/// `view` of `record` as a list shows it: inputs and outputs over [`MAX_LISTED_VALUE`] left
/// out, so a list's size is bounded by its length.
fn listed(mut view: InvocationView, record: &InvocationRecord) -> InvocationView {
    let input = (record.input.len() > MAX_LISTED_VALUE).then_some(record.input.len());
    let output = record
        .output
        .as_ref()
        .map(Vec::len)
        .filter(|n| *n > MAX_LISTED_VALUE);
    if input.is_some() {
        view.input = Value::Null;
    }
    if output.is_some() {
        view.output = None;
    }
    if input.is_some() || output.is_some() {
        view.omitted = Some(Omitted {
            input_bytes: input,
            output_bytes: output,
        });
    }
    view
}

/// The view of `record`, with what it waits for if it is suspended.
/// The view of `record` as it is now (live state, wait).
pub(super) fn view(
    scheduler: &Scheduler,
    record: &InvocationRecord,
) -> Result<InvocationView, ApiError> {
    let wait = match record.state {
        state if state.is_waiting() => scheduler.store().wait_state(&record.tenant, record.id)?,
        _ => None,
    };
    let mut view = InvocationView::new(record, wait.as_ref());
    view.state = scheduler.live_state(record).as_str().to_string();
    if let Some(wait) = &wait
        && let Some(retry) = scheduler.store().retry_state(record.id, wait.seq)?
    {
        view.retrying = Some(super::dto::RetryingView {
            // A rerun's wait is at no step of the journal.
            step: (wait.seq != u32::MAX).then_some(wait.seq),
            attempts: retry.attempts,
            since: super::dto::rfc3339(retry.first_ms),
            next_at: wait.timers.first().map(|ms| super::dto::rfc3339(*ms)),
        });
    }
    if record.state == InvocationState::Moved
        && let Some(departure) = scheduler.store().departure(&record.tenant, record.id)?
    {
        view.moved = Some(super::dto::MovedView {
            to: departure.to,
            phase: departure.phase.as_str().to_string(),
        });
    }
    Ok(view)
}

/// Whether `needle` occurs in `haystack`.
fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    needle.is_empty() || haystack.windows(needle.len()).any(|w| w == needle)
}

/// The 404 for an invocation id the caller has none of.
pub(super) fn unknown_invocation(id: InvocationId) -> ApiError {
    ApiError::not_found("unknown_invocation", format!("no invocation {id}"))
}
