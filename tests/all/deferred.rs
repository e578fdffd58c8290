//! Deferred creation: an invocation whose caller waits is written with its first durable write,
//! yet exists before anything it does is seen outside, and once its caller stops waiting.

use std::time::Duration;

use reprise_tests::host::Host;
use reprise_tests::probe::Probe;
use serde_json::json;

const WAIT: Duration = Duration::from_secs(60);

/// The journal writes the host has committed so far, from `/metrics`.
async fn writes(host: &Host) -> u64 {
    let metrics = host.metrics().await;
    metrics
        .lines()
        .find_map(|l| {
            l.strip_prefix("reprise_journal_writes_total ")?
                .parse()
                .ok()
        })
        .expect("reprise_journal_writes_total in /metrics")
}

#[tokio::test(flavor = "multi_thread")]
async fn a_trivial_invocation_whose_caller_waits_costs_one_durable_write() {
    let dir = tempfile::tempdir().expect("tempdir");
    let host = Host::start(dir.path());
    host.deploy("tg", "reprise_test_guests");
    let before = writes(&host).await;
    let view = host
        .invoke_waiting("tg.echo", json!({"x": 1}), 30.0)
        .await
        .expect("invoke");
    assert_eq!(view.state, "completed");
    assert_eq!(
        writes(&host).await - before,
        1,
        "created and completed at once"
    );
    // It is stored like any other invocation.
    assert_eq!(host.status(&view.id).await.output, Some(json!({"x": 1})));
    assert!(host.cli_ok(&["ls"]).contains(&view.id));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_waited_invocation_exists_before_its_request_is_sent_and_survives_a_kill() {
    let dir = tempfile::tempdir().expect("tempdir");
    let probe = Probe::start().await;
    let mut host = Host::start(dir.path());
    host.deploy("tg", "reprise_test_guests");
    let input = json!({"n": 1, "url": format!("{}/hold", probe.url())});
    let api = host.client();
    let caller = tokio::spawn(async move {
        let body = json!({"function": "tg.child", "input": input});
        api.raw(
            hyper::Method::POST,
            "/v1/invocations?wait=60",
            "application/json",
            body.to_string().into_bytes(),
        )
        .await
    });
    // The request is held by the probe; its key names the invocation, which must exist.
    let seen = probe.wait_for("/hold", 1, WAIT).await;
    let id = seen[0]
        .key
        .rsplit_once('-')
        .expect("key: id-seq")
        .0
        .to_string();
    assert_eq!(host.status(&id).await.state, "running");

    host.kill();
    assert!(
        caller.await.expect("join").is_err(),
        "the caller saw the kill"
    );
    host.restart();
    probe.open_gate();
    let done = host.finished(&id, WAIT).await;
    assert_eq!(done.state, "completed", "{:?}", done.error);
    let keys: Vec<String> = probe.seen().into_iter().map(|s| s.key).collect();
    assert_eq!(keys.len(), 2, "sent again after the restart: {keys:?}");
    assert_eq!(keys[0], keys[1], "with the same Idempotency-Key");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_invocation_is_durable_once_its_caller_stops_waiting() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut host = Host::start(dir.path());
    host.deploy("tg", "reprise_test_guests");
    // A computation without host calls: no write makes it durable before the caller gives up.
    let view = host
        .invoke_waiting("tg.spin", json!(400_000_000u64), 0.05)
        .await
        .expect("invoke");
    assert_eq!(view.state, "running");
    host.kill();
    host.restart();
    let done = host.finished(&view.id, WAIT).await;
    assert_eq!(done.state, "completed", "{:?}", done.error);
}
