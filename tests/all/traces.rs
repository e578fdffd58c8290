//! OpenTelemetry traces: with `--otlp-endpoint`, a span per run and per live step reaches a
//! collector (a loopback server here), and a SIGKILL and the replay after it export no step
//! twice.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use reprise_tests::host::Host;
use reprise_tests::probe::Probe;
use serde_json::{Value, json};

/// Every span the collector received: (name, trace id, attributes by key).
fn spans(collector: &Probe) -> Vec<(String, String, BTreeMap<String, String>)> {
    let mut out = Vec::new();
    for request in collector.seen().iter().filter(|s| s.path == "/v1/traces") {
        let body: Value = serde_json::from_slice(&request.body).expect("OTLP JSON");
        for resource in body["resourceSpans"].as_array().into_iter().flatten() {
            assert_eq!(
                resource["resource"]["attributes"][0]["value"]["stringValue"],
                "reprise"
            );
            for scope in resource["scopeSpans"].as_array().into_iter().flatten() {
                for span in scope["spans"].as_array().into_iter().flatten() {
                    let attributes = span["attributes"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .map(|a| {
                            let v = &a["value"];
                            let text = v["stringValue"].as_str().or(v["intValue"].as_str());
                            (
                                a["key"].as_str().unwrap_or_default().to_string(),
                                text.unwrap_or_default().to_string(),
                            )
                        })
                        .collect();
                    let name = span["name"].as_str().unwrap_or_default().to_string();
                    let trace = span["traceId"].as_str().unwrap_or_default().to_string();
                    out.push((name, trace, attributes));
                }
            }
        }
    }
    out
}

/// The step numbers of the step spans of invocation `id`, in the order they arrived.
fn step_spans(collector: &Probe, id: &str) -> Vec<u32> {
    spans(collector)
        .iter()
        .filter(|(name, _, a)| {
            name.starts_with("step ") && a.get("reprise.invocation").is_some_and(|i| i == id)
        })
        .map(|(_, _, a)| a["reprise.step"].parse().expect("a step number"))
        .collect()
}

async fn until_spans(collector: &Probe, id: &str, count: usize) -> Vec<u32> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let steps = step_spans(collector, id);
        if steps.len() >= count {
            return steps;
        }
        assert!(
            Instant::now() < deadline,
            "only {} of {count} step spans",
            steps.len()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn each_run_and_live_step_is_one_span_and_a_replay_after_a_sigkill_exports_none_again() {
    let dir = tempfile::tempdir().expect("tempdir");
    let collector = Probe::start().await;
    let api = Probe::start().await;
    let mut host = Host::start_with(dir.path(), &["--otlp-endpoint", &collector.url()]);
    host.deploy("tg", "reprise_test_guests");

    // Three HTTP steps with a 3 s sleep (a suspension) between two. The host is killed while
    // the first request is held (mid-run, nothing journaled yet); after the restart the
    // step is sent again, and every later run replays the steps before it.
    let input = json!({"url": format!("{}/hold", api.url()), "count": 3, "sleep_ms": 3000});
    let view = host.invoke("tg.steps", input).await;
    api.wait_for("/hold", 1, Duration::from_secs(30)).await;
    host.kill();
    host.restart();
    api.wait_for("/hold", 2, Duration::from_secs(30)).await;
    api.open_gate();
    let done = host.finished(&view.id, Duration::from_secs(60)).await;
    assert_eq!(done.state, "completed");
    let journal = host.journal(&view.id).await;
    until_spans(&collector, &view.id, journal.steps.len()).await;
    // Give a duplicate the time to arrive, were one sent.
    tokio::time::sleep(Duration::from_millis(800)).await;
    let steps = step_spans(&collector, &view.id);
    let mut unique = steps.clone();
    unique.sort_unstable();
    unique.dedup();
    assert_eq!(
        unique.len(),
        steps.len(),
        "a step exported twice: {steps:?}"
    );
    let expected: Vec<u32> = journal.steps.iter().map(|s| s.seq).collect();
    assert_eq!(unique, expected, "each journaled step once");
    assert_eq!(
        api.seen().len(),
        4,
        "three steps, the first sent again after the kill"
    );

    // The HTTP steps say what they sent and what came back; every span is in one trace; each
    // run that ended has one span (the killed one never ended, so it has none).
    let all = spans(&collector);
    let mine: Vec<_> = all
        .iter()
        .filter(|(_, _, a)| a.get("reprise.invocation") == Some(&view.id))
        .collect();
    let http: Vec<_> = mine
        .iter()
        .filter(|(_, _, a)| a.get("reprise.kind").is_some_and(|k| k == "http"))
        .collect();
    assert_eq!(http.len(), 3);
    assert!(
        http.iter()
            .all(|(_, _, a)| a["reprise.request"].starts_with("POST ")
                && a["reprise.outcome"].starts_with("200"))
    );
    let traces: std::collections::BTreeSet<&String> = mine.iter().map(|(_, t, _)| t).collect();
    assert_eq!(traces.len(), 1, "{traces:?}");
    let ended: Vec<&str> = mine
        .iter()
        .filter(|(name, _, _)| name == "run steps")
        .map(|(_, _, a)| a["reprise.ended"].as_str())
        .collect();
    assert_eq!(ended, ["suspended", "suspended", "completed"], "{mine:?}");
}
