//! Per-tenant quotas against a real host: each refusal names its quota and value, a run over
//! its run time is stopped while the tenant's other work goes on, and the defaults come back.

use std::time::Duration;

use hyper::{Method, StatusCode};
use reprise::api::dto::InvocationView;
use reprise::cli::client::ApiClient;
use reprise_tests::host::{Host, ask, guest};
use serde_json::{Value, json};

const WAIT: Duration = Duration::from_secs(60);

/// POST `body` to `path` as `client`: the status and the JSON answer.
async fn post(client: &ApiClient, path: &str, body: Value) -> (StatusCode, Value) {
    ask(client, Method::POST, path, body).await
}

/// Invokes `function` with `input` as `client` and waits for its end.
async fn run(client: &ApiClient, function: &str, input: Value) -> InvocationView {
    let body = json!({"function": function, "input": input});
    let (status, view) = post(client, "/v1/invocations?wait=60", body).await;
    assert_eq!(status, StatusCode::OK, "{view}");
    serde_json::from_value(view).expect("invocation")
}

/// The error message of a failed invocation.
fn failure(view: &InvocationView) -> String {
    assert_eq!(view.state, "failed", "{view:?}");
    let error = view.error.as_ref().expect("error");
    assert_eq!(error.kind, "quota", "{view:?}");
    error.message.clone()
}

