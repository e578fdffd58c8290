//! Replay feeds recorded clocks and randomness back; a changed function is a determinism
//! violation that stops the invocation without touching its journal.

use std::time::Duration;

use reprise::ids::InvocationId;
use reprise::storage::redb::Store;
use reprise::storage::{Invocations, Journals};
use reprise_tests::host::Host;
use reprise_tests::probe::Probe;
use serde_json::{Value, json};

const WAIT: Duration = Duration::from_secs(60);

#[tokio::test(flavor = "multi_thread")]
async fn clocks_and_random_are_replayed_identically_after_a_crash() {
    let dir = tempfile::tempdir().expect("tempdir");
    let probe = Probe::start().await;
    let mut host = Host::start(dir.path());
    host.deploy("tg", "reprise_test_guests");
    let view = host
        .invoke(
            "tg.entropy",
            json!({"url": format!("{}/hold", probe.url())}),
        )
        .await;

    // The function read clocks and random numbers, then sent them: kill it mid-request.
    let first = probe.wait_for("/hold", 1, WAIT).await;
    host.kill();
    std::thread::sleep(Duration::from_millis(1100));
    probe.open_gate();
    host.restart();
    let done = host.finished(&view.id, WAIT).await;
    assert_eq!(done.state, "completed", "{:?}", done.error);

    let sent_before: Value = serde_json::from_slice(&first[0].body).expect("JSON body");
    let seen = probe.wait_for("/hold", 2, WAIT).await;
    let sent_after: Value = serde_json::from_slice(&seen[1].body).expect("JSON body");
    // Same request (same key) re-sent after the crash, with identical values, and the
    // output holds the values of the first run, a second later.
    assert_eq!(seen[0].key, seen[1].key);
    assert_eq!(sent_before, sent_after);
    assert_eq!(done.output, Some(sent_before));

    let journal = host.journal(&view.id).await;
    let kinds: Vec<&str> = journal.steps.iter().map(|s| s.kind.as_str()).collect();
    for kind in ["wall_clock", "monotonic_clock", "random", "http"] {
        assert!(kinds.contains(&kind), "no {kind} step in {kinds:?}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_function_that_asks_for_other_steps_is_stopped_as_a_determinism_violation() {
    let dir = tempfile::tempdir().expect("tempdir");
    let probe = Probe::start().await;
    let mut host = Host::start(dir.path());
    host.deploy("tg", "reprise_test_guests");
    let view = host.invoke("tg.det_a", json!({"url": probe.url()})).await;
    probe.wait_for("/hold", 1, WAIT).await;
    host.kill();

    // While the host is down, point the invocation at code that calls other URLs — what
    // happens when the code behind a running invocation changes.
    let store = Store::open(&dir.path().join("reprise.redb")).expect("open store");
    let id: InvocationId = view.id.parse().expect("id");
    let mut record = store
        .invocation(&reprise::ids::TenantId::default_tenant(), id)
        .expect("read")
        .expect("record");
    record.function = "det_b".into();
    store.update_invocation(&record).await.expect("repin");
    let before = store.steps(id).expect("journal");
    drop(store);

    probe.open_gate();
    host.restart();
    let done = host.finished(&view.id, WAIT).await;
    assert_eq!(done.state, "failed");
    let error = done.error.expect("error");
    assert_eq!(error.kind, "determinism_violation");
    assert!(
        error.message.contains("step 0")
            && error.message.contains("/a`")
            && error.message.contains("/b`"),
        "{}",
        error.message
    );
    // Nothing recorded was overwritten, and /b was never sent.
    host.kill();
    let store = Store::open(&dir.path().join("reprise.redb")).expect("open store");
    assert_eq!(store.steps(id).expect("journal"), before);
    assert!(probe.seen().iter().all(|s| s.path != "/b"));
}
