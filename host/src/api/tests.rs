//! The route table over a real scheduler on an empty store, in process: how paths and
//! queries are decoded, and the JSON errors of requests no handler takes.

use std::collections::HashMap;

use axum::body::Body;
use http_body_util::BodyExt;
use hyper::service::Service;
use hyper::{Method, Request, StatusCode};
use hyper_util::service::TowerToHyperService;
use serde_json::Value;

use super::routes::router;
use crate::host_calls::HttpClient;
use crate::outbound::Destinations;
use crate::runtime::{Components, new_engine};
use crate::scheduler::{Scheduler, SchedulerConfig};
use crate::storage::redb::Store;

/// An id no invocation has.
const UNKNOWN_ID: &str = "01M8A4RJXMKV1SHMKVEN0033VN";

/// The API of a host with nothing deployed, its store in a temporary directory.
struct Api {
    service: TowerToHyperService<axum::Router>,
    /// The key every request is sent with (the `default` tenant's, at first).
    key: Option<String>,
    /// The admin key of the first start.
    admin: String,
    _dir: tempfile::TempDir,
}

impl Api {
    async fn new() -> Api {
        let dir = tempfile::tempdir().expect("tempdir");
        let store =
            std::sync::Arc::new(Store::open(&dir.path().join("reprise.redb")).expect("open store"));
        let first = crate::access::first_start(&*store, dir.path())
            .await
            .expect("first start")
            .expect("the keys of a first start");
        let read = |path: &std::path::Path| {
            std::fs::read_to_string(path)
                .expect("key file")
                .trim()
                .to_string()
        };
        let (key, admin) = (read(&first.tenant), read(&first.admin));
        let engine = new_engine(None).expect("engine");
        let components = Components::new(engine, None).expect("components");
        let scheduler = Scheduler::new(
            store,
            components,
            HttpClient::new(crate::outbound::EgressPolicy::default()),
            Destinations::new(HashMap::new()),
            SchedulerConfig::default(),
        );
        Api {
            service: TowerToHyperService::new(router(scheduler, super::Uploads::new(64))),
            key: Some(key),
            admin,
            _dir: dir,
        }
    }

    /// This API, sending `key` with every request (none: no `Authorization` header).
    fn with_key(mut self, key: Option<&str>) -> Api {
        self.key = key.map(str::to_string);
        self
    }

    /// The status and JSON body of `method path` with `body`.
    async fn send(&self, method: Method, path: &str, body: Vec<u8>) -> (StatusCode, Value) {
        let mut request = Request::builder().method(method).uri(path);
        if let Some(key) = &self.key {
            request = request.header(hyper::header::AUTHORIZATION, format!("Bearer {key}"));
        }
        let request = request.body(Body::from(body)).expect("request");
        let response = self.service.call(request).await.expect("infallible");
        let status = response.status();
        let bytes = response
            .into_body()
            .collect()
            .await
            .expect("body")
            .to_bytes();
        let body = serde_json::from_slice(&bytes)
            .unwrap_or_else(|e| panic!("{path}: the answer is not JSON ({e}): {bytes:?}"));
        (status, body)
    }

    async fn get(&self, path: &str) -> (StatusCode, Value) {
        self.send(Method::GET, path, Vec::new()).await
    }
}

/// Asserts an error answer: its status, code, and a message containing `message`.
fn assert_error(answer: &(StatusCode, Value), status: StatusCode, code: &str, message: &str) {
    let (got, body) = answer;
    assert_eq!(*got, status, "{body}");
    assert_eq!(body["error"]["code"], code, "{body}");
    let text = body["error"]["message"].as_str().unwrap_or_default();
    assert!(text.contains(message), "`{text}` lacks `{message}`");
}

