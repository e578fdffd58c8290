//! The server under abuse: a flood of half-open connections does not lock keyed clients out.

use std::time::Duration;

use reprise_tests::host::Host;
use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;

#[tokio::test(flavor = "multi_thread")]
async fn half_open_connections_past_the_cap_are_closed_and_keyed_clients_still_get_in() {
    let dir = tempfile::tempdir().expect("tempdir");
    let host = Host::start_with(dir.path(), &["--max-connections", "64"]);
    let addr = host.url.trim_start_matches("http://").to_string();

    // 300 connections that never send a request: the oldest are closed to make room.
    let mut silent = Vec::new();
    for _ in 0..300 {
        silent.push(TcpStream::connect(&addr).await.expect("connect"));
    }
    // Keyed requests still get in, each on a new connection.
    for _ in 0..5 {
        let client = host.client();
        let list: serde_json::Value =
            tokio::time::timeout(Duration::from_secs(10), client.get("/v1/invocations"))
                .await
                .expect("answered in time")
                .expect("answered");
        assert!(list["invocations"].is_array());
    }
    // The first silent connections were closed by the host (they read end of file).
    let mut closed = 0;
    for stream in silent.iter_mut().take(200) {
        let mut byte = [0u8; 1];
        if let Ok(Ok(0)) =
            tokio::time::timeout(Duration::from_secs(2), stream.read(&mut byte)).await
        {
            closed += 1;
        }
    }
    assert!(
        closed >= 200,
        "only {closed} of the 200 oldest silent connections were closed"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn uploads_past_the_hosts_budget_are_refused_while_they_stream_and_the_budget_comes_back() {
    let dir = tempfile::tempdir().expect("tempdir");
    let host = Host::start_with(dir.path(), &["--upload-budget-mb", "1"]);
    let client = host.client();
    let big = vec![0x5au8; 2 * 1024 * 1024];
    let (status, body) = client
        .raw(
            hyper::Method::PUT,
            "/v1/deployments/big",
            "application/wasm",
            big,
        )
        .await
        .expect("upload");
    let body: serde_json::Value = serde_json::from_slice(&body).expect("json");
    assert_eq!(status, hyper::StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(body["error"]["code"], "busy");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("--upload-budget-mb")
    );
    // The refused upload gave its share back: a component under the budget deploys.
    host.deploy("hello", "hello");
    let list: serde_json::Value = client.get("/v1/deployments").await.expect("list");
    assert_eq!(list["deployments"][0]["name"], "hello");
}
