//! Authentication of API requests: every route but health needs a key (`Authorization:
//! Bearer KEY`); the caller it names is kept in the request for the extractors below, which
//! give a handler its tenant ([`Tenant`]) or require the admin ([`Admin`]).

use axum::extract::{FromRequestParts, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use hyper::header::AUTHORIZATION;
use hyper::http::request::Parts;

use super::error::ApiError;
use crate::access::{Caller, authenticate};
use crate::ids::TenantId;
use crate::scheduler::Scheduler;

/// Checks the request's key and keeps who it names; answers 401 when there is none that holds.
pub async fn require_key(
    State(scheduler): State<Scheduler>,
    mut request: Request,
    next: Next,
) -> Response {
    let header = request.headers().get(AUTHORIZATION).map(|v| v.as_bytes());
    match authenticate(&**scheduler.store(), header) {
        Ok(caller) => {
            request.extensions_mut().insert(caller);
            next.run(request).await
        }
        Err(err) => ApiError::from(err).into_response(),
    }
}

/// The tenant a request acts for: the tenant of its key.
pub struct Tenant(pub TenantId);

impl<S: Send + Sync> FromRequestParts<S> for Tenant {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        match parts.extensions.get::<Caller>() {
            Some(Caller::Tenant(tenant)) => Ok(Tenant(tenant.clone())),
            Some(Caller::Admin) => Err(ApiError::forbidden(
                "an admin key manages tenants and keys; use a tenant's key for this",
            )),
            None => Err(ApiError::from(crate::access::AuthError::Missing)),
        }
    }
}

/// A request made with an admin key.
pub struct Admin;

impl<S: Send + Sync> FromRequestParts<S> for Admin {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        match parts.extensions.get::<Caller>() {
            Some(Caller::Admin) => Ok(Admin),
            Some(Caller::Tenant(_)) => Err(ApiError::forbidden(
                "this needs an admin key (a tenant's key cannot manage tenants, keys or metrics)",
            )),
            None => Err(ApiError::from(crate::access::AuthError::Missing)),
        }
    }
}
