//! Answers whose size would grow without bound are paged: invocation lists by cursor,
//! journals by range, and large inputs and outputs are left out of lists.

use std::time::Duration;

use reprise::api::dto::{InvocationList, JournalView};
use reprise_tests::host::Host;
use serde_json::json;

const WAIT: Duration = Duration::from_secs(60);

#[tokio::test(flavor = "multi_thread")]
async fn lists_page_by_cursor_journals_by_range_and_large_values_are_left_out_of_lists() {
    let dir = tempfile::tempdir().expect("tempdir");
    let host = Host::start(dir.path());
    host.deploy("tg", "reprise_test_guests");

    // A journal of 25 steps, read 10 at a time.
    let view = host.invoke("tg.random_steps", json!({"count": 25})).await;
    host.finished(&view.id, WAIT).await;
    let path = format!("/v1/invocations/{}/journal", view.id);
    let first: JournalView = host
        .api
        .get(&format!("{path}?limit=10"))
        .await
        .expect("page");
    assert_eq!(first.steps.len(), 10);
    assert_eq!(first.next, Some(10));
    let last: JournalView = host
        .api
        .get(&format!("{path}?from=20&limit=10"))
        .await
        .expect("page");
    let seqs: Vec<u32> = last.steps.iter().map(|s| s.seq).collect();
    assert_eq!(seqs, (20..25).collect::<Vec<_>>());
    assert_eq!(last.next, None);
    // The CLI reads every page.
    let all = host.cli_ok(&["--json", "journal", &view.id]);
    let all: JournalView = serde_json::from_str(&all).expect("json");
    assert_eq!(all.steps.len(), 25);

    // Five invocations, listed two at a time, newest first, each once.
    let mut made = vec![view.id.clone()];
    for n in 0..4 {
        let v = host.invoke("tg.echo", json!(n)).await;
        host.finished(&v.id, WAIT).await;
        made.push(v.id);
    }
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let query = cursor
            .as_ref()
            .map_or("?limit=2".to_string(), |c| format!("?limit=2&before={c}"));
        let page: InvocationList = host
            .api
            .get(&format!("/v1/invocations{query}"))
            .await
            .expect("page");
        assert!(page.invocations.len() <= 2);
        seen.extend(page.invocations.iter().map(|v| v.id.clone()));
        match page.next {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    made.reverse();
    assert_eq!(seen, made, "every invocation once, newest first");

    // An output too large to list is left out of lists, its size given; the invocation's
    // own answer has it.
    let big = "x".repeat(100 * 1024);
    let v = host.invoke("tg.echo", json!(big)).await;
    let done = host.finished(&v.id, WAIT).await;
    assert_eq!(done.output, Some(json!(big)));
    let list: InvocationList = host.api.get("/v1/invocations?limit=1").await.expect("list");
    let listed = &list.invocations[0];
    assert_eq!(listed.id, v.id);
    assert_eq!(listed.output, None);
    let omitted = listed.omitted.as_ref().expect("omitted");
    assert!(omitted.output_bytes.is_some_and(|n| n > 100 * 1024));
    assert!(omitted.input_bytes.is_some_and(|n| n > 100 * 1024));

    let refused = host
        .api
        .get::<serde_json::Value>(&format!("{path}?from=-1"))
        .await;
    assert!(
        refused
            .expect_err("bad from")
            .to_string()
            .contains("`from` must be a step number")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn lists_filter_by_state_function_time_and_text_in_the_input_and_refuse_bad_filters() {
    let dir = tempfile::tempdir().expect("tempdir");
    let host = Host::start(dir.path());
    host.deploy("tg", "reprise_test_guests");
    let ada = host.invoke("tg.echo", json!({"customer": "ada"})).await;
    let bob = host.invoke("tg.echo", json!({"customer": "bob"})).await;
    let failed = host
        .invoke("tg.fail_error", json!({"message": "ada"}))
        .await;
    for id in [&ada.id, &bob.id, &failed.id] {
        host.finished(id, WAIT).await;
    }
    assert_eq!(
        listed(&host, "text=ada").await,
        [failed.id.clone(), ada.id.clone()]
    );
    assert_eq!(
        listed(&host, "text=ada&filter=function%3Dtg.echo").await,
        vec![ada.id.clone()]
    );
    assert_eq!(
        listed(&host, "filter=state%3Dfailed+since%3D1h").await,
        vec![failed.id.clone()]
    );
    assert_eq!(
        listed(&host, "text=%22bob%22&state=completed").await,
        vec![bob.id.clone()]
    );
    assert!(listed(&host, "text=nobody").await.is_empty());

    for (query, code, says) in [
        ("filter=colour%3Dred", "invalid_filter", "no key `colour`"),
        ("filter=since%3Dsoon", "invalid_filter", "`since=soon`"),
        (
            &format!("text={}", "x".repeat(300)),
            "invalid_text",
            "at most 256 bytes",
        ),
    ] {
        let (status, body) = host
            .api
            .raw(
                hyper::Method::GET,
                &format!("/v1/invocations?{query}"),
                "",
                Vec::new(),
            )
            .await
            .expect("ask");
        let body = String::from_utf8_lossy(&body);
        assert_eq!(status, hyper::StatusCode::BAD_REQUEST, "{body}");
        assert!(body.contains(code) && body.contains(says), "{body}");
    }
}

/// The ids `GET /v1/invocations?QUERY` lists.
async fn listed(host: &Host, query: &str) -> Vec<String> {
    let path = format!("/v1/invocations?{query}");
    let list: InvocationList = host.api.get(&path).await.expect("list");
    list.invocations.into_iter().map(|v| v.id).collect()
}
