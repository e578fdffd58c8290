//! The admin routes: tenants and keys. Each needs an admin key ([`Admin`]).

use axum::Json;
use axum::body::Body;
use axum::extract::State;
use hyper::StatusCode;
use serde::de::DeserializeOwned;

use super::access_dto::{
    CreateKeyRequest, CreateTenantRequest, KeyList, KeyView, NewKeyView, TenantDetail, TenantList,
    TenantView,
};
use super::auth::Admin;
use super::body::{MAX_JSON_BYTES, read};
use super::error::ApiError;
use super::params::Segments;
use crate::access;
use crate::ids::TenantId;
use crate::journal::{KeyRecord, KeyRole, Limits, Quotas};
use crate::scheduler::Scheduler;

/// `GET /v1/tenants`.
pub async fn tenants(
    State(scheduler): State<Scheduler>,
    _: Admin,
) -> Result<Json<TenantList>, ApiError> {
    let tenants = scheduler.store().tenants()?;
    Ok(Json(TenantList {
        tenants: tenants.iter().map(TenantView::from).collect(),
    }))
}

/// `POST /v1/tenants`: creates the tenant and its first key (shown only in this answer).
pub async fn create_tenant(
    State(scheduler): State<Scheduler>,
    _: Admin,
    body: Body,
) -> Result<(StatusCode, Json<NewKeyView>), ApiError> {
    let request: CreateTenantRequest = json_body(body, "tenant").await?;
    let (key, record) = access::create_tenant(&**scheduler.store(), &request.name).await?;
    Ok(new_key(key, &record))
}

/// `GET /v1/keys`.
pub async fn keys(State(scheduler): State<Scheduler>, _: Admin) -> Result<Json<KeyList>, ApiError> {
    let keys = scheduler.store().keys()?;
    Ok(Json(KeyList {
        keys: keys.iter().map(KeyView::from).collect(),
    }))
}

/// `POST /v1/keys`: a new key for a tenant, or an admin key (shown only in this answer).
pub async fn create_key(
    State(scheduler): State<Scheduler>,
    _: Admin,
    body: Body,
) -> Result<(StatusCode, Json<NewKeyView>), ApiError> {
    let request: CreateKeyRequest = json_body(body, "key").await?;
    let role = match (request.tenant, request.admin) {
        (Some(tenant), false) => KeyRole::Tenant(TenantId::new(tenant)),
        (None, true) => KeyRole::Admin,
        _ => {
            return Err(ApiError::bad_request(
                "invalid_key_request",
                "give either `tenant` (a tenant's key) or `admin: true` (an admin key)",
            ));
        }
    };
    let (key, record) = access::create_key(&**scheduler.store(), role).await?;
    Ok(new_key(key, &record))
}

/// `POST /v1/keys/{id}/revoke`: from the next request on, the key is refused.
pub async fn revoke_key(
    State(scheduler): State<Scheduler>,
    _: Admin,
    Segments(id): Segments<String>,
) -> Result<Json<KeyView>, ApiError> {
    let key = access::revoke_key(&**scheduler.store(), &id).await?;
    Ok(Json(KeyView::from(&key)))
}

/// The answer for a key just stored.
fn new_key(key: String, record: &KeyRecord) -> (StatusCode, Json<NewKeyView>) {
    (
        StatusCode::CREATED,
        Json(NewKeyView {
            key,
            view: KeyView::from(record),
        }),
    )
}

/// The JSON body of a request for a `what`.
pub(super) async fn json_body<T: DeserializeOwned>(body: Body, what: &str) -> Result<T, ApiError> {
    let body = read(body, MAX_JSON_BYTES).await?;
    serde_json::from_slice(&body).map_err(|e| {
        ApiError::bad_request(
            "invalid_json",
            format!("the request body is not a valid {what} request: {e}"),
        )
    })
}

/// `GET /v1/tenants/{name}`: the tenant, its quotas and the limits it runs under.
pub async fn tenant(
    State(scheduler): State<Scheduler>,
    _: Admin,
    Segments(name): Segments<String>,
) -> Result<Json<TenantDetail>, ApiError> {
    Ok(Json(detail(&scheduler, &TenantId::new(name))?))
}

/// `POST /v1/tenants/{name}/quotas`: sets the quotas named in the body (a number), resets
/// those given as `null` to the default, and keeps the others.
pub async fn set_quotas(
    State(scheduler): State<Scheduler>,
    _: Admin,
    Segments(name): Segments<String>,
    body: Body,
) -> Result<Json<TenantDetail>, ApiError> {
    let changes: serde_json::Map<String, serde_json::Value> = json_body(body, "quotas").await?;
    let tenant = TenantId::new(name);
    let store = scheduler.store();
    detail(&scheduler, &tenant)?;
    let mut quotas = store.quotas(&tenant)?;
    for (name, value) in &changes {
        let value = match value {
            serde_json::Value::Null => None,
            value => Some(value.as_u64().ok_or_else(|| {
                ApiError::bad_request(
                    "invalid_quota",
                    format!("quota `{name}` must be a whole number ≥ 0 or null, not {value}"),
                )
            })?),
        };
        *quota_field(&mut quotas, name)? = value;
    }
    store
        .set_quotas(&tenant, quotas)
        .await
        .map_err(access::AccessError::from)?;
    Ok(Json(detail(&scheduler, &tenant)?))
}

/// The quota called `name` in `quotas`.
fn quota_field<'q>(quotas: &'q mut Quotas, name: &str) -> Result<&'q mut Option<u64>, ApiError> {
    Ok(match name {
        "max_running" => &mut quotas.max_running,
        "max_waiting" => &mut quotas.max_waiting,
        "run_ms" => &mut quotas.run_ms,
        "memory_bytes" => &mut quotas.memory_bytes,
        "component_bytes" => &mut quotas.component_bytes,
        "input_bytes" => &mut quotas.input_bytes,
        "output_bytes" => &mut quotas.output_bytes,
        "journal_entries" => &mut quotas.journal_entries,
        "journal_bytes" => &mut quotas.journal_bytes,
        "stored_bytes" => &mut quotas.stored_bytes,
        "retention_secs" => &mut quotas.retention_secs,
        other => {
            return Err(ApiError::bad_request(
                "invalid_quota",
                format!(
                    "no quota is called `{}`; quotas: max_running, max_waiting, run_ms, \
                     memory_bytes, component_bytes, input_bytes, output_bytes, \
                     journal_entries, journal_bytes, stored_bytes, retention_secs",
                    other.chars().take(64).collect::<String>()
                ),
            ));
        }
    })
}

/// `tenant` with its quotas and limits; 404 if there is no such tenant.
pub(super) fn detail(scheduler: &Scheduler, tenant: &TenantId) -> Result<TenantDetail, ApiError> {
    let store = scheduler.store();
    let record = store.tenant(tenant)?.ok_or_else(|| {
        ApiError::not_found("unknown_tenant", format!("no tenant named `{tenant}`"))
    })?;
    let quotas = store.quotas(tenant)?;
    Ok(TenantDetail {
        tenant: TenantView::from(&record),
        limits: Limits::DEFAULT.with(&quotas),
        quotas,
        egress: store.egress(tenant, None)?.as_ref().map(Into::into),
        stored_bytes: store.stored_bytes(tenant)?,
    })
}
