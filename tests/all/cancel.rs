//! Cancellation: of a suspended parent and its attached children (detached ones go on), of a
//! running invocation (it takes no further step), and refusals.

use std::time::Duration;

use reprise_tests::host::Host;
use reprise_tests::probe::Probe;
use serde_json::json;

const WAIT: Duration = Duration::from_secs(60);

#[tokio::test(flavor = "multi_thread")]
async fn cancelling_a_suspended_parent_cancels_its_attached_children() {
    let dir = tempfile::tempdir().expect("tempdir");
    let host = Host::start(dir.path());
    host.deploy("tg", "reprise_test_guests");
    let view = host
        .invoke(
            "tg.fan_out",
            json!({"count": 4, "detached": 1, "plan": {"sleep_ms": 3000}}),
        )
        .await;
    host.until(&view.id, "suspended", WAIT).await;
    let children = host.children(&view.id).await;
    assert_eq!(children.len(), 4);
    for child in &children {
        host.until(&child.id, "suspended", WAIT).await;
    }

    let out = host.cli_ok(&["cancel", &view.id]);
    assert_eq!(
        out.trim(),
        format!("cancelled {} and 3 descendants", view.id)
    );
    let parent = host.status(&view.id).await;
    assert_eq!(parent.state, "cancelled");
    let error = parent.error.expect("error");
    assert_eq!(
        (error.kind.as_str(), error.message.as_str()),
        ("cancelled", "cancelled")
    );
    for child in host.children(&view.id).await {
        if child.detached {
            // A detached child outlives the cancellation and completes.
            let done = host.finished(&child.id, WAIT).await;
            assert_eq!(done.state, "completed", "{:?}", done.error);
        } else {
            assert_eq!(child.state, "cancelled");
            let message = child.error.expect("error").message;
            assert_eq!(message, format!("cancelled with its parent {}", view.id));
        }
    }
    let listed = host.cli_ok(&["ls", "--state", "cancelled"]);
    assert_eq!(
        listed.lines().count(),
        5,
        "a header, the parent and 3 children:\n{listed}"
    );

    let again = host.cli(&["cancel", &view.id]);
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("has finished already (cancelled)"));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_running_invocation_stops_at_once_and_takes_no_further_step() {
    let dir = tempfile::tempdir().expect("tempdir");
    let probe = Probe::start().await;
    let host = Host::start(dir.path());
    host.deploy("tg", "reprise_test_guests");
    // The child's request is held by the probe: the child is running, mid-step.
    let view = host
        .invoke(
            "tg.child",
            json!({"n": 1, "url": format!("{}/hold", probe.url())}),
        )
        .await;
    probe.wait_for("/hold", 1, WAIT).await;
    assert_eq!(host.status(&view.id).await.state, "running");
    let steps_before = host.journal(&view.id).await.steps.len();

    host.cli_ok(&["cancel", &view.id]);
    let done = host.finished(&view.id, Duration::from_secs(5)).await;
    assert_eq!(done.state, "cancelled");
    probe.open_gate();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(host.journal(&view.id).await.steps.len(), steps_before);
    assert_eq!(host.status(&view.id).await.state, "cancelled");
}
