//! Tests of the mock CRM itself, over real HTTP on loopback.

use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{Method, Request, StatusCode};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use reprise_tests::mock_crm::{
    DEFAULT_TOKEN, Latency, MAX_BODY_BYTES, MockCrm, MockCrmConfig, STATS_PATH, StatsSummary,
    USERS_PATH, user_id_for,
};
use serde_json::{Value, json};

/// A response, with its body parsed as JSON.
struct Reply {
    status: StatusCode,
    body: Value,
}

/// Sends one request and reads the whole JSON response.
async fn send(method: Method, url: &str, headers: &[(&str, &str)], body: Vec<u8>) -> Reply {
    let client = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
    let mut request = Request::builder().method(method).uri(url);
    for &(name, value) in headers {
        request = request.header(name, value);
    }
    let request = request
        .body(Full::new(Bytes::from(body)))
        .expect("valid request");
    let response = client.request(request).await.expect("request sent");
    let status = response.status();
    let bytes = response
        .into_body()
        .collect()
        .await
        .expect("response body")
        .to_bytes();
    let body = serde_json::from_slice(&bytes).expect("JSON response body");
    Reply { status, body }
}

/// Posts a user to the mock with the default token and an optional idempotency key.
async fn post_user(crm: &MockCrm, key: Option<&str>, user: &Value) -> Reply {
    let auth = format!("Bearer {DEFAULT_TOKEN}");
    let mut headers = vec![
        ("authorization", auth.as_str()),
        ("content-type", "application/json"),
    ];
    if let Some(key) = key {
        headers.push(("idempotency-key", key));
    }
    send(
        Method::POST,
        &crm.users_url(),
        &headers,
        user.to_string().into_bytes(),
    )
    .await
}

/// A valid user body.
fn user(email: &str) -> Value {
    json!({ "FirstName": "Ada", "LastName": "Lovelace", "Email": email })
}

/// Starts a mock with the default configuration.
fn start() -> MockCrm {
    MockCrm::start(MockCrmConfig::default()).expect("mock CRM starts")
}

/// The `fields` of the first error in a Salesforce-style error array.
fn error_fields(body: &Value) -> Vec<String> {
    body[0]["fields"]
        .as_array()
        .map(|fields| {
            fields
                .iter()
                .filter_map(|f| f.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test]
async fn valid_post_is_created_with_deterministic_id() {
    let crm = start();
    assert!(crm.url().starts_with("http://127.0.0.1:"));
    let reply = post_user(&crm, Some("k1"), &user("ada@example.com")).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    let id = reply.body["id"]
        .as_str()
        .expect("id is a string")
        .to_owned();
    assert_eq!(id, user_id_for("ada@example.com"));
    assert_eq!(id.len(), 15);
    assert!(id.starts_with("005"));
    assert_eq!(reply.body["success"], json!(true));

    let stats = crm.stats();
    assert_eq!(stats.requests, 1);
    assert_eq!(stats.count("k1"), 1);
    assert_eq!(stats.users, 1);
    assert_eq!(
        stats.user_ids.get("ada@example.com").map(String::as_str),
        Some(id.as_str())
    );
    let record = &stats.records[0];
    assert_eq!(record.key, "k1");
    assert_eq!(record.email.as_deref(), Some("ada@example.com"));
    assert_eq!(record.status, Some(StatusCode::CREATED));
    assert!(record.responded.expect("responded") >= record.received);
    crm.shutdown().await;

    // A fresh mock (a "re-run") hands out the same id.
    let again = start();
    let reply = post_user(&again, Some("other"), &user("ada@example.com")).await;
    assert_eq!(reply.body["id"].as_str(), Some(id.as_str()));
}

#[tokio::test]
async fn missing_or_wrong_token_is_401() {
    let crm = start();
    let body = user("ada@example.com").to_string().into_bytes();
    let url = crm.users_url();

    let reply = send(
        Method::POST,
        &url,
        &[("idempotency-key", "a")],
        body.clone(),
    )
    .await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    assert_eq!(reply.body[0]["errorCode"], json!("INVALID_SESSION_ID"));

    let reply = send(
        Method::POST,
        &url,
        &[("authorization", "Bearer nope")],
        body.clone(),
    )
    .await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);

    let reply = send(
        Method::POST,
        &url,
        &[("authorization", DEFAULT_TOKEN)],
        body,
    )
    .await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);

    let stats = crm.stats();
    assert_eq!(stats.requests, 3, "rejected requests are still counted");
    assert_eq!(stats.users, 0);
    assert_eq!(stats.records[0].status, Some(StatusCode::UNAUTHORIZED));
}

#[tokio::test]
async fn custom_token_is_required() {
    let crm = MockCrm::start(MockCrmConfig {
        token: "s3cret".to_owned(),
        ..MockCrmConfig::default()
    })
    .expect("mock CRM starts");
    let reply = post_user(&crm, None, &user("ada@example.com")).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    let reply = send(
        Method::POST,
        &crm.users_url(),
        &[("authorization", "Bearer s3cret")],
        user("ada@example.com").to_string().into_bytes(),
    )
    .await;
    assert_eq!(reply.status, StatusCode::CREATED);
}

#[tokio::test]
async fn bad_body_is_400_naming_the_field() {
    let crm = start();

    let reply = post_user(&crm, None, &json!({ "FirstName": "Ada", "LastName": "L" })).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert_eq!(reply.body[0]["errorCode"], json!("REQUIRED_FIELD_MISSING"));
    assert_eq!(error_fields(&reply.body), ["Email"]);
    assert!(
        reply.body[0]["message"]
            .as_str()
            .is_some_and(|m| m.contains("Email"))
    );

    let reply = post_user(
        &crm,
        None,
        &json!({ "FirstName": "Ada", "LastName": 7, "Email": "ada@example.com" }),
    )
    .await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert_eq!(error_fields(&reply.body), ["LastName"]);

    let reply = post_user(&crm, None, &user("not-an-email")).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert_eq!(error_fields(&reply.body), ["Email"]);

    let reply = post_user(&crm, None, &json!({})).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        error_fields(&reply.body),
        ["FirstName", "LastName", "Email"]
    );

    let reply = post_user(&crm, None, &json!(["not", "an", "object"])).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert_eq!(reply.body[0]["errorCode"], json!("JSON_PARSER_ERROR"));

    let auth = format!("Bearer {DEFAULT_TOKEN}");
    let reply = send(
        Method::POST,
        &crm.users_url(),
        &[("authorization", &auth)],
        b"{not json".to_vec(),
    )
    .await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert_eq!(reply.body[0]["errorCode"], json!("JSON_PARSER_ERROR"));

    let stats = crm.stats();
    assert_eq!(stats.requests, 6);
    assert_eq!(stats.unkeyed_requests(), 6);
    assert_eq!(stats.users, 0);
}

