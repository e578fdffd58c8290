//! Guest logs: `reprise_sdk::log` steps and what a function writes to stdout and stderr,
//! kept per invocation, each line once however often a crash makes it replay, shown by
//! `reprise logs` (and `--follow`), and only to the invocation's tenant.

use std::process::Stdio;
use std::time::Duration;

use hyper::{Method, StatusCode};
use reprise::api::dto::LogLineView;
use reprise_tests::host::Host;
use reprise_tests::probe::Probe;
use serde_json::json;

/// `reprise logs ID --json`: one JSON object per line.
fn logs(host: &Host, id: &str) -> Vec<(String, String)> {
    host.cli_ok(&["logs", id, "--json"])
        .lines()
        .map(|line| {
            let line: LogLineView = serde_json::from_str(line).expect("a log line as JSON");
            (line.stream, line.text)
        })
        .collect()
}

fn lines(expected: &[(&str, &str)]) -> Vec<(String, String)> {
    expected
        .iter()
        .map(|(stream, text)| (stream.to_string(), text.to_string()))
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn each_line_is_kept_once_across_a_sigkill_and_follow_shows_them_as_they_come() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut host = Host::start(dir.path());
    host.deploy("tg", "reprise_test_guests");
    let probe = Probe::start().await;

    // Every POST is held until the gate opens: the host is killed while the first waits.
    let input = json!({"url": format!("{}/hold", probe.url()), "count": 3});
    let view = host.invoke("tg.chatter", input).await;
    probe.wait_for("/hold", 1, Duration::from_secs(30)).await;
    let before = [("stdout", "out 0"), ("stderr", "err 0"), ("log", "log 0")];
    // What came before the log step is kept with it, while the run goes on.
    assert_eq!(logs(&host, &view.id), lines(&before));

    host.kill();
    host.restart();
    probe.wait_for("/hold", 2, Duration::from_secs(30)).await;
    // The replay wrote the same lines again: they are still there once.
    assert_eq!(logs(&host, &view.id), lines(&before));

    let follow = host
        .cli_command(&["logs", &view.id, "--follow"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn logs --follow");
    tokio::time::sleep(Duration::from_millis(500)).await;
    probe.open_gate();
    let done = host.finished(&view.id, Duration::from_secs(30)).await;
    assert_eq!(done.output, Some(json!(3)));

    let mut all = lines(&before);
    for i in 1..3 {
        for (stream, text) in [("stdout", "out"), ("stderr", "err"), ("log", "log")] {
            all.push((stream.to_string(), format!("{text} {i}")));
        }
    }
    all.push(("stdout".to_string(), "done".to_string()));
    assert_eq!(logs(&host, &view.id), all);

    // `--follow` printed each line once, then ended by itself when the invocation did.
    let followed = tokio::task::spawn_blocking(move || follow.wait_with_output())
        .await
        .expect("join")
        .expect("logs --follow ends");
    assert!(followed.status.success(), "{followed:?}");
    let text = String::from_utf8_lossy(&followed.stdout);
    let printed: Vec<&str> = text.lines().collect();
    assert_eq!(printed.len(), all.len(), "{text}");
    for (line, (stream, expected)) in printed.iter().zip(&all) {
        let source = if stream == "log" { "info" } else { stream };
        assert!(
            line.ends_with(&format!("  {source:<6} {expected}")),
            "{line:?} is not {source} {expected}"
        );
    }

    // Another tenant does not see them.
    let (_, other) = host.create_tenant("other");
    let path = format!("/v1/invocations/{}/logs", view.id);
    let (status, _) = other
        .raw(Method::GET, &path, "application/json", Vec::new())
        .await
        .expect("ask as another tenant");
    assert_eq!(status, StatusCode::NOT_FOUND);
    // And a bad cursor is refused, naming it.
    let out = host
        .client()
        .raw(Method::GET, &format!("{path}?after=x"), "", Vec::new())
        .await
        .expect("ask");
    assert_eq!(out.0, StatusCode::BAD_REQUEST);
    assert!(String::from_utf8_lossy(&out.1).contains("`after`"));
}