#[tokio::test(flavor = "multi_thread")]
async fn each_quota_refuses_with_its_name_and_value_and_a_long_run_is_stopped() {
    let dir = tempfile::tempdir().expect("tempdir");
    let host = Host::start(dir.path());
    let (key, small) = host.create_tenant("small");
    let wasm = guest("reprise_test_guests");
    let wasm = wasm.to_str().expect("utf-8 path");
    // No rerun of spin: a run stopped by its run time fails at once.
    let policy = r#"{"functions": {"spin": {"rerun": {"max_attempts": 1}}}}"#;

    host.cli_ok(&["tenant", "set", "small", "component_bytes=1000"]);
    let refused = host.cli(&["--token", &key, "deploy", "tg", wasm, "--policy", policy]);
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        stderr.contains("over the tenant's quota `component_bytes` (1000 bytes per component)"),
        "{stderr}"
    );
    let shown = host.cli_ok(&["tenant", "show", "small"]);
    assert!(
        shown.contains("component_bytes") && shown.contains("set"),
        "{shown}"
    );
    host.cli_ok(&[
        "tenant",
        "set",
        "small",
        "component_bytes=default",
        "run_ms=1000",
        "journal_entries=5",
        "input_bytes=100",
        "output_bytes=50",
        "max_waiting=2",
        "max_running=1",
        "memory_bytes=16777216",
    ]);
    host.cli_ok(&["--token", &key, "deploy", "tg", wasm, "--policy", policy]);

    // Input and output sizes.
    let (status, body) = post(
        &small,
        "/v1/invocations",
        json!({"function": "tg.echo", "input": "x".repeat(200)}),
    )
    .await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{body}");
    assert_eq!(body["error"]["code"], "quota_exceeded");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("`input_bytes` (100 bytes of input)")
    );
    let view = run(&small, "tg.echo", json!("y".repeat(60))).await;
    assert!(
        failure(&view).contains("`output_bytes` (50 bytes of output)"),
        "{view:?}"
    );
    assert_eq!(
        run(&small, "tg.echo", json!("short")).await.output,
        Some(json!("short"))
    );

    // Memory: 32 MiB in a 16 MiB instance fails, naming the quota; 4 MiB is fine.
    let view = run(&small, "tg.hog", json!(32)).await;
    assert!(
        failure(&view).contains("`memory_bytes` (16777216 bytes of memory per instance)"),
        "{view:?}"
    );
    assert_eq!(run(&small, "tg.hog", json!(4)).await.state, "completed");

    // Journal entries: the sixth step stops the invocation, for good (a replay would repeat).
    let view = run(&small, "tg.random_steps", json!({"count": 10})).await;
    assert!(
        failure(&view).contains("`journal_entries` (5 entries per invocation)"),
        "{view:?}"
    );
    assert_eq!(view.attempts, 1, "not rerun: {view:?}");

    // Run time: a loop is stopped after its second of guest code, and, with max_running=1,
    // the tenant's next invocation runs once the loop's slot is free — not before, and not
    // never.
    let (status, spin) = post(
        &small,
        "/v1/invocations",
        json!({"function": "tg.spin", "input": u64::MAX}),
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{spin}");
    let spin_id = spin["id"].as_str().expect("id").to_string();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let echo = run(&small, "tg.echo", json!(1)).await;
    let stopped: InvocationView = small
        .get(&format!("/v1/invocations/{spin_id}?wait=60"))
        .await
        .expect("spin");
    let message = failure(&stopped);
    assert!(
        message.contains("`run_ms` (1000 ms of guest run time per run)"),
        "{message}"
    );
    assert_eq!(echo.output, Some(json!(1)));
    let (spin_end, echo_end) = (
        stopped.finished_at.clone().expect("finished"),
        echo.finished_at.clone().expect("finished"),
    );
    assert!(
        echo_end >= spin_end,
        "echo ran beside the loop: {echo_end} < {spin_end}"
    );

    // Waiting invocations: one suspended, and one whose caller waits for it (not durable
    // while it spins without a host call, yet counted): the third is refused with 429.
    let (status, view) = post(
        &small,
        "/v1/invocations",
        json!({"function": "tg.signals", "input": {"names": ["never"]}}),
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{view}");
    let spinning = {
        let small = host.client_as(Some(&key));
        tokio::spawn(async move {
            let body = json!({"function": "tg.spin", "input": u64::MAX});
            post(&small, "/v1/invocations?wait=30", body).await
        })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    let echo = json!({"function": "tg.echo", "input": 1});
    let (status, body) = post(&small, "/v1/invocations", echo.clone()).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("`max_waiting` (2 pending or suspended invocations)")
    );
    // Once the spin is stopped by its run time, its place is free again.
    let (status, body) = spinning.await.expect("spin");
    assert_eq!((status, &body["state"]), (StatusCode::OK, &json!("failed")));
    let (status, body) = post(&small, "/v1/invocations", echo).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    // The default tenant is not limited by another tenant's quotas.
    host.deploy("tg", "reprise_test_guests");
    let view = host.invoke("tg.echo", json!("y".repeat(60))).await;
    let done = host.finished(&view.id, WAIT).await;
    assert_eq!(done.state, "completed", "{done:?}");

    // /metrics counts each tenant's refusals and steps apart.
    let metrics = host.metrics().await;
    let value = |line: &str| -> u64 {
        metrics
            .lines()
            .find_map(|l| l.strip_prefix(line)?.trim().parse().ok())
            .unwrap_or(0)
    };
    assert!(
        value("reprise_tenant_quota_refusals_total{tenant=\"small\"}") >= 6,
        "{metrics}"
    );
    assert_eq!(
        value("reprise_tenant_quota_refusals_total{tenant=\"default\"}"),
        0
    );
    assert!(value("reprise_tenant_steps_live_total{tenant=\"small\"}") >= 5);

    // Bad quota requests name what is wrong.
    let refused = host.cli(&["tenant", "set", "small", "no_such=1"]);
    assert!(String::from_utf8_lossy(&refused.stderr).contains("no quota is called `no_such`"));
    let refused = host.cli(&["tenant", "set", "nobody", "run_ms=1"]);
    assert!(String::from_utf8_lossy(&refused.stderr).contains("no tenant named `nobody`"));
    let refused = host.cli(&["tenant", "set", "small", "run_ms=soon"]);
    assert!(String::from_utf8_lossy(&refused.stderr).contains("not a whole number"));
}

#[tokio::test(flavor = "multi_thread")]
async fn stored_bytes_refuses_new_data_and_lets_accepted_work_finish() {
    let dir = tempfile::tempdir().expect("tempdir");
    let host = Host::start(dir.path());
    let (key, full) = host.create_tenant("full");
    let wasm = guest("reprise_test_guests");
    let size = std::fs::metadata(&wasm).expect("wasm").len();
    let wasm = wasm.to_str().expect("utf-8 path");
    host.cli_ok(&["--token", &key, "deploy", "tg", wasm]);
    let stored = async || -> u64 {
        let (_, stats) = ask(&full, Method::GET, "/v1/stats", Value::Null).await;
        stats["stored_bytes"].as_u64().expect("stored_bytes")
    };
    assert_eq!(stored().await, size, "the component is counted");
    let (status, waiting) = post(
        &full,
        "/v1/invocations",
        json!({"function": "tg.signals", "input": {"names": ["go"]}}),
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{waiting}");
    let waiting = waiting["id"].as_str().expect("id").to_string();

    // Room for a few small invocations, not for a hundred steps.
    let quota = stored().await + 3_000;
    host.cli_ok(&["tenant", "set", "full", &format!("stored_bytes={quota}")]);
    let before = stored().await;
    assert_eq!(
        run(&full, "tg.echo", json!("hello")).await.output,
        Some(json!("hello"))
    );
    assert!(stored().await > before, "input and output are counted");
    let view = run(&full, "tg.random_steps", json!({"count": 100})).await;
    let message = failure(&view);
    assert!(
        message.contains(&format!(
            "over the tenant's quota `stored_bytes` ({quota} bytes stored)"
        )),
        "{message}"
    );
    assert!(stored().await <= quota, "a refused write stores nothing");

    // Now every new datum is refused, naming the quota, and nothing is stored.
    let at_quota = stored().await;
    let body = json!({"function": "tg.echo", "input": "x".repeat(3_000)});
    let (status, body) = post(&full, "/v1/invocations", body).await;
    assert_eq!(status, StatusCode::INSUFFICIENT_STORAGE, "{body}");
    assert_eq!(body["error"]["code"], "quota_exceeded");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("`stored_bytes`"),
        "{body}"
    );
    let path = format!("/v1/invocations/{waiting}/signals/go");
    let (status, body) = post(&full, &path, json!("y".repeat(4_000))).await;
    assert_eq!(status, StatusCode::INSUFFICIENT_STORAGE, "{body}");
    let refused = host.cli(&["--token", &key, "deploy", "tg2", wasm]);
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(stderr.contains("`stored_bytes`"), "{stderr}");
    assert_eq!(stored().await, at_quota, "refusals store nothing");
    let shown = host.cli_ok(&["tenant", "show", "full"]);
    assert!(shown.contains(&at_quota.to_string()), "{shown}");

    // Another tenant is not limited; raising the quota lets the waiting one finish.
    host.deploy("tg", "reprise_test_guests");
    let view = host.invoke("tg.echo", json!("x".repeat(3_000))).await;
    assert_eq!(host.finished(&view.id, WAIT).await.state, "completed");
    host.cli_ok(&["tenant", "set", "full", "stored_bytes=default"]);
    let (status, body) = post(&full, &path, json!(1)).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    let done: InvocationView = full
        .get(&format!("/v1/invocations/{waiting}?wait=60"))
        .await
        .expect("waiting");
    assert_eq!(done.state, "completed", "{done:?}");
}
