//! Python functions (componentize-py and `guest-sdk-python`): Python's own clocks and
//! randomness replay identically across a SIGKILL and are fresh per invocation; durable
//! sleeps, children, signals and errors work as they do in Rust.

use std::time::Duration;

use reprise_tests::host::Host;
use reprise_tests::probe::Probe;
use serde_json::{Value, json};

const WAIT: Duration = Duration::from_secs(60);

#[tokio::test(flavor = "multi_thread")]
async fn time_random_and_uuid4_replay_identically_and_are_fresh_per_invocation() {
    let dir = tempfile::tempdir().expect("tempdir");
    let probe = Probe::start().await;
    let mut host = Host::start(dir.path());
    host.deploy("py", "py_guests");

    let started = host
        .invoke(
            "py.entropy",
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
    assert_eq!(
        done.output.as_ref(),
        Some(&sent),
        "the output is what was sent"
    );
    for field in ["time", "random", "randint", "uuid"] {
        assert!(!sent[field].is_null(), "{field} missing: {sent}");
    }

    // Another invocation reads other values.
    let other = host
        .invoke(
            "py.entropy",
            json!({"url": format!("{}/other", probe.url())}),
        )
        .await;
    let other = host.finished(&other.id, WAIT).await;
    let other = other.output.expect("output");
    assert_ne!(other["uuid"], sent["uuid"]);
    assert_ne!(other["random"], sent["random"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn sleeps_children_signals_and_errors_work_in_python() {
    let dir = tempfile::tempdir().expect("tempdir");
    let host = Host::start(dir.path());
    host.deploy("py", "py_guests");

    let nap = host.invoke("py.nap", json!({"seconds": 1.5})).await;
    let fan = host.invoke("py.fan_out", json!(5)).await;
    let waiting = host
        .invoke("py.wait_signal", json!({"name": "go", "timeout": 60}))
        .await;
    let timeout = host
        .invoke("py.wait_signal", json!({"name": "never", "timeout": 1}))
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

    let failed = host.invoke("py.fail", json!({})).await;
    let failed = host.finished(&failed.id, WAIT).await;
    assert_eq!(failed.state, "failed");
    let error = failed.error.expect("error");
    assert_eq!(error.message, "no such user");
    let crashed = host.invoke("py.crash", json!({})).await;
    let crashed = host.finished(&crashed.id, WAIT).await;
    let error = crashed.error.expect("error");
    assert!(
        error.message.contains("KeyError") && error.message.contains("missing"),
        "the traceback names the bug: {}",
        error.message
    );
}