#[tokio::test]
async fn oversized_body_is_413() {
    let crm = start();
    let auth = format!("Bearer {DEFAULT_TOKEN}");
    let reply = send(
        Method::POST,
        &crm.users_url(),
        &[("authorization", &auth)],
        vec![b' '; MAX_BODY_BYTES + 1],
    )
    .await;
    assert_eq!(reply.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(crm.stats().users, 0);
}

#[tokio::test]
async fn duplicate_idempotency_key_is_counted_twice_with_the_same_id() {
    let crm = start();
    let first = post_user(&crm, Some("dup"), &user("grace@example.com")).await;
    let second = post_user(&crm, Some("dup"), &user("grace@example.com")).await;
    assert_eq!(first.status, StatusCode::CREATED);
    assert_eq!(second.status, StatusCode::CREATED);
    assert_eq!(first.body["id"], second.body["id"]);
    post_user(&crm, Some("single"), &user("alan@example.com")).await;
    post_user(&crm, None, &user("edsger@example.com")).await;

    let stats = crm.stats();
    assert_eq!(stats.requests, 4);
    assert_eq!(stats.count("dup"), 2);
    assert_eq!(stats.count("single"), 1);
    assert_eq!(
        stats.count(""),
        1,
        "requests without a key count under \"\""
    );
    assert_eq!(stats.received["dup"].len(), 2);
    assert!(stats.received["dup"][0] <= stats.received["dup"][1]);
    assert_eq!(stats.distinct_keys(), 2);
    assert_eq!(stats.duplicate_keys(), 1);
    assert_eq!(stats.duplicate_requests(), 1);
    assert_eq!(stats.users, 3);
}

#[tokio::test]
async fn key_reused_for_another_user_is_422() {
    let crm = start();
    let first = post_user(&crm, Some("k"), &user("grace@example.com")).await;
    assert_eq!(first.status, StatusCode::CREATED);
    let other = post_user(&crm, Some("k"), &user("alan@example.com")).await;
    assert_eq!(other.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        other.body[0]["errorCode"],
        json!("IDEMPOTENCY_KEY_CONFLICT")
    );
    let stats = crm.stats();
    assert_eq!(stats.count("k"), 2);
    assert_eq!(stats.users, 1);
}

#[tokio::test]
async fn stats_endpoint_reports_the_counters() {
    let crm = start();
    post_user(&crm, Some("a"), &user("a@example.com")).await;
    post_user(&crm, Some("a"), &user("a@example.com")).await;
    post_user(&crm, Some("b"), &user("b@example.com")).await;
    post_user(&crm, None, &json!({})).await;

    let reply = send(
        Method::GET,
        &format!("{}{STATS_PATH}", crm.url()),
        &[],
        Vec::new(),
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK);
    for field in [
        "requests",
        "distinct_keys",
        "duplicate_keys",
        "users",
        "max_concurrency",
    ] {
        assert!(
            reply.body[field].is_u64(),
            "{field} missing in {}",
            reply.body
        );
    }
    let summary: StatsSummary = serde_json::from_value(reply.body).expect("a StatsSummary");
    assert_eq!(
        summary,
        StatsSummary {
            requests: 4,
            distinct_keys: 2,
            duplicate_keys: 1,
            duplicate_requests: 1,
            unkeyed_requests: 1,
            users: 2,
            in_flight: 0,
            max_concurrency: 1,
            throttled: 0,
            unavailable: 0,
        }
    );
    assert_eq!(summary, crm.stats().summary());
    assert_eq!(crm.stats().requests, 4, "GET /stats is not counted");
}

#[tokio::test]
async fn other_routes_and_methods() {
    let crm = start();
    let reply = send(Method::GET, &format!("{}/nope", crm.url()), &[], Vec::new()).await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
    let reply = send(Method::GET, &crm.users_url(), &[], Vec::new()).await;
    assert_eq!(reply.status, StatusCode::METHOD_NOT_ALLOWED);
    let reply = send(
        Method::POST,
        &format!("{}{STATS_PATH}", crm.url()),
        &[],
        Vec::new(),
    )
    .await;
    assert_eq!(reply.status, StatusCode::METHOD_NOT_ALLOWED);
    assert!(USERS_PATH.starts_with("/services/data/v52.0/"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn latency_delays_requests_and_concurrency_is_tracked() {
    let crm = MockCrm::start(MockCrmConfig {
        latency: Latency::uniform_ms(20, 30),
        ..MockCrmConfig::default()
    })
    .expect("mock CRM starts");
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..8 {
        let url = crm.users_url();
        tasks.spawn(async move {
            let auth = format!("Bearer {DEFAULT_TOKEN}");
            let key = format!("key-{i}");
            let body = user(&format!("u{i}@example.com")).to_string().into_bytes();
            send(
                Method::POST,
                &url,
                &[("authorization", &auth), ("idempotency-key", &key)],
                body,
            )
            .await
            .status
        });
    }
    while let Some(status) = tasks.join_next().await {
        assert_eq!(status.expect("task"), StatusCode::CREATED);
    }

    let stats = crm.stats();
    assert_eq!(stats.requests, 8);
    assert_eq!(stats.users, 8);
    assert_eq!(stats.in_flight, 0);
    assert!(
        stats.max_concurrency >= 2,
        "8 concurrent 20ms requests overlapped: {}",
        stats.max_concurrency
    );
    for record in &stats.records {
        let took = record.responded.expect("responded") - record.received;
        assert!(took >= Duration::from_millis(20), "{took:?}");
    }
}

#[tokio::test]
async fn shutdown_stops_listening() {
    let crm = start();
    let addr = crm.addr();
    tokio::net::TcpStream::connect(addr)
        .await
        .expect("connects while running");
    crm.shutdown().await;
    assert!(tokio::net::TcpStream::connect(addr).await.is_err());
}

#[test]
fn start_outside_a_runtime_is_an_error() {
    assert!(MockCrm::start(MockCrmConfig::default()).is_err());
}

#[test]
fn latency_parsing_and_sampling() {
    assert_eq!(Latency::parse_ms("0"), Ok(Latency::fixed_ms(0)));
    assert_eq!(Latency::parse_ms("15"), Ok(Latency::fixed_ms(15)));
    assert_eq!(Latency::parse_ms("5..20"), Ok(Latency::uniform_ms(5, 20)));
    assert_eq!(
        Latency::parse_ms(" 5..=20 "),
        Ok(Latency::uniform_ms(5, 20))
    );
    assert!(Latency::parse_ms("20..5").is_err());
    assert!(Latency::parse_ms("fast").is_err());
    assert_eq!(Latency::None.sample(), Duration::ZERO);
    for _ in 0..100 {
        let d = Latency::uniform_ms(5, 20).sample();
        assert!((Duration::from_millis(5)..=Duration::from_millis(20)).contains(&d));
    }
}