#[tokio::test]
async fn a_plus_in_a_query_value_is_a_space_and_an_escaped_plus_a_plus() {
    let api = Api::new().await;
    let spaced = api.get("/v1/invocations?state=not+a+state").await;
    assert_error(
        &spaced,
        StatusCode::BAD_REQUEST,
        "invalid_state",
        "got `not a state`",
    );
    let plus = api.get("/v1/invocations?state=not%2Ba%2Bstate").await;
    assert_error(
        &plus,
        StatusCode::BAD_REQUEST,
        "invalid_state",
        "got `not+a+state`",
    );
    let parent = api.get("/v1/invocations?parent=a+b").await;
    assert_error(&parent, StatusCode::BAD_REQUEST, "invalid_id", "a b");
}

#[tokio::test]
async fn path_segments_are_percent_decoded_and_a_plus_stays_a_plus() {
    let api = Api::new().await;
    for (path, name) in [
        ("/v1/deployments/my%20app", "my app"),
        ("/v1/deployments/my+app", "my+app"),
        ("/v1/deployments/my%2Bapp", "my+app"),
        ("/v1/deployments/a%2Fb", "a/b"),
        ("/v1/deployments/caf%C3%A9", "café"),
    ] {
        let answer = api.get(path).await;
        let message = format!("no deployment named `{name}`");
        assert_error(
            &answer,
            StatusCode::NOT_FOUND,
            "unknown_deployment",
            &message,
        );
    }
    let invalid = api.get("/v1/deployments/%FF").await;
    assert_error(&invalid, StatusCode::BAD_REQUEST, "invalid_path", "UTF-8");
}

#[tokio::test]
async fn a_known_path_with_another_method_is_405_and_an_unknown_path_404() {
    let api = Api::new().await;
    let cases = [
        (Method::POST, "/v1/health"),
        (Method::DELETE, "/v1/deployments/app"),
        (Method::PUT, "/v1/invocations"),
        (Method::GET, "/v1/invocations/ID/cancel"),
        (Method::POST, "/metrics"),
    ];
    for (method, path) in cases {
        let answer = api.send(method.clone(), path, Vec::new()).await;
        let message = format!("{method} is not allowed on {path}");
        assert_error(
            &answer,
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
            &message,
        );
    }
    for path in [
        "/",
        "/v1",
        "/v2/health",
        "/v1/invocations/ID/nope",
        "/v1/deployments/a/b",
    ] {
        let answer = api.get(path).await;
        let message = format!("no route for {path}");
        assert_error(&answer, StatusCode::NOT_FOUND, "not_found", &message);
    }
}

#[tokio::test]
async fn wait_is_capped_when_huge_and_refused_when_not_a_duration() {
    let api = Api::new().await;
    // Past `Duration::MAX`: capped, not a panic (the id is unknown, so no wait).
    let huge = api
        .get(&format!("/v1/invocations/{UNKNOWN_ID}?wait=1e308"))
        .await;
    assert_error(
        &huge,
        StatusCode::NOT_FOUND,
        "unknown_invocation",
        UNKNOWN_ID,
    );
    for wait in ["-1", "abc", "inf", "NaN", ""] {
        let path = format!("/v1/invocations/{UNKNOWN_ID}?wait={wait}");
        let message = format!("`wait` must be a number of seconds, got `{wait}`");
        let answer = api.get(&path).await;
        assert_error(&answer, StatusCode::BAD_REQUEST, "invalid_wait", &message);
    }
}

#[tokio::test]
async fn bad_query_values_name_the_parameter() {
    let api = Api::new().await;
    let invoke = api
        .send(Method::POST, "/v1/invocations?wait=soon", b"{}".to_vec())
        .await;
    assert_error(&invoke, StatusCode::BAD_REQUEST, "invalid_wait", "`wait`");
    for limit in ["0", "-3", "many"] {
        let answer = api.get(&format!("/v1/invocations?limit={limit}")).await;
        let message = format!("`limit` must be a positive number, got `{limit}`");
        assert_error(&answer, StatusCode::BAD_REQUEST, "invalid_limit", &message);
    }
    let id = api.get("/v1/invocations/not-an-id/journal").await;
    assert_error(&id, StatusCode::BAD_REQUEST, "invalid_id", "not-an-id");
}

