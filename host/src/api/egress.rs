//! The egress rules routes: a tenant's rules (set by an admin, `/v1/tenants/{name}/egress`)
//! and a deployment's (set by its tenant, `/v1/deployments/{name}/egress`). Rules only narrow
//! the host's policy; a run reads them when it starts.

use axum::Json;
use axum::body::Body;
use axum::extract::State;

use super::access_dto::{BadEgress, EgressAnswer, EgressRulesView};
use super::admin::{detail, json_body};
use super::auth::{Admin, Tenant};
use super::error::ApiError;
use super::params::Segments;
use crate::access::AccessError;
use crate::ids::TenantId;
use crate::journal::EgressRules;
use crate::scheduler::Scheduler;

/// `GET /v1/tenants/{name}/egress`.
pub async fn tenant_rules(
    State(scheduler): State<Scheduler>,
    _: Admin,
    Segments(name): Segments<String>,
) -> Result<Json<EgressAnswer>, ApiError> {
    let tenant = existing_tenant(&scheduler, name)?;
    answer(&scheduler, &tenant, None)
}

/// `PUT /v1/tenants/{name}/egress`: replaces the tenant's rules.
pub async fn set_tenant_rules(
    State(scheduler): State<Scheduler>,
    _: Admin,
    Segments(name): Segments<String>,
    body: Body,
) -> Result<Json<EgressAnswer>, ApiError> {
    let tenant = existing_tenant(&scheduler, name)?;
    let rules = parse(body).await?;
    store_rules(&scheduler, &tenant, None, Some(rules)).await
}

/// `DELETE /v1/tenants/{name}/egress`: only the host's policy applies to the tenant again.
pub async fn clear_tenant_rules(
    State(scheduler): State<Scheduler>,
    _: Admin,
    Segments(name): Segments<String>,
) -> Result<Json<EgressAnswer>, ApiError> {
    let tenant = existing_tenant(&scheduler, name)?;
    store_rules(&scheduler, &tenant, None, None).await
}

/// `GET /v1/deployments/{name}/egress`.
pub async fn deployment_rules(
    State(scheduler): State<Scheduler>,
    Tenant(tenant): Tenant,
    Segments(name): Segments<String>,
) -> Result<Json<EgressAnswer>, ApiError> {
    deployed(&scheduler, &tenant, &name)?;
    answer(&scheduler, &tenant, Some(&name))
}

/// `PUT /v1/deployments/{name}/egress`: replaces the deployment's rules (every version's).
pub async fn set_deployment_rules(
    State(scheduler): State<Scheduler>,
    Tenant(tenant): Tenant,
    Segments(name): Segments<String>,
    body: Body,
) -> Result<Json<EgressAnswer>, ApiError> {
    deployed(&scheduler, &tenant, &name)?;
    let rules = parse(body).await?;
    store_rules(&scheduler, &tenant, Some(&name), Some(rules)).await
}

/// `DELETE /v1/deployments/{name}/egress`: only the tenant's rules apply to it again.
pub async fn clear_deployment_rules(
    State(scheduler): State<Scheduler>,
    Tenant(tenant): Tenant,
    Segments(name): Segments<String>,
) -> Result<Json<EgressAnswer>, ApiError> {
    deployed(&scheduler, &tenant, &name)?;
    store_rules(&scheduler, &tenant, Some(&name), None).await
}

/// The tenant called `name`; 404 if there is none.
fn existing_tenant(scheduler: &Scheduler, name: String) -> Result<TenantId, ApiError> {
    let tenant = TenantId::new(name);
    detail(scheduler, &tenant)?;
    Ok(tenant)
}

/// 404, as for every missing deployment, unless `tenant` has one called `name`.
fn deployed(scheduler: &Scheduler, tenant: &TenantId, name: &str) -> Result<(), ApiError> {
    match scheduler.store().deployment(tenant, name)? {
        Some(_) => Ok(()),
        None => Err(ApiError::unknown_deployment(name)),
    }
}

/// The rules in a request's body.
async fn parse(body: Body) -> Result<EgressRules, ApiError> {
    let view: EgressRulesView = json_body(body, "egress rules").await?;
    EgressRules::try_from(view)
        .map_err(|e: BadEgress| ApiError::bad_request("invalid_egress", e.to_string()))
}

/// Durably sets (or clears) the rules, and answers with what is stored now.
async fn store_rules(
    scheduler: &Scheduler,
    tenant: &TenantId,
    deployment: Option<&str>,
    rules: Option<EgressRules>,
) -> Result<Json<EgressAnswer>, ApiError> {
    scheduler
        .set_egress(tenant, deployment, rules)
        .await
        .map_err(AccessError::from)?;
    answer(scheduler, tenant, deployment)
}

/// The rules stored for `tenant` (or its `deployment`).
fn answer(
    scheduler: &Scheduler,
    tenant: &TenantId,
    deployment: Option<&str>,
) -> Result<Json<EgressAnswer>, ApiError> {
    let rules = scheduler.store().egress(tenant, deployment)?;
    Ok(Json(EgressAnswer {
        egress: rules.as_ref().map(Into::into),
    }))
}
