//! The egress policy against a real host: requests to non-public addresses and to the host's
//! own API, under every spelling, are never sent; the guest gets an error naming the policy,
//! journaled like any outcome; allowed ranges go through. A tenant's rules (set by an admin)
//! and a deployment's (set by its tenant) narrow the policy further.

use std::time::Duration;

use hyper::{Method, StatusCode};
use reprise::cli::client::ApiClient;
use reprise_tests::host::{Host, ask, post_invocation};
use reprise_tests::probe::Probe;
use serde_json::{Value, json};

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
        by_name.contains("`localhost` resolves only to refused addresses"),
        "{by_name}"
    );
    assert_eq!(probe.seen().len(), seen, "a denied request is never sent");
}

/// Runs `function` (a `tg.steps`) against `url` as `client`: its state, and the outcome of
/// its HTTP step (an error message, or the response's status).
async fn reach(client: &ApiClient, function: &str, url: &str) -> (String, String) {
    let input = json!({"url": url, "count": 1});
    let view = post_invocation(client, function, &input, Some(60.0))
        .await
        .expect("invoke");
    let journal: reprise_tests::host::JournalView = client
        .get(&format!("/v1/invocations/{}/journal", view.id))
        .await
        .expect("journal");
    let outcome = journal
        .steps
        .iter()
        .find(|s| s.kind == "http")
        .map(|s| s.outcome.clone())
        .unwrap_or_default();
    (view.state, outcome)
}

#[tokio::test(flavor = "multi_thread")]
async fn tenant_and_deployment_rules_narrow_what_guests_reach() {
    let probe = Probe::start().await;
    let port = probe.url().rsplit(':').next().expect("port").to_string();
    let (ip_url, name_url) = (
        format!("{}/ok", probe.url()),
        format!("{}/ok", probe.url().replace("127.0.0.1", "localhost")),
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let host = Host::start(dir.path());
    let (key, narrow) = host.create_tenant("narrow");
    for name in ["tg", "tg2"] {
        host.deploy_as(&key, name, "reprise_test_guests", None);
    }
    host.deploy("tg", "reprise_test_guests");

    // The tenant may reach `localhost` on the probe's port only.
    let shown = host.cli_ok(&[
        "tenant",
        "egress",
        "narrow",
        "--allow",
        "LocalHost",
        "--port",
        &port,
    ]);
    assert!(
        shown.contains(&format!("localhost; port {port}")),
        "{shown}"
    );
    let seen = probe.seen().len();
    assert_eq!(reach(&narrow, "tg.steps", &name_url).await.0, "completed");
    let (state, outcome) = reach(&narrow, "tg.steps", &ip_url).await;
    assert_eq!(state, "failed");
    assert!(
        outcome.contains(&format!(
            "the tenant's egress rules (localhost, port {port}) do not allow 127.0.0.1:{port}"
        )),
        "{outcome}"
    );
    let other_port = name_url.replace(&format!(":{port}/"), ":1/");
    let (_, outcome) = reach(&narrow, "tg.steps", &other_port).await;
    assert!(outcome.contains("do not allow localhost:1"), "{outcome}");
    assert_eq!(
        probe.seen().len(),
        seen + 1,
        "refused requests are never sent"
    );
    // Another tenant is not narrowed.
    assert_eq!(
        reach(&host.client(), "tg.steps", &ip_url).await.0,
        "completed"
    );

    // By range: a name passes if an address it resolves to is in one (the connection uses
    // only those); one that resolves outside every range is refused as it resolves.
    host.cli_ok(&["tenant", "egress", "narrow", "--allow", "127.0.0.0/8"]);
    assert_eq!(reach(&narrow, "tg.steps", &ip_url).await.0, "completed");
    assert_eq!(reach(&narrow, "tg.steps", &name_url).await.0, "completed");
    host.cli_ok(&["tenant", "egress", "narrow", "--allow", "127.0.0.2"]);
    let (state, outcome) = reach(&narrow, "tg.steps", &name_url).await;
    assert_eq!(state, "failed");
    assert!(
        outcome.contains("`localhost` resolves only to refused addresses")
            && outcome.contains("do not allow localhost at"),
        "{outcome}"
    );

    // A deployment's rules narrow the tenant's; the tenant's other deployment keeps them.
    host.cli_ok(&["tenant", "egress", "narrow", "--allow", "127.0.0.0/8"]);
    let shown = host.cli_ok(&["--token", &key, "egress", "tg", "--allow", "localhost"]);
    assert!(shown.contains("localhost; any port"), "{shown}");
    assert_eq!(reach(&narrow, "tg.steps", &name_url).await.0, "completed");
    let (state, outcome) = reach(&narrow, "tg.steps", &ip_url).await;
    assert_eq!(state, "failed");
    assert!(
        outcome.contains("the egress rules of deployment `tg` (localhost, any port)"),
        "{outcome}"
    );
    assert_eq!(reach(&narrow, "tg2.steps", &ip_url).await.0, "completed");
    // Cleared, the deployment is under the tenant's rules again; then under none.
    host.cli_ok(&["--token", &key, "egress", "tg", "--clear"]);
    assert_eq!(reach(&narrow, "tg.steps", &ip_url).await.0, "completed");
    let shown = host.cli_ok(&["tenant", "egress", "narrow", "--clear"]);
    assert!(shown.contains("no rules"), "{shown}");
    let shown = host.cli_ok(&["tenant", "show", "narrow"]);
    assert!(
        shown.contains("egress") && shown.contains("no rules"),
        "{shown}"
    );

    // Who may set what, and bad rules, each with a clear answer and nothing stored.
    let body = json!({"hosts": ["localhost"]});
    let (status, answer) = ask(
        &narrow,
        Method::PUT,
        "/v1/tenants/narrow/egress",
        body.clone(),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{answer}");
    let (status, missing) = ask(
        &host.client(),
        Method::PUT,
        "/v1/deployments/nope/egress",
        body.clone(),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, foreign) = ask(
        &host.client(),
        Method::PUT,
        "/v1/deployments/tg2/egress",
        body,
    )
    .await;
    assert_eq!(
        (status, &foreign["error"]["code"]),
        (StatusCode::NOT_FOUND, &missing["error"]["code"])
    );
    assert_eq!(
        foreign["error"]["message"],
        json!("no deployment named `tg2`")
    );
    for (body, says) in [
        (
            json!({"hosts": ["a b"]}),
            "`hosts`: `a b` is not a host to allow",
        ),
        (
            json!({"hosts": ["10.0.0.0/33"]}),
            "`hosts`: `10.0.0.0/33` is not a host to allow",
        ),
        (json!({"ports": [0]}), "`ports`: 0 is not a port"),
        (
            json!({"ports": [70000]}),
            "not a valid egress rules request",
        ),
        (json!({"host": ["x"]}), "unknown field `host`"),
    ] {
        let (status, answer) = ask(
            &narrow,
            Method::PUT,
            "/v1/deployments/tg/egress",
            body.clone(),
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}: {answer}");
        let message = answer["error"]["message"].as_str().unwrap_or_default();
        assert!(message.contains(says), "{body}: {message}");
    }
    let (status, answer) = ask(
        &narrow,
        Method::GET,
        "/v1/deployments/tg/egress",
        Value::Null,
    )
    .await;
    assert_eq!((status, &answer["egress"]), (StatusCode::OK, &Value::Null));
}
