//! The route table: which handler answers which method on which path, and the JSON 404
//! and 405 for the requests no route takes.

use axum::Router;
use axum::routing::{get, post, put};

use super::{Uploads, admin, auth, egress, handlers, logs, moves, rewind, schedules, versions};
use crate::scheduler::Scheduler;

/// The routes about one invocation; inside the key check, a moved invocation's requests
/// go where it went.
fn one_invocation(scheduler: Scheduler) -> Router<Scheduler> {
    Router::new()
        .route("/v1/invocations/{id}", get(handlers::invocation))
        .route(
            "/v1/invocations/{id}/signals/{name}",
            post(handlers::signal),
        )
        .route("/v1/invocations/{id}/cancel", post(handlers::cancel))
        .route("/v1/invocations/{id}/pause", post(handlers::pause))
        .route("/v1/invocations/{id}/resume", post(handlers::resume))
        .route("/v1/invocations/{id}/journal", get(handlers::journal))
        .route("/v1/invocations/{id}/logs", get(logs::logs))
        .route("/v1/invocations/{id}/rewind", post(rewind::rewind))
        .route("/v1/invocations/{id}/fork", post(rewind::fork))
        .route("/v1/invocations/{id}/upgrade", post(versions::upgrade))
        .route("/v1/invocations/{id}/bundle", get(moves::export))
        .route("/v1/invocations/{id}/migrate", post(moves::migrate))
        .route_layer(axum::middleware::from_fn_with_state(
            scheduler,
            moves::forward,
        ))
}

/// The API's routes over `scheduler`, uploads buffered within `uploads` (KiB permits);
/// every route but health needs a key.
pub fn router(scheduler: Scheduler, uploads: Uploads) -> Router {
    Router::new()
        .route("/v1/stats", get(handlers::stats))
        .route("/v1/destinations", get(handlers::destinations))
        .route("/metrics", get(handlers::metrics))
        .route("/v1/deployments", get(handlers::deployments))
        .route(
            "/v1/deployments/{name}",
            get(handlers::deployment).put(handlers::deploy),
        )
        .route("/v1/deployments/{name}/versions", get(versions::versions))
        .route(
            "/v1/deployments/{name}/egress",
            get(egress::deployment_rules)
                .put(egress::set_deployment_rules)
                .delete(egress::clear_deployment_rules),
        )
        .route(
            "/v1/invocations",
            get(handlers::invocations).post(handlers::invoke),
        )
        .route("/v1/invocations/bulk", post(handlers::bulk))
        .route("/v1/bundles", post(moves::import))
        .route("/v1/drain", get(moves::drain_progress).post(moves::drain))
        .route("/v1/gc", post(handlers::gc))
        .route(
            "/v1/schedules",
            get(schedules::list).post(schedules::create),
        )
        .route(
            "/v1/schedules/{name}",
            get(schedules::show).delete(schedules::delete),
        )
        .route("/v1/schedules/{name}/pause", post(schedules::pause))
        .route("/v1/schedules/{name}/resume", post(schedules::resume))
        .route(
            "/v1/tenants",
            get(admin::tenants).post(admin::create_tenant),
        )
        .route("/v1/tenants/{name}", get(admin::tenant))
        .route("/v1/tenants/{name}/quotas", post(admin::set_quotas))
        .route(
            "/v1/tenants/{name}/egress",
            put(egress::set_tenant_rules)
                .get(egress::tenant_rules)
                .delete(egress::clear_tenant_rules),
        )
        .route("/v1/keys", get(admin::keys).post(admin::create_key))
        .route("/v1/keys/{id}/revoke", post(admin::revoke_key))
        .merge(one_invocation(scheduler.clone()))
        // On the routes above only: health, the node routes (which check the cluster key)
        // and the answers for unknown routes need no API key.
        .route_layer(axum::middleware::from_fn_with_state(
            scheduler.clone(),
            auth::require_key,
        ))
        .route("/v1/health", get(handlers::health))
        .merge(crate::console::routes())
        .route("/v1/node/arrivals", post(moves::arrive))
        .route("/v1/node/arrivals/{move}/refuse", post(moves::refuse))
        .route("/v1/node/messages", post(moves::messages))
        // After the routes: it is set on those already added.
        .method_not_allowed_fallback(handlers::method_not_allowed)
        .fallback(handlers::not_found)
        .layer(axum::Extension(uploads))
        .with_state(scheduler)
}
