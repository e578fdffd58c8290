//! Durable timers: short sleeps in memory, long ones suspend and resume by replay — also
//! when they fall due while the host is down.

use std::time::{Duration, Instant};

use reprise_tests::host::{Host, InvocationView};
use serde_json::{Value, json};

const WAIT: Duration = Duration::from_secs(60);

async fn until_suspended(host: &Host, id: &str) -> InvocationView {
    host.until(id, "suspended", WAIT).await
}

/// The kinds of the steps in `id`'s journal, in order.
async fn step_kinds(host: &Host, id: &str) -> Vec<String> {
    let journal = host.journal(id).await;
    journal.steps.into_iter().map(|s| s.kind).collect()
}

fn slept(view: &InvocationView) -> u64 {
    view.output
        .as_ref()
        .and_then(|o| o["slept_millis"].as_u64())
        .unwrap_or_else(|| panic!("no slept_millis in {:?}", view.output))
}

#[tokio::test(flavor = "multi_thread")]
async fn a_short_sleep_is_served_in_memory_and_a_long_one_suspends() {
    let dir = tempfile::tempdir().expect("tempdir");
    let host = Host::start(dir.path());
    host.deploy("tg", "reprise_test_guests");

    let short = host.invoke("tg.nap", json!({"millis": 200})).await;
    let long = host.invoke("tg.nap", json!({"millis": 2500})).await;

    let short = host.finished(&short.id, WAIT).await;
    assert_eq!(short.state, "completed", "{:?}", short.error);
    assert!(slept(&short) >= 200);
    assert_eq!(short.attempts, 1, "a short sleep does not suspend");

    let suspended = until_suspended(&host, &long.id).await;
    let waiting = suspended.waiting.expect("waiting");
    assert!(waiting.summary.starts_with("timer due "), "{waiting:?}");
    assert_eq!(waiting.timers.len(), 1);
    let text = host.cli_ok(&["status", &long.id]);
    assert!(text.contains("waiting:   timer due"), "{text}");
    let listed: Value =
        serde_json::from_str(&host.cli_ok(&["ls", "--state", "suspended", "--json"]))
            .expect("ls JSON");
    assert_eq!(listed["invocations"][0]["id"], long.id.as_str());

    let long = host.finished(&long.id, WAIT).await;
    assert_eq!(long.state, "completed", "{:?}", long.error);
    assert!(slept(&long) >= 2500);
    assert_eq!(long.attempts, 2, "suspended once, resumed once");
    let kinds = step_kinds(&host, &long.id).await;
    assert_eq!(kinds, ["wall_clock", "wall_clock", "await", "wall_clock"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_timer_that_falls_due_while_the_host_is_down_fires_after_restart() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut host = Host::start(dir.path());
    host.deploy("tg", "reprise_test_guests");
    let view = host.invoke("tg.nap", json!({"millis": 1500})).await;
    until_suspended(&host, &view.id).await;
    host.kill();
    std::thread::sleep(Duration::from_millis(2500));

    let restarted = Instant::now();
    host.restart();
    let done = host.finished(&view.id, WAIT).await;
    assert_eq!(done.state, "completed", "{:?}", done.error);
    assert!(
        restarted.elapsed() < Duration::from_secs(5),
        "fired {:?} after the restart",
        restarted.elapsed()
    );
    // The function's clock saw the whole outage: it slept at least until its due time.
    assert!(slept(&done) >= 1500);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_reminder_example_delivers_after_its_delay_across_a_restart() {
    let dir = tempfile::tempdir().expect("tempdir");
    let probe = reprise_tests::probe::Probe::start().await;
    let mut host = Host::start(dir.path());
    host.deploy("reminder", "reminder");
    let input = json!({"message": "water the plants", "delay_seconds": 2,
                       "webhook_url": format!("{}/hook", probe.url())});
    let view = host.invoke("reminder", input).await;
    until_suspended(&host, &view.id).await;
    host.kill();
    host.restart();
    let done = host.finished(&view.id, WAIT).await;
    assert_eq!(done.state, "completed", "{:?}", done.error);
    let hooks = probe.wait_for("/hook", 1, WAIT).await;
    assert_eq!(hooks.len(), 1);
    let body: Value = serde_json::from_slice(&hooks[0].body).expect("JSON");
    assert_eq!(body, json!({"reminder": "water the plants"}));
}

#[tokio::test(flavor = "multi_thread")]
async fn std_thread_sleep_is_a_durable_sleep_that_a_replay_does_not_wait_again() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut host = Host::start(dir.path());
    host.deploy("tg", "reprise_test_guests");

    let short = host.invoke("tg.thread_sleep", json!({"millis": 150})).await;
    let short = host.finished(&short.id, WAIT).await;
    assert_eq!(short.state, "completed", "{:?}", short.error);
    assert!(slept(&short) >= 150);
    assert_eq!(short.attempts, 1);
    let kinds = step_kinds(&host, &short.id).await;
    assert!(
        kinds.ends_with(&[
            "monotonic_clock".into(),
            "await".into(),
            "monotonic_clock".into()
        ]),
        "{kinds:?}"
    );

    // A long one suspends like `reprise_sdk::sleep`, survives a restart, and the replay
    // serves the sleep from the journal.
    let long = host
        .invoke("tg.thread_sleep", json!({"millis": 1800}))
        .await;
    let suspended = until_suspended(&host, &long.id).await;
    assert_eq!(suspended.waiting.expect("waiting").timers.len(), 1);
    host.kill();
    host.restart();
    let long = host.finished(&long.id, WAIT).await;
    assert_eq!(long.state, "completed", "{:?}", long.error);
    assert!(slept(&long) >= 1800);
    let awaits = host
        .journal(&long.id)
        .await
        .steps
        .iter()
        .filter(|s| s.kind == "await")
        .count();
    assert_eq!(awaits, 1, "the sleep is journaled once");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_short_sleep_is_journaled_when_it_starts_and_a_replay_still_waits_until_it_ends() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut host = Host::start(dir.path());
    host.deploy("tg", "reprise_test_guests");
    let view = host.invoke("tg.nap", json!({"millis": 900})).await;

    // The wait step is durable while the function still sleeps.
    let started = Instant::now();
    loop {
        let journal = host.journal(&view.id).await;
        if journal.steps.iter().any(|s| s.kind == "await") {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(10), "no wait step");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let running = host.status(&view.id).await;
    assert_eq!(running.state, "running", "journaled before the sleep ended");

    // Killed mid-sleep, the replay finds the wait in the journal and still sleeps until it
    // ends: the function's own clock sees the whole 900 ms.
    host.kill();
    host.restart();
    let done = host.finished(&view.id, WAIT).await;
    assert_eq!(done.state, "completed", "{:?}", done.error);
    assert!(slept(&done) >= 900, "slept {} ms", slept(&done));
    let kinds = step_kinds(&host, &view.id).await;
    assert_eq!(kinds, ["wall_clock", "wall_clock", "await", "wall_clock"]);
}
