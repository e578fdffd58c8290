//! Functions in Python (componentize-py, `guest-sdk-python`) and JavaScript (componentize-js,
//! `guest-sdk-js`): each language's own clocks and randomness replay identically across a
//! SIGKILL and are fresh per invocation; durable sleeps, children, signals and errors work as
//! they do in Rust; JavaScript's `fetch` is journaled.

use std::time::Duration;

use reprise_tests::host::Host;
use reprise_tests::probe::Probe;
use serde_json::{Value, json};

const WAIT: Duration = Duration::from_secs(60);

#[tokio::test(flavor = "multi_thread")]
async fn python_time_random_and_uuid4_replay_identically_and_are_fresh_per_invocation() {
    entropy_replays_and_is_fresh("py_guests", &["time", "random", "randint", "uuid"]).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn js_date_now_math_random_and_get_random_values_replay_identically_and_are_fresh() {
    entropy_replays_and_is_fresh("js_guests", &["now", "random", "bytes"]).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn sleeps_children_signals_and_errors_work_in_python() {
    waits_and_errors_work("py_guests", "KeyError").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn sleeps_children_signals_and_errors_work_in_js() {
    waits_and_errors_work("js_guests", "TypeError").await;
}

/// `component`'s `entropy` reads the language's clock and randomness (`fields` of its output)
/// and posts them: the post in flight at a SIGKILL is sent again with the same values, and
/// another invocation reads other values.
async fn entropy_replays_and_is_fresh(component: &str, fields: &[&str]) {
    let dir = tempfile::tempdir().expect("tempdir");
    let probe = Probe::start().await;
    let mut host = Host::start(dir.path());
    host.deploy("lang", component);

    let started = host
        .invoke(
            "lang.entropy",
            json!({"url": format!("{}/hold/entropy", probe.url())}),
        )
        .await;
    let before = probe.wait_for("/hold/entropy", 1, WAIT).await;
    host.kill();
    host.restart();
    let after = probe.wait_for("/hold/entropy", 2, WAIT).await;
    probe.open_gate();
    let done = host.finished(&started.id, WAIT).await;
    assert_eq!(done.state, "completed", "{done:?}");

    // The request in flight at the kill is sent again by the replay, with the same values.
    let sent: Value = serde_json::from_slice(&before[0].body).expect("JSON body");
    let resent: Value = serde_json::from_slice(&after[1].body).expect("JSON body");
    assert_eq!(sent, resent, "the replay read other values");
    assert_eq!(before[0].key, after[1].key, "the same Idempotency-Key");
    assert_eq!(
        done.output.as_ref(),
        Some(&sent),
        "the output is what was sent"
    );
    for field in fields {
        assert!(!sent[field].is_null(), "{field} missing: {sent}");
    }

    // Another invocation reads other values.
    let other = host
        .invoke(
            "lang.entropy",
            json!({"url": format!("{}/other", probe.url())}),
        )
        .await;
    let other = host.finished(&other.id, WAIT).await;
    let other = other.output.expect("output");
    for field in fields {
        if *field != "time" && *field != "now" {
            assert_ne!(other[field], sent[field], "{field} repeated");
        }
    }
}

/// `component`'s durable sleep, children, signals and errors; its `crash` (a bug) fails with a
/// message naming `bug`.
async fn waits_and_errors_work(component: &str, bug: &str) {
    let dir = tempfile::tempdir().expect("tempdir");
    let host = Host::start(dir.path());
    host.deploy("lang", component);

    let nap = host.invoke("lang.nap", json!({"seconds": 1.5})).await;
    let fan = host.invoke("lang.fan_out", json!(5)).await;
    let waiting = host
        .invoke("lang.wait_signal", json!({"name": "go", "timeout": 60}))
        .await;
    let timeout = host
        .invoke("lang.wait_signal", json!({"name": "never", "timeout": 1}))
        .await;
    host.cli_ok(&["signal", &waiting.id, "go", "--data", r#"{"n": 7}"#]);

    let nap = host.finished(&nap.id, WAIT).await;
    let slept = nap.output.as_ref().and_then(|o| o["slept"].as_f64());
    assert!(slept.is_some_and(|s| s >= 1.5), "{nap:?}");
    let fan = host.finished(&fan.id, WAIT).await;
    assert_eq!(fan.output, Some(json!([0, 1, 4, 9, 16])), "{fan:?}");
    let waiting = host.finished(&waiting.id, WAIT).await;
    assert_eq!(
        waiting.output,
        Some(json!({"got": {"n": 7}})),
        "{waiting:?}"
    );
    let timeout = host.finished(&timeout.id, WAIT).await;
    assert_eq!(timeout.output, Some(json!({"got": null})), "{timeout:?}");

    let failed = host.invoke("lang.fail", json!({})).await;
    let failed = host.finished(&failed.id, WAIT).await;
    assert_eq!(failed.state, "failed");
    let error = failed.error.expect("error");
    assert_eq!(error.message, "no such user");
    let crashed = host.invoke("lang.crash", json!({})).await;
    let crashed = host.finished(&crashed.id, WAIT).await;
    let error = crashed.error.expect("error");
    assert!(
        error.message.contains(bug) && error.message.contains("missing"),
        "the message names the bug: {}",
        error.message
    );
}

/// JavaScript's `fetch` goes through the journaled wasi:http path: the request in flight at a
/// SIGKILL is sent again under its Idempotency-Key, a request whose response was journaled is
/// never sent again, and the async function's result is its output.
#[tokio::test(flavor = "multi_thread")]
async fn js_fetch_is_journaled_and_replayed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let probe = Probe::start().await;
    let mut host = Host::start(dir.path());
    host.deploy("lang", "js_guests");

    let started = host
        .invoke(
            "lang.fetch_twice",
            json!({"url": format!("{}/hold/fetch", probe.url())}),
        )
        .await;
    let before = probe.wait_for("/hold/fetch/1", 1, WAIT).await;
    host.kill();
    host.restart();
    let after = probe.wait_for("/hold/fetch/1", 2, WAIT).await;
    probe.open_gate();
    let done = host.finished(&started.id, WAIT).await;
    assert_eq!(done.state, "completed", "{done:?}");
    assert_eq!(before[0].key, after[1].key, "the same Idempotency-Key");
    assert!(
        !before[0].key.is_empty(),
        "fetch carries an Idempotency-Key"
    );
    assert_eq!(after[1].body, br#"{"n":1}"#);

    let seen = probe.seen();
    let count = |path: &str| seen.iter().filter(|s| s.path == path).count();
    assert_eq!(count("/hold/fetch/1"), 2, "sent, then again after the kill");
    assert_eq!(count("/hold/fetch/2"), 1, "sent once: {seen:?}");
    let output = done.output.expect("output");
    assert_eq!(output.as_array().map(Vec::len), Some(2), "{output}");
    assert_eq!(output[0]["status"], 200, "{output}");
    assert_eq!(output[1]["status"], 200, "{output}");
}
