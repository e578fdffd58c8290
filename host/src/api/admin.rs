//! The admin routes: tenants and keys. Each needs an admin key ([`Admin`]).

use axum::Json;
use axum::body::Body;
use axum::extract::State;
use hyper::StatusCode;
use serde::de::DeserializeOwned;

use super::access_dto::{
    CreateKeyRequest, CreateTenantRequest, KeyList, KeyView, NewKeyView, TenantList, TenantView,
};
use super::auth::Admin;
use super::body::{MAX_JSON_BYTES, read};
use super::error::ApiError;
use super::params::Segments;
use crate::access;
use crate::ids::TenantId;
use crate::journal::{KeyRecord, KeyRole};
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
    let store = scheduler.store();
    access::revoke_key(&**store, &id).await?;
    let key = store
        .keys()?
        .into_iter()
        .find(|k| k.id() == id)
        .ok_or_else(|| ApiError::from(access::AccessError::NoSuchKey(id.clone())))?;
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
async fn json_body<T: DeserializeOwned>(body: Body, what: &str) -> Result<T, ApiError> {
    let body = read(body, MAX_JSON_BYTES).await?;
    serde_json::from_slice(&body).map_err(|e| {
        ApiError::bad_request(
            "invalid_json",
            format!("the request body is not a valid {what} request: {e}"),
        )
    })
}