#[tokio::test]
async fn a_body_over_the_limit_is_413_with_the_json_error() {
    let api = Api::new().await;
    let body = vec![b' '; super::body::MAX_JSON_BYTES + 1];
    let answer = api.send(Method::POST, "/v1/invocations", body).await;
    assert_error(
        &answer,
        StatusCode::PAYLOAD_TOO_LARGE,
        "body_too_large",
        "larger than",
    );
}

#[tokio::test]
async fn every_route_but_health_needs_a_valid_key_and_admin_routes_the_admin_key() {
    let api = Api::new().await;
    let (admin, tenant_key) = (api.admin.clone(), api.key.clone().expect("key"));
    let api = api.with_key(None);
    assert_eq!(api.get("/v1/health").await.0, StatusCode::OK);
    for path in [
        "/v1/invocations",
        "/v1/deployments",
        "/v1/stats",
        "/metrics",
        "/v1/keys",
        "/v1/tenants/default/egress",
        "/v1/deployments/any/egress",
    ] {
        assert_error(
            &api.get(path).await,
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "needs an API key",
        );
    }
    let api = api.with_key(Some(
        "rpk_0000000000000000000000000000000000000000000000000000",
    ));
    assert_error(
        &api.get("/v1/invocations").await,
        StatusCode::UNAUTHORIZED,
        "unauthorized",
        "not valid",
    );
    let api = api.with_key(Some("not-a-key"));
    assert_error(
        &api.get("/v1/invocations").await,
        StatusCode::UNAUTHORIZED,
        "unauthorized",
        "Bearer KEY",
    );

    // A tenant's key: its own routes, not the admin's.
    let api = api.with_key(Some(&tenant_key));
    assert_eq!(api.get("/v1/invocations").await.0, StatusCode::OK);
    for path in [
        "/metrics",
        "/v1/keys",
        "/v1/tenants",
        "/v1/tenants/default/egress",
    ] {
        assert_error(
            &api.get(path).await,
            StatusCode::FORBIDDEN,
            "forbidden",
            "admin key",
        );
    }
    // The admin's key: the admin routes, not a tenant's.
    let api = api.with_key(Some(&admin));
    assert_error(
        &api.get("/v1/invocations").await,
        StatusCode::FORBIDDEN,
        "forbidden",
        "tenant's key",
    );
    let (status, made) = api
        .send(Method::POST, "/v1/tenants", br#"{"name":"acme"}"#.to_vec())
        .await;
    assert_eq!(status, StatusCode::CREATED, "{made}");
    let acme = made["key"].as_str().expect("key").to_string();
    assert_eq!(made["tenant"], "acme");
    assert_error(
        &api.send(Method::POST, "/v1/tenants", br#"{"name":"acme"}"#.to_vec())
            .await,
        StatusCode::CONFLICT,
        "tenant_exists",
        "acme",
    );
    assert_error(
        &api.send(Method::POST, "/v1/tenants", br#"{"name":"a/b"}"#.to_vec())
            .await,
        StatusCode::BAD_REQUEST,
        "invalid_name",
        "a/b",
    );
    assert_error(
        &api.send(Method::POST, "/v1/keys", br#"{"tenant":"nobody"}"#.to_vec())
            .await,
        StatusCode::NOT_FOUND,
        "unknown_tenant_or_key",
        "nobody",
    );
    let (_, keys) = api.get("/v1/keys").await;
    let listed = keys["keys"].as_array().expect("keys");
    assert_eq!(listed.len(), 3, "{keys}");
    assert!(
        !keys.to_string().contains(&acme),
        "a listing never shows a key"
    );

    // Revoked: refused from the next request on, and named.
    let api = api.with_key(Some(&acme));
    assert_eq!(api.get("/v1/invocations").await.0, StatusCode::OK);
    let id = made["id"].as_str().expect("id").to_string();
    let api = api.with_key(Some(&admin));
    let (status, revoked) = api
        .send(Method::POST, &format!("/v1/keys/{id}/revoke"), Vec::new())
        .await;
    assert_eq!(status, StatusCode::OK, "{revoked}");
    assert!(revoked["revoked_at"].is_string(), "{revoked}");
    assert_error(
        &api.send(Method::POST, &format!("/v1/keys/{id}/revoke"), Vec::new())
            .await,
        StatusCode::NOT_FOUND,
        "unknown_tenant_or_key",
        &id,
    );
    let api = api.with_key(Some(&acme));
    assert_error(
        &api.get("/v1/invocations").await,
        StatusCode::UNAUTHORIZED,
        "unauthorized",
        "revoked",
    );
}

/// Arbitrary paths, queries and bodies get an answer with a JSON body and a status below 500,
/// never a panic. `PROPTEST_CASES=100000 cargo test -p reprise --lib arbitrary` runs longer.
#[test]
fn arbitrary_requests_get_a_json_answer_never_a_panic_or_a_500() {
    use proptest::prelude::*;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let api = runtime.block_on(Api::new());
    let segment = "([a-zA-Z0-9+._~!$&'()*,;=:@-]|%[0-9a-fA-F]{2}|%[89a-fA-F][0-9a-fA-F]){0,20}";
    let paths = prop_oneof![
        segment.prop_map(|s| format!("/v1/invocations/{s}")),
        segment.prop_map(|s| format!("/v1/invocations/{s}/journal")),
        (segment, segment).prop_map(|(a, b)| format!("/v1/invocations/{a}/signals/{b}")),
        segment.prop_map(|s| format!("/v1/deployments/{s}")),
        segment.prop_map(|s| format!("/v1/invocations?{s}")),
        (segment, segment).prop_map(|(k, v)| format!("/v1/invocations?{k}={v}&wait={v}&limit={v}")),
        segment.prop_map(|s| format!("/{s}")),
    ];
    let methods = prop_oneof![
        Just(Method::GET),
        Just(Method::POST),
        Just(Method::PUT),
        Just(Method::DELETE)
    ];
    let bodies = proptest::collection::vec(any::<u8>(), 0..128);
    proptest!(|(method in methods, path in paths, body in bodies)| {
        // A path that is not a valid URI is the client library's to refuse.
        prop_assume!(path.parse::<hyper::Uri>().is_ok());
        let (status, _json) = runtime.block_on(api.send(method, &path, body));
        prop_assert!(status.as_u16() < 500, "{path}: {status}");
    });
}

#[test]
fn arbitrary_text_never_panics_the_parsers_of_ids_ranges_and_names() {
    use proptest::prelude::*;
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open(&dir.path().join("reprise.redb")).expect("open store");
    proptest!(|(text in ".{0,80}")| {
        let _ = text.parse::<crate::ids::InvocationId>();
        let _ = text.parse::<crate::outbound::Cidr>();
        let _ = text.parse::<crate::journal::AllowedHost>();
        let _ = crate::names::valid(&text);
        let _ = crate::target::Target::parse(&text);
        prop_assert!(crate::access::authenticate(&store, Some(text.as_bytes())).is_err());
    });
}

#[test]
fn a_journal_page_clips_long_summaries() {
    use crate::journal::{HttpError, Outcome, StepEntry, StepKind};
    let long = "x".repeat(100_000);
    let entry = StepEntry {
        kind: StepKind::Http,
        digest: [0; 16],
        summary: format!("GET http://api.test/{long}"),
        attempts: 1,
        recorded_at_ms: 0,
        outcome: Outcome::Http(Err(HttpError::InvalidRequest(long))),
    };
    let view = super::dto::StepView::new(3, &entry);
    for text in [&view.request, &view.outcome] {
        assert_eq!(
            text.chars().count(),
            super::dto::MAX_SUMMARY_CHARS + 1,
            "{}",
            &text[..40]
        );
        assert!(text.ends_with('…'));
    }
    assert!(view.request.starts_with("GET http://api.test/xxx"));
    let short = StepEntry {
        summary: "GET http://api.test/".into(),
        ..entry
    };
    assert_eq!(
        super::dto::StepView::new(3, &short).request,
        "GET http://api.test/"
    );
}
