//! Child invocations: dispatch, gather, any and race; a parent is woken once per wait; a
//! SIGKILL in the middle of a fan-out neither loses nor duplicates children.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use reprise_tests::host::Host;
use reprise_tests::probe::Probe;
use serde_json::{Value, json};

const WAIT: Duration = Duration::from_secs(120);

fn sum_of_doubles(count: u64) -> u64 {
    count * (count - 1)
}

#[tokio::test(flavor = "multi_thread")]
async fn gather_returns_every_output_in_order_and_wakes_the_parent_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let host = Host::start(dir.path());
    host.deploy("tg", "reprise_test_guests");
    // The children sleep past the in-memory threshold, so the parent surely suspends.
    let view = host
        .invoke(
            "tg.fan_out",
            json!({"count": 40, "plan": {"sleep_ms": 1500}}),
        )
        .await;
    let suspended = host.until(&view.id, "suspended", WAIT).await;
    let waiting = suspended.waiting.expect("waiting");
    assert_eq!(waiting.children, 40);
    assert!(
        waiting.summary.contains("of 40 children pending"),
        "{}",
        waiting.summary
    );
    let text = host.cli_ok(&["status", &view.id]);
    assert!(text.contains("children pending"), "{text}");

    let done = host.finished(&view.id, WAIT).await;
    assert_eq!(done.state, "completed", "{:?}", done.error);
    assert_eq!(
        done.output,
        Some(json!({"count": 40, "sum": sum_of_doubles(40)}))
    );
    assert_eq!(done.attempts, 2, "suspended once, woken once");

    let journal = host.journal(&view.id).await;
    let kinds: Vec<&str> = journal.steps.iter().map(|s| s.kind.as_str()).collect();
    assert_eq!(kinds.iter().filter(|k| **k == "dispatch").count(), 40);
    assert_eq!(kinds.last(), Some(&"await"));

    let children = host.children(&view.id).await;
    assert_eq!(children.len(), 40);
    for child in &children {
        assert_eq!(child.state, "completed");
        assert_eq!(child.parent.as_deref(), Some(view.id.as_str()));
        assert_eq!(child.function, "tg.child");
    }
    let listed = host.cli_ok(&["ls", "--parent", &view.id, "--limit", "5"]);
    assert_eq!(
        listed.lines().count(),
        6,
        "a header and five children:\n{listed}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn gather_reports_the_first_failure_naming_the_child() {
    let dir = tempfile::tempdir().expect("tempdir");
    let host = Host::start(dir.path());
    host.deploy("tg", "reprise_test_guests");
    let view = host
        .invoke("tg.fan_out", json!({"count": 5, "fail_at": 3}))
        .await;
    let done = host.finished(&view.id, WAIT).await;
    assert_eq!(done.state, "failed");
    let message = done.error.expect("error").message;
    let children = host.children(&view.id).await;
    let failed = children
        .iter()
        .find(|c| c.state == "failed")
        .expect("a failed child");
    assert!(
        message.contains(&format!("child #3 ({}) failed: child 3 failed", failed.id)),
        "{message}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn any_takes_the_first_success_and_race_the_first_to_finish() {
    let dir = tempfile::tempdir().expect("tempdir");
    let host = Host::start(dir.path());
    host.deploy("tg", "reprise_test_guests");

    // any: the quick failure does not count; the first success (child 1) wins over the
    // slower one.
    let any = host
        .invoke(
            "tg.choose",
            json!({"mode": "any", "children": [
                {"n": 0, "fail": true},
                {"n": 1, "sleep_ms": 300},
                {"n": 2, "sleep_ms": 3000}]}),
        )
        .await;
    // race: the quick failure wins.
    let race = host
        .invoke(
            "tg.choose",
            json!({"mode": "race", "children": [
                {"n": 0, "sleep_ms": 3000},
                {"n": 1, "fail": true}]}),
        )
        .await;
    // any, all failing: every error.
    let none = host
        .invoke(
            "tg.choose",
            json!({"mode": "any", "children": [
                {"n": 0, "fail": true},
                {"n": 1, "fail": true, "sleep_ms": 200}]}),
        )
        .await;

    let any = host.finished(&any.id, WAIT).await;
    assert_eq!(
        any.output,
        Some(json!({"index": 1, "value": 2, "error": null}))
    );
    let race = host.finished(&race.id, WAIT).await;
    assert_eq!(
        race.output,
        Some(json!({"index": 1, "value": null, "error": "child 1 failed"}))
    );
    let none = host.finished(&none.id, WAIT).await;
    let error = none.output.expect("output")["error"]
        .as_str()
        .expect("error text")
        .to_string();
    assert!(error.starts_with("all 2 children failed"), "{error}");
    assert!(
        error.contains("child 0 failed") && error.contains("child 1 failed"),
        "{error}"
    );

    // The loser is left running and completes on its own.
    for view in host.children(&race.id).await {
        let state = host.finished(&view.id, WAIT).await.state;
        let n = view.input["n"].as_u64();
        assert_eq!(state, if n == Some(0) { "completed" } else { "failed" });
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn sigkill_in_the_middle_of_a_thousand_child_fan_out_loses_and_duplicates_none() {
    const COUNT: u64 = 1000;
    let dir = tempfile::tempdir().expect("tempdir");
    let probe = Probe::start().await;
    let mut host = Host::start(dir.path());
    host.deploy("tg", "reprise_test_guests");
    let plan = json!({"url": format!("{}/child", probe.url())});
    let view = host
        .invoke("tg.fan_out", json!({"count": COUNT, "plan": plan}))
        .await;

    // Kill once the parent has dispatched a good part of its children, but not all.
    let deadline = Instant::now() + WAIT;
    loop {
        let dispatched = host.journal(&view.id).await.steps.len();
        if dispatched >= 300 {
            assert!(
                dispatched < COUNT as usize,
                "the fan-out finished before the kill"
            );
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the parent dispatched only {dispatched}"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    host.kill();
    host.restart();

    let done = host.finished(&view.id, WAIT).await;
    assert_eq!(done.state, "completed", "{:?}", done.error);
    assert_eq!(
        done.output,
        Some(json!({"count": COUNT, "sum": sum_of_doubles(COUNT)}))
    );
    let children = host.children(&view.id).await;
    assert_eq!(
        children.len(),
        COUNT as usize,
        "exactly one child per dispatch"
    );
    let inputs: BTreeSet<u64> = children
        .iter()
        .map(|c| c.input["n"].as_u64().expect("n"))
        .collect();
    assert_eq!(inputs, (0..COUNT).collect::<BTreeSet<_>>());
    assert!(children.iter().all(|c| c.state == "completed"));
    // Every child reached the server; a repeat only for a child the kill interrupted.
    let seen: BTreeSet<u64> = probe
        .seen()
        .iter()
        .filter_map(|s| serde_json::from_slice::<Value>(&s.body).ok()?["n"].as_u64())
        .collect();
    assert_eq!(seen.len(), COUNT as usize);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_fan_out_of_ten_thousand_children_completes_with_one_wake_up() {
    const COUNT: u64 = 10_000;
    let dir = tempfile::tempdir().expect("tempdir");
    let host = Host::start(dir.path());
    host.deploy("tg", "reprise_test_guests");
    let started = Instant::now();
    let view = host.invoke("tg.fan_out", json!({"count": COUNT})).await;
    let done = host.finished(&view.id, Duration::from_secs(600)).await;
    assert_eq!(done.state, "completed", "{:?}", done.error);
    assert_eq!(
        done.output,
        Some(json!({"count": COUNT, "sum": sum_of_doubles(COUNT)}))
    );
    assert!(done.attempts <= 2, "the parent ran {} times", done.attempts);
    let children = host.children(&view.id).await;
    assert_eq!(children.len(), COUNT as usize);
    assert!(children.iter().all(|c| c.attempts == 1));
    eprintln!(
        "{COUNT} children dispatched and gathered in {:?}",
        started.elapsed()
    );
}
