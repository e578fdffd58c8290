//! Host retries: an HTTP step is retried through 503s and a 429's `Retry-After` (suspending
//! while it waits) and journaled once with its attempts; a function that traps or returns a
//! retryable error is run again by replay without repeating its completed steps.

use std::time::Duration;

use reprise_tests::host::Host;
use reprise_tests::probe::Probe;
use serde_json::json;

const WAIT: Duration = Duration::from_secs(60);

/// Deploys the test guests as `tg` with `policy`; returns the CLI's error output.
fn deploy(host: &Host, policy: &str) -> String {
    let out = host.deploy_with_policy("tg", "reprise_test_guests", policy);
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn transient_http_failures_are_retried_and_journaled_once_with_their_attempts() {
    let dir = tempfile::tempdir().expect("tempdir");
    let probe = Probe::start().await;
    let host = Host::start(dir.path());
    host.deploy("tg", "reprise_test_guests");

    let flaky = host
        .invoke(
            "tg.steps",
            json!({"url": format!("{}/flaky/2", probe.url()), "count": 1}),
        )
        .await;
    let limited = host
        .invoke(
            "tg.steps",
            json!({"url": format!("{}/limited", probe.url()), "count": 1}),
        )
        .await;
    // Retry-After: 2 is longer than a second: the invocation suspends until the next attempt.
    let waiting = host.until(&limited.id, "suspended", WAIT).await;
    assert_eq!(waiting.waiting.expect("waiting").timers.len(), 1);

    for (view, attempts) in [(flaky, 3), (limited, 2)] {
        let done = host.finished(&view.id, WAIT).await;
        assert_eq!(done.state, "completed", "{:?}", done.error);
        assert_eq!(done.output.expect("output")["values"], json!([1]));
        let journal = host.journal(&view.id).await;
        let http: Vec<_> = journal.steps.iter().filter(|s| s.kind == "http").collect();
        assert_eq!(http.len(), 1, "only the final outcome is journaled");
        assert_eq!(http[0].attempts, attempts);
        assert!(http[0].outcome.starts_with("200"), "{}", http[0].outcome);
        let text = host.cli_ok(&["journal", &view.id]);
        assert!(
            text.contains(&format!("after {attempts} attempts")),
            "{text}"
        );
    }
    // The retries carried the step's Idempotency-Key each time.
    let keys: Vec<String> = probe.seen().iter().map(|s| s.key.clone()).collect();
    assert_eq!(keys.len(), 5);
    // Two steps (flaky's 3 attempts, limited's 2), whichever reached the probe first.
    let mut per_key: Vec<usize> = keys
        .iter()
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .map(|key| keys.iter().filter(|k| *k == key).count())
        .collect();
    per_key.sort_unstable();
    assert_eq!(per_key, [2, 3]);

    // A permanent 4xx is the function's to handle: no retry.
    let metrics = host.metrics().await;
    assert!(
        metrics.contains("reprise_http_retries_total 3"),
        "{metrics}"
    );
    assert!(
        metrics.contains("reprise_http_attempts_total 5"),
        "{metrics}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_retry_policy_set_at_deploy_time_limits_the_attempts() {
    let dir = tempfile::tempdir().expect("tempdir");
    let probe = Probe::start().await;
    let host = Host::start(dir.path());
    let policy =
        r#"{"functions": {"steps": {"retry": {"max_attempts": 2, "initial_delay_ms": 10}}}}"#;
    assert!(deploy(&host, policy).is_empty());
    let view = host
        .invoke(
            "tg.steps",
            json!({"url": format!("{}/flaky/5", probe.url()), "count": 1}),
        )
        .await;
    let done = host.finished(&view.id, WAIT).await;
    // The last answer (a 503) is returned to the function, whose code fails on it.
    assert_eq!(done.state, "failed");
    let journal = host.journal(&view.id).await;
    assert_eq!(journal.steps[0].attempts, 2);
    assert!(
        journal.steps[0].outcome.starts_with("503"),
        "{}",
        journal.steps[0].outcome
    );

    let stderr = deploy(&host, r#"{"functions": {"nope": {}}}"#);
    assert!(stderr.contains("exports no function `nope`"), "{stderr}");
    let stderr = deploy(&host, r#"{"retry": {"max_attempts": 0}}"#);
    assert!(
        stderr.contains("`max_attempts` must be between 1 and 1000"),
        "{stderr}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn failed_runs_are_run_again_by_replay_without_repeating_completed_steps() {
    let dir = tempfile::tempdir().expect("tempdir");
    let probe = Probe::start().await;
    let host = Host::start(dir.path());
    let policy = r#"{"rerun": {"max_attempts": 3, "initial_delay_ms": 50, "max_delay_ms": 100}}"#;
    assert!(deploy(&host, policy).is_empty());
    let url = format!("{}/post", probe.url());

    let panics = host
        .invoke("tg.post_then_fail", json!({"url": url, "how": "panic"}))
        .await;
    let retryable = host
        .invoke("tg.post_then_fail", json!({"url": url, "how": "retryable"}))
        .await;
    let permanent = host
        .invoke("tg.post_then_fail", json!({"url": url, "how": "error"}))
        .await;
    for (view, runs) in [(panics, 3), (retryable, 3), (permanent, 1)] {
        let done = host.finished(&view.id, WAIT).await;
        assert_eq!(done.state, "failed");
        assert_eq!(done.attempts, runs, "{:?}", done.error);
        let message = done.error.expect("error").message;
        if runs > 1 {
            assert!(message.ends_with("(after 3 runs)"), "{message}");
        }
        // The POST before the failure is a completed step: sent once, whatever the runs.
        let posts = probe
            .seen()
            .iter()
            .filter(|s| s.key.starts_with(&view.id))
            .count();
        assert_eq!(posts, 1, "{}", view.id);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_pausing_policy_pauses_when_attempts_run_out_and_resume_starts_them_over() {
    let dir = tempfile::tempdir().expect("tempdir");
    let probe = Probe::start().await;
    let host = Host::start(dir.path());
    let refused = deploy(&host, r#"{"on_exhausted": "retry"}"#);
    assert!(
        refused.contains("`retry`") && refused.contains("pause"),
        "{refused}"
    );
    let fast = r#"{"max_attempts": 2, "initial_delay_ms": 10, "max_delay_ms": 10}"#;
    let policy = format!(r#"{{"retry": {fast}, "rerun": {fast}, "on_exhausted": "pause"}}"#);
    assert_eq!(deploy(&host, &policy), "");

    // Two attempts, both 503: paused before the step is journaled, saying why.
    let url = format!("{}/flaky/3", probe.url());
    let view = host
        .invoke("tg.steps", json!({"url": url, "count": 1}))
        .await;
    let paused = host.until(&view.id, "paused", WAIT).await;
    let error = paused.error.expect("why it paused");
    assert_eq!(error.kind, "exhausted");
    assert!(
        error.message.contains("step 0: 2 attempts at POST")
            && error.message.contains("HTTP 503")
            && error.message.contains("resume it"),
        "{}",
        error.message
    );
    assert!(host.journal(&view.id).await.steps.is_empty());
    assert_eq!(probe.seen().len(), 2);

    // The API is fixed (the flaky endpoint answers its fourth request):
    // resume gives the step two fresh attempts, and the invocation completes.
    host.cli_ok(&["resume", &view.id]);
    let done = host.finished(&view.id, WAIT).await;
    assert_eq!(done.state, "completed", "{:?}", done.error);
    assert_eq!(done.error.map(|e| e.kind), None);
    let journal = host.journal(&view.id).await;
    assert_eq!(journal.steps.len(), 1);
    assert_eq!(journal.steps[0].attempts, 2);
    let keys: Vec<String> = probe.seen().iter().map(|s| s.key.clone()).collect();
    assert_eq!(keys.len(), 4);
    assert!(
        keys.iter().all(|k| *k == keys[0]),
        "one step, one key: {keys:?}"
    );

    // Reruns that run out pause too, and a resume gives them a fresh count.
    let view = host
        .invoke("tg.fail_panic", json!({"message": "still broken"}))
        .await;
    let paused = host.until(&view.id, "paused", WAIT).await;
    assert_eq!(paused.attempts, 2);
    let message = paused.error.expect("why").message;
    assert!(
        message.contains("still broken") && message.contains("after 2 runs"),
        "{message}"
    );
    host.cli_ok(&["resume", &view.id]);
    let deadline = std::time::Instant::now() + WAIT;
    while host.status(&view.id).await.attempts < 4 {
        assert!(std::time::Instant::now() < deadline, "not run again");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(host.until(&view.id, "paused", WAIT).await.attempts, 4);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_resume_after_the_rerun_deadline_still_gets_its_reruns() {
    let dir = tempfile::tempdir().expect("tempdir");
    let host = Host::start(dir.path());
    let rerun =
        r#"{"max_attempts": 3, "initial_delay_ms": 10, "max_delay_ms": 10, "deadline_ms": 1500}"#;
    let policy = format!(r#"{{"rerun": {rerun}, "on_exhausted": "pause"}}"#);
    assert_eq!(deploy(&host, &policy), "");
    let view = host
        .invoke("tg.fail_panic", json!({"message": "broken"}))
        .await;
    assert_eq!(host.until(&view.id, "paused", WAIT).await.attempts, 3);
    // Past the deadline counted from its creation: the deadline counts from the series of
    // reruns the resume starts, so it runs three times again.
    tokio::time::sleep(Duration::from_millis(2000)).await;
    host.cli_ok(&["resume", &view.id]);
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        let status = host.status(&view.id).await;
        if status.state == "paused" && status.attempts > 3 {
            assert_eq!(status.attempts, 6, "{status:?}");
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{status:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
