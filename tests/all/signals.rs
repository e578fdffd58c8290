//! Signals: kept when sent before the wait, received in order, refused with clear errors;
//! the approval example races a signal against a timeout.

use std::time::Duration;

use reprise_tests::host::Host;
use reprise_tests::probe::Probe;
use serde_json::json;

const WAIT: Duration = Duration::from_secs(60);

#[tokio::test(flavor = "multi_thread")]
async fn signals_sent_before_and_after_the_wait_are_received_in_order() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut host = Host::start(dir.path());
    host.deploy("tg", "reprise_test_guests");
    let view = host
        .invoke("tg.signals", json!({"names": ["b", "a", "a"]}))
        .await;
    // Two `a`s arrive before the function waits for any `a`.
    host.signal(&view.id, "a", json!({"first": true})).await;
    host.cli_ok(&["signal", &view.id, "a", "--data", "2"]);
    let suspended = host.until(&view.id, "suspended", WAIT).await;
    let waiting = suspended.waiting.expect("waiting");
    assert_eq!(waiting.signals, ["b"]);
    assert_eq!(waiting.summary, "signal b");

    // It survives a restart while it waits.
    host.kill();
    host.restart();
    host.signal(&view.id, "b", json!("bee")).await;
    let done = host.finished(&view.id, WAIT).await;
    assert_eq!(done.state, "completed", "{:?}", done.error);
    assert_eq!(done.output, Some(json!(["bee", {"first": true}, 2])));
    assert_eq!(done.attempts, 2, "suspended on b once, and woken once");

    // Refusals name what is wrong.
    let late = host.cli(&["signal", &view.id, "a"]);
    assert!(!late.status.success());
    let stderr = String::from_utf8_lossy(&late.stderr);
    assert!(
        stderr.contains("has finished already (completed)"),
        "{stderr}"
    );
    let bad = host.cli(&["signal", &view.id, "no spaces", "--data", "1"]);
    assert!(String::from_utf8_lossy(&bad.stderr).contains("signal name `no spaces` is invalid"));
    let bad = host.cli(&["signal", &view.id, "a", "--data", "{nope"]);
    assert!(String::from_utf8_lossy(&bad.stderr).contains("--data is not valid JSON"));
    let unknown = host.cli(&["signal", "00000000000000000000000000", "a"]);
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("no invocation"));
}

#[tokio::test(flavor = "multi_thread")]
async fn the_approval_example_takes_the_decision_or_times_out() {
    let dir = tempfile::tempdir().expect("tempdir");
    let probe = Probe::start().await;
    let host = Host::start(dir.path());
    host.deploy("approval", "approval");
    let input = |timeout: u64| {
        json!({"subject": "refund 1234", "notify_url": format!("{}/notify", probe.url()),
               "timeout_seconds": timeout})
    };
    let decided = host.invoke("approval", input(3600)).await;
    let ignored = host.invoke("approval", input(2)).await;

    let waiting = host.until(&decided.id, "suspended", WAIT).await;
    let summary = waiting.waiting.expect("waiting").summary;
    assert!(
        summary.starts_with("race: signal decision, timer due"),
        "{summary}"
    );
    let notified = probe.wait_for("/notify", 2, WAIT).await;
    assert!(
        notified
            .iter()
            .any(|n| String::from_utf8_lossy(&n.body).contains(&decided.id)),
        "the request names the invocation to answer"
    );
    host.cli_ok(&[
        "signal",
        &decided.id,
        "decision",
        "--data",
        r#"{"approved": true, "by": "ada"}"#,
    ]);

    let decided = host.finished(&decided.id, WAIT).await;
    assert_eq!(
        decided.output,
        Some(json!({"status": "approved", "by": "ada"}))
    );
    let ignored = host.finished(&ignored.id, WAIT).await;
    assert_eq!(
        ignored.output,
        Some(json!({"status": "timed_out", "by": null}))
    );
}
