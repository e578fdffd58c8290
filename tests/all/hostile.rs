//! Hostile guests, each stopped with a clear error in its own status while every other
//! invocation goes on and the host keeps serving.

use std::time::{Duration, Instant};

use hyper::{Method, StatusCode};
use reprise::api::dto::InvocationView;
use reprise_tests::host::{Host, ask};
use serde_json::{Value, json};

const WAIT: Duration = Duration::from_secs(120);

#[tokio::test(flavor = "multi_thread")]
async fn hostile_guests_fail_alone_and_a_flood_of_loops_leaves_room_for_others() {
    let dir = tempfile::tempdir().expect("tempdir");
    let host = Host::start_with(dir.path(), &["--max-running", "16"]);
    host.deploy("tg", "reprise_test_guests");
    let (key, evil) = host.create_tenant("evil");
    let policy = r#"{"rerun": {"max_attempts": 1}}"#;
    host.deploy_as(&key, "tg", "reprise_test_guests", Some(policy));
    host.cli_ok(&[
        "tenant",
        "set",
        "evil",
        "run_ms=300",
        "journal_entries=1000",
    ]);

    // 32 infinite loops for 16 slots.
    let mut loops = Vec::new();
    for _ in 0..32 {
        let body = json!({"function": "tg.spin", "input": u64::MAX});
        let (status, view) = ask(&evil, Method::POST, "/v1/invocations", body).await;
        assert_eq!(status, StatusCode::ACCEPTED);
        loops.push(view["id"].as_str().expect("id").to_string());
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    // Meanwhile another tenant's work starts at once and completes.
    let started = Instant::now();
    let view = host.invoke("tg.echo", json!("still here")).await;
    let done = host.finished(&view.id, WAIT).await;
    assert_eq!(done.output, Some(json!("still here")));
    assert!(
        started.elapsed() < Duration::from_millis(1500),
        "the echo waited {:?} behind the loops",
        started.elapsed()
    );

    // Each loop is stopped by its run time, in its own status.
    for id in &loops {
        let stopped: InvocationView = evil
            .get(&format!("/v1/invocations/{id}?wait=120"))
            .await
            .expect("loop");
        assert_eq!(stopped.state, "failed", "{stopped:?}");
        let error = stopped.error.expect("error");
        assert_eq!(error.kind, "quota");
        assert!(
            error.message.contains("`run_ms` (300 ms"),
            "{}",
            error.message
        );
    }

    // Unbounded recursion: a stack overflow fails that invocation only.
    let view = host.invoke("tg.recurse", json!(u64::MAX)).await;
    let done = host.finished(&view.id, WAIT).await;
    assert_eq!(done.state, "failed", "{done:?}");
    assert!(
        done.error.expect("error").message.contains("stack"),
        "a stack overflow"
    );

    // A 16 MiB output: over the default 4 MiB quota.
    let view = host.invoke("tg.big_output", json!(16)).await;
    let done = host.finished(&view.id, WAIT).await;
    let error = done.error.expect("error");
    assert_eq!(error.kind, "quota", "{error:?}");
    assert!(
        error
            .message
            .contains("`output_bytes` (4194304 bytes of output)")
    );

    // A host-call flood: stopped at the journal quota — not by run_ms, which counts guest
    // code, not the time its host calls take.
    let body = json!({"function": "tg.random_steps", "input": {"count": 100000}});
    let (status, flood) = ask(&evil, Method::POST, "/v1/invocations?wait=120", body).await;
    assert_eq!(status, StatusCode::OK);
    let flood: InvocationView = serde_json::from_value(flood).expect("invocation");
    let error = flood.error.expect("error");
    assert!(
        error.message.contains("`journal_entries` (1000 entries"),
        "{}",
        error.message
    );
    let journal = host
        .client_as(Some(&key))
        .get::<Value>(&format!("/v1/invocations/{}/journal", flood.id))
        .await
        .expect("journal");
    assert_eq!(journal["steps"].as_array().map(Vec::len), Some(1000));

    // The host still serves.
    let view = host.invoke("tg.echo", json!(1)).await;
    assert_eq!(host.finished(&view.id, WAIT).await.output, Some(json!(1)));
}

#[tokio::test(flavor = "multi_thread")]
async fn memory_hogs_together_stay_within_the_host_budget_and_finish_by_rerunning() {
    let dir = tempfile::tempdir().expect("tempdir");
    let host = Host::start_with(dir.path(), &["--memory-budget-mb", "96"]);
    let policy = r#"{"rerun": {"max_attempts": 30, "initial_delay_ms": 200, "max_delay_ms": 500}}"#;
    let out = host.deploy_with_policy("tg", "reprise_test_guests", policy);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Eight guests each holding 32 MiB for half a second: at most two fit at once.
    let mut hogs = Vec::new();
    for _ in 0..8 {
        hogs.push(
            host.invoke("tg.hold", json!({"mib": 32, "millis": 500}))
                .await,
        );
    }
    let mut rerun = 0;
    for hog in hogs {
        let done = host.finished(&hog.id, WAIT).await;
        assert_eq!(done.state, "completed", "{done:?}");
        if done.attempts > 1 {
            rerun += 1;
        }
    }
    assert!(rerun > 0, "some hogs were refused memory and ran again");
    let metrics = host.metrics().await;
    assert!(
        metrics.contains("reprise_invocations"),
        "the host still serves"
    );
}
