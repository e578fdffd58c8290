//! The egress policy against a real host: requests to non-public addresses and to the host's
//! own API, under every spelling, are never sent; the guest gets an error naming the policy,
//! journaled like any outcome; allowed ranges go through.

use std::time::Duration;

use reprise_tests::host::Host;
use reprise_tests::probe::Probe;
use serde_json::json;

const WAIT: Duration = Duration::from_secs(60);

/// Runs `tg.steps` against `url` on `host` and returns its error message (it must fail).
async fn denied(host: &Host, url: &str) -> String {
    let view = host
        .invoke("tg.steps", json!({"url": url, "count": 1}))
        .await;
    let done = host.finished(&view.id, WAIT).await;
    assert_eq!(done.state, "failed", "{url}: {done:?}");
    let journal = host.journal(&view.id).await;
    let http: Vec<_> = journal.steps.iter().filter(|s| s.kind == "http").collect();
    assert_eq!(http.len(), 1, "{url}: the refusal is journaled once");
    assert_eq!(http[0].attempts, 1, "{url}: a refusal is not retried");
    assert!(
        http[0].outcome.contains("egress policy denies"),
        "{url}: {}",
        http[0].outcome
    );
    done.error.expect("error").message
}

#[tokio::test(flavor = "multi_thread")]
async fn guests_reach_neither_private_addresses_nor_the_host_itself() {
    let probe = Probe::start().await;
    let dir = tempfile::tempdir().expect("tempdir");
    // Loopback allowed, as the tests' servers need: the host's own API is still denied.
    let host = Host::start(dir.path());
    host.deploy("tg", "reprise_test_guests");
    let port = host.url.rsplit(':').next().expect("port").to_string();
    for url in [
        "http://169.254.169.254/latest/meta-data/".to_string(),
        "http://10.0.0.1/".to_string(),
        "http://192.168.1.1/".to_string(),
        "http://[fd00::1]/".to_string(),
        format!("http://127.0.0.1:{port}/v1/invocations"),
        format!("http://localhost:{port}/v1/invocations"),
        format!("http://0.0.0.0:{port}/v1/invocations"),
        format!("http://2130706433:{port}/v1/invocations"),
        format!("http://[::1]:{port}/v1/invocations"),
        format!("http://[::ffff:127.0.0.1]:{port}/v1/invocations"),
    ] {
        let message = denied(&host, &url).await;
        assert!(message.contains("egress policy denies"), "{url}: {message}");
    }
    let own = denied(&host, &format!("http://localhost:{port}/")).await;
    assert!(own.contains("the host's own API"), "{own}");
    let metadata = denied(&host, "http://169.254.169.254/").await;
    assert!(metadata.contains("link-local"), "{metadata}");
    // An allowed range goes through.
    let view = host
        .invoke(
            "tg.steps",
            json!({"url": format!("{}/ok", probe.url()), "count": 1}),
        )
        .await;
    assert_eq!(host.finished(&view.id, WAIT).await.state, "completed");
    drop(host);

    // The default policy: loopback too is denied, by address and by name (as the
    // connection resolves it), and nothing reaches the server.
    let dir = tempfile::tempdir().expect("tempdir");
    let fenced = Host::start_fenced(dir.path(), &[]);
    fenced.deploy("tg", "reprise_test_guests");
    let seen = probe.seen().len();
    let by_address = denied(&fenced, &format!("{}/ok", probe.url())).await;
    assert!(by_address.contains("127.0.0.1 (loopback)"), "{by_address}");
    let by_name = denied(&fenced, &probe.url().replace("127.0.0.1", "localhost")).await;
    assert!(
        by_name.contains("`localhost` resolves only to denied addresses"),
        "{by_name}"
    );
    assert_eq!(probe.seen().len(), seen, "a denied request is never sent");
}
