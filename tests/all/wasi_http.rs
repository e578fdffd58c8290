//! Functions using standard wasi:http clients (`wstd`, `waki`): each request is journaled like
//! `http-send` — an `Idempotency-Key`, the body streamed in whole, never sent again once its
//! response is recorded, even across a SIGKILL.

use std::time::Duration;

use reprise_tests::host::Host;
use reprise_tests::probe::Probe;
use serde_json::{Value, json};

const WAIT: Duration = Duration::from_secs(60);

/// The two client crates, by the component their test functions are built into.
const CLIENTS: [&str; 2] = ["reprise_test_wstd", "reprise_test_waki"];

#[tokio::test(flavor = "multi_thread")]
async fn standard_clients_send_journaled_requests_with_their_bodies_in_whole() {
    let dir = tempfile::tempdir().expect("tempdir");
    let probe = Probe::start().await;
    let host = Host::start(dir.path());
    // A body of many chunks: clients write it in pieces after `handle`.
    let big: String = (0..200_000)
        .map(|i| char::from(b'a' + (i % 26) as u8))
        .collect();
    for (n, client) in CLIENTS.iter().enumerate() {
        host.deploy(client, client);
        let url = format!("{}/upload/{n}", probe.url());
        let done = host
            .invoke_waiting(
                &format!("{client}.fetch"),
                json!({"url": url, "method": "POST", "body": big}),
                30.0,
            )
            .await
            .expect("invoke");
        let done = host.finished(&done.id, WAIT).await;
        assert_eq!(done.state, "completed", "{client}: {done:?}");
        let output = done.output.clone().unwrap_or(Value::Null);
        assert_eq!(output["status"], 200, "{client}: {output}");
        assert!(
            output["body"].as_str().is_some_and(|b| b.contains("value")),
            "{output}"
        );

        let seen = probe.wait_for(&format!("/upload/{n}"), 1, WAIT).await;
        assert_eq!(seen.len(), 1, "{client}: sent once");
        assert_eq!(seen[0].method, "POST");
        assert_eq!(seen[0].body.len(), big.len(), "{client}: the whole body");
        assert_eq!(
            seen[0].body,
            big.as_bytes(),
            "{client}: the body as written"
        );
        assert!(
            seen[0].key.starts_with(&done.id),
            "{client}: Idempotency-Key {} is the invocation's",
            seen[0].key
        );
        // The journal has the step, as an http-send's would be.
        let journal: Value = host
            .api
            .get(&format!("/v1/invocations/{}/journal", done.id))
            .await
            .expect("journal");
        let kinds: Vec<&str> = journal["steps"]
            .as_array()
            .map(|steps| steps.iter().filter_map(|s| s["kind"].as_str()).collect())
            .unwrap_or_default();
        assert!(kinds.contains(&"http"), "{client}: {journal}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_sigkill_between_two_requests_sends_the_first_once_and_the_second_again_with_its_key() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut host = Host::start(dir.path());
    for (n, client) in CLIENTS.iter().enumerate() {
        // A probe each: its gate, once open, stays open.
        let probe = Probe::start().await;
        host.deploy(client, client);
        let first = format!("/first/{n}");
        let held = format!("/hold/{n}");
        let started = host
            .invoke(
                &format!("{client}.fetch_all"),
                json!([
                    {"url": format!("{}{first}", probe.url()), "method": "POST", "body": "{\"i\": 1}"},
                    {"url": format!("{}{held}", probe.url()), "method": "POST", "body": "{\"i\": 2}"},
                ]),
            )
            .await;
        let before = probe.wait_for(&held, 1, WAIT).await;
        host.kill();
        host.restart();
        let after = probe.wait_for(&held, 2, WAIT).await;
        probe.open_gate();
        let done = host.finished(&started.id, WAIT).await;
        assert_eq!(done.state, "completed", "{client}: {done:?}");
        let output = done.output.clone().unwrap_or(Value::Null);
        assert_eq!(output[0]["status"], 200, "{client}: {output}");
        assert_eq!(output[1]["status"], 200, "{client}: {output}");

        let firsts = probe.wait_for(&first, 1, WAIT).await;
        assert_eq!(
            firsts.len(),
            1,
            "{client}: the journaled request was replayed, not resent"
        );
        assert_eq!(
            before[0].key, after[1].key,
            "{client}: the request in flight at the kill is resent with its key"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_egress_policy_applies_to_wasi_http_and_the_client_sees_why() {
    let dir = tempfile::tempdir().expect("tempdir");
    let probe = Probe::start().await;
    // The default egress policy: loopback is not a public address.
    let host = Host::start_fenced(dir.path(), &[]);
    for client in CLIENTS {
        host.deploy(client, client);
        let started = host
            .invoke(&format!("{client}.fetch"), json!({"url": probe.url()}))
            .await;
        let done = host.finished(&started.id, WAIT).await;
        assert_eq!(done.state, "failed", "{client}: {done:?}");
        let message = done.error.map(|e| e.message).unwrap_or_default();
        assert!(
            message.contains("egress policy denies"),
            "{client}: {message}"
        );
    }
    assert!(probe.seen().is_empty(), "nothing reached the probe");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_wasi_http_request_answered_503_is_retried_by_the_host_under_one_key() {
    let dir = tempfile::tempdir().expect("tempdir");
    let probe = Probe::start().await;
    let host = Host::start(dir.path());
    for (n, client) in CLIENTS.iter().enumerate() {
        host.deploy(client, client);
        let path = format!("/flaky/2/{n}");
        let started = host
            .invoke(
                &format!("{client}.fetch"),
                json!({"url": format!("{}{path}", probe.url())}),
            )
            .await;
        let done = host.finished(&started.id, WAIT).await;
        assert_eq!(done.state, "completed", "{client}: {done:?}");
        let output = done.output.clone().unwrap_or(Value::Null);
        assert_eq!(
            output["status"], 200,
            "{client}: the guest sees the answer after retries"
        );
        let seen = probe.wait_for(&path, 3, WAIT).await;
        assert_eq!(seen.len(), 3, "{client}: two 503s, then the answer");
        assert!(
            seen.iter().all(|s| s.key == seen[0].key),
            "{client}: one key"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_request_body_over_the_bound_fails_the_request_and_is_never_sent() {
    let dir = tempfile::tempdir().expect("tempdir");
    let probe = Probe::start().await;
    let host = Host::start(dir.path());
    for client in CLIENTS {
        host.deploy(client, client);
        // 17 MiB, over the 16 MiB a store may hold of request bodies.
        let started = host
            .invoke(
                &format!("{client}.fetch"),
                json!({"url": format!("{}/big", probe.url()), "method": "POST",
                       "body": "x".repeat(1024), "repeat": 17 * 1024}),
            )
            .await;
        let done = host.finished(&started.id, WAIT).await;
        assert_eq!(done.state, "failed", "{client}: {done:?}");
        let message = done.error.map(|e| e.message).unwrap_or_default();
        assert!(
            message.contains("HttpRequestBodySize"),
            "{client}: {message}"
        );
    }
    assert!(
        probe.seen().is_empty(),
        "an oversized body reached the probe"
    );
}
