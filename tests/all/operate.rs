//! Operating durable work against a real host: idempotent invoke (during and after the first
//! run, across a SIGKILL, racing), idempotent signals, and delayed (scheduled) invocations.

use std::time::Duration;

use hyper::{Method, StatusCode};
use reprise::cli::client::ApiClient;
use reprise_tests::host::{Host, InvocationView};
use serde_json::{Value, json};

const WAIT: Duration = Duration::from_secs(60);

/// POST `path` with `body` and, if given, an `Idempotency-Key`: the status, whether the
/// answer says it was replayed, and the JSON answer.
async fn post(
    api: &ApiClient,
    path: &str,
    key: Option<&str>,
    body: Value,
) -> (StatusCode, bool, Value) {
    let headers: Vec<(&str, String)> = key
        .map(|k| ("Idempotency-Key", k.to_string()))
        .into_iter()
        .collect();
    let response = api
        .response(
            Method::POST,
            path,
            "application/json",
            &headers,
            body.to_string().into_bytes(),
        )
        .await
        .expect("request");
    let replayed = response
        .headers()
        .get("idempotent-replayed")
        .is_some_and(|v| v == "true");
    let answer = serde_json::from_slice(response.body()).unwrap_or(Value::Null);
    (response.status(), replayed, answer)
}

/// POST an invocation of `function` with `input` under `key`.
async fn invoke(
    api: &ApiClient,
    key: &str,
    function: &str,
    input: Value,
) -> (StatusCode, bool, Value) {
    let body = json!({"function": function, "input": input});
    post(api, "/v1/invocations", Some(key), body).await
}

/// Every invocation of the tenant, newest first.
async fn all(api: &ApiClient) -> Vec<InvocationView> {
    let list: reprise_tests::host::InvocationList =
        api.get("/v1/invocations?limit=10000").await.expect("list");
    list.invocations
}

#[tokio::test(flavor = "multi_thread")]
async fn a_repeated_invoke_gets_the_first_invocation_during_after_and_across_a_kill() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut host = Host::start(dir.path());
    host.deploy("tg", "reprise_test_guests");
    let api = host.client();
    let nap = json!({"millis": 1500});

    // While the first runs (it sleeps), a repeat gets it, marked as replayed.
    let (status, replayed, first) = invoke(&api, "nap-1", "tg.doze", nap.clone()).await;
    assert_eq!((status, replayed), (StatusCode::ACCEPTED, false), "{first}");
    let id = first["id"].as_str().expect("id").to_string();
    let (status, replayed, again) = invoke(&api, "nap-1", "tg.doze", nap.clone()).await;
    assert_eq!((status, replayed), (StatusCode::ACCEPTED, true), "{again}");
    assert_eq!(again["id"], json!(id));
    // Another input under the key is refused, saying so; the key is per function.
    let (status, _, reused) = invoke(&api, "nap-1", "tg.doze", json!({"millis": 1})).await;
    assert_eq!(status, StatusCode::CONFLICT, "{reused}");
    assert_eq!(reused["error"]["code"], "idempotency_key_reused");
    let message = reused["error"]["message"].as_str().unwrap_or_default();
    assert!(
        message.contains(&id) && message.contains("another input"),
        "{message}"
    );
    let (status, _, other) = invoke(&api, "nap-1", "tg.echo", json!(1)).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{other}");
    assert_ne!(other["id"], json!(id));

    // Across a SIGKILL (the first still asleep) and a restart: still the first, run once.
    host.kill();
    host.restart();
    let api = host.client();
    let (_, replayed, again) = invoke(&api, "nap-1", "tg.doze", nap.clone()).await;
    assert!(replayed, "{again}");
    assert_eq!(again["id"], json!(id));
    let done = host.finished(&id, WAIT).await;
    assert_eq!(done.state, "completed", "{done:?}");
    // After it finished, with ?wait: its result at once.
    let body = json!({"function": "tg.doze", "input": nap});
    let (status, replayed, after) =
        post(&api, "/v1/invocations?wait=10", Some("nap-1"), body).await;
    assert_eq!((status, replayed), (StatusCode::OK, true), "{after}");
    assert_eq!(
        (&after["id"], &after["state"]),
        (&json!(id), &json!("completed"))
    );
    let dozes = all(&api)
        .await
        .into_iter()
        .filter(|v| v.function == "tg.doze")
        .count();
    assert_eq!(dozes, 1, "one invocation for every request under the key");

    // The CLI's --idempotency-key is the same key.
    let printed = host.cli_ok(&[
        "invoke",
        "tg.doze",
        "--input",
        r#"{"millis": 1500}"#,
        "--idempotency-key",
        "nap-1",
    ]);
    assert_eq!(printed.trim(), id);

    // Requests racing with one new key make one invocation.
    let mut racers = Vec::new();
    for _ in 0..16 {
        let api = host.client();
        racers.push(tokio::spawn(async move {
            invoke(&api, "race", "tg.echo", json!("once")).await
        }));
    }
    let mut ids = Vec::new();
    for racer in racers {
        let (status, _, view) = racer.await.expect("racer");
        // 200 once the first has finished: an answer says what the invocation is now.
        assert!(status.is_success(), "{status}: {view}");
        ids.push(view["id"].as_str().expect("id").to_string());
    }
    ids.dedup();
    assert_eq!(ids.len(), 1, "{ids:?}");

    // Bad keys are refused, naming the header.
    for bad in ["has space", &"k".repeat(256)] {
        let (status, _, answer) = invoke(&api, bad, "tg.echo", json!(1)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
        assert_eq!(answer["error"]["code"], "invalid_idempotency_key");
    }
    // Another tenant's same key is its own.
    let (_, theirs) = host.create_tenant("other");
    let body = json!({"function": "tg.echo", "input": "once"});
    let (status, replayed, _) = post(&theirs, "/v1/invocations", Some("race"), body).await;
    assert_eq!(
        (status, replayed),
        (StatusCode::NOT_FOUND, false),
        "no deployment tg there"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_repeated_signal_is_dropped() {
    let dir = tempfile::tempdir().expect("tempdir");
    let host = Host::start(dir.path());
    host.deploy("tg", "reprise_test_guests");
    let api = host.client();
    let view = host
        .invoke("tg.signals", json!({"names": ["go", "go"]}))
        .await;
    let path = format!("/v1/invocations/{}/signals/go", view.id);
    let (status, replayed, _) = post(&api, &path, Some("first"), json!(1)).await;
    assert_eq!((status, replayed), (StatusCode::ACCEPTED, false));
    let (status, replayed, _) = post(&api, &path, Some("first"), json!(1)).await;
    assert_eq!((status, replayed), (StatusCode::ACCEPTED, true), "dropped");
    let (status, _, reused) = post(&api, &path, Some("first"), json!(3)).await;
    assert_eq!(status, StatusCode::CONFLICT, "{reused}");
    host.until(&view.id, "suspended", WAIT).await;
    // The CLI's key: the second signal, then its repeat dropped.
    for _ in 0..2 {
        host.cli_ok(&[
            "signal",
            &view.id,
            "go",
            "--data",
            "2",
            "--idempotency-key",
            "second",
        ]);
    }
    let done = host.finished(&view.id, WAIT).await;
    assert_eq!(done.output, Some(json!([1, 2])), "{done:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_delayed_invocation_is_scheduled_until_its_time_across_a_restart_and_cancellable() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut host = Host::start(dir.path());
    host.deploy("tg", "reprise_test_guests");

    // Scheduled now, run then.
    let id = host
        .cli_ok(&["invoke", "tg.echo", "--input", "\"later\"", "--delay", "2s"])
        .trim()
        .to_string();
    let status = host.cli_ok(&["status", &id]);
    assert!(status.contains("scheduled"), "{status}");
    let listed = host.cli_ok(&["ls", "--state", "scheduled"]);
    assert!(listed.contains(&id), "{listed}");
    let view = host.status(&id).await;
    let created = view.created_at.clone();
    let done = host.finished(&id, WAIT).await;
    assert_eq!(done.output, Some(json!("later")), "{done:?}");
    let (created, finished) = (
        humantime::parse_rfc3339_weak(&created).expect("created"),
        humantime::parse_rfc3339_weak(done.finished_at.as_deref().expect("finished"))
            .expect("finished"),
    );
    let waited = finished.duration_since(created).expect("after");
    assert!(
        waited >= Duration::from_millis(1900),
        "started early: {waited:?}"
    );

    // Due while the host is down: it runs after the restart.
    let soon = host
        .cli_ok(&[
            "invoke",
            "tg.echo",
            "--input",
            "\"after restart\"",
            "--delay",
            "1s",
        ])
        .trim()
        .to_string();
    let never = host
        .cli_ok(&["invoke", "tg.echo", "--input", "1", "--delay", "1h"])
        .trim()
        .to_string();
    host.kill();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    host.restart();
    let done = host.finished(&soon, WAIT).await;
    assert_eq!(done.output, Some(json!("after restart")), "{done:?}");
    // One an hour away is cancellable, and then never runs.
    assert_eq!(host.status(&never).await.state, "scheduled");
    host.cli_ok(&["cancel", &never]);
    assert_eq!(host.status(&never).await.state, "cancelled");

    // A time already past starts it at once; the API takes RFC 3339 or a delay.
    let api = host.client();
    let body = json!({"function": "tg.echo", "input": 2, "start_at": "2020-01-01T00:00:00Z"});
    let (status, _, past) = post(&api, "/v1/invocations?wait=10", None, body).await;
    assert_eq!(
        (status, &past["output"]),
        (StatusCode::OK, &json!(2)),
        "{past}"
    );
    for (body, says) in [
        (
            json!({"function": "tg.echo", "input": 1, "start_at": "tomorrow"}),
            "not an RFC 3339 time",
        ),
        (
            json!({"function": "tg.echo", "input": 1, "start_at": "2030-01-01T00:00:00Z", "delay_ms": 5}),
            "not both",
        ),
        (
            json!({"function": "tg.echo", "input": 1, "delay_ms": u64::MAX}),
            "ten years",
        ),
    ] {
        let (status, _, answer) = post(&api, "/v1/invocations", None, body.clone()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}: {answer}");
        assert_eq!(answer["error"]["code"], "invalid_start");
        let message = answer["error"]["message"].as_str().unwrap_or_default();
        assert!(message.contains(says), "{message}");
    }
    let refused = host.cli(&["invoke", "tg.echo", "--delay", "soon"]);
    assert!(String::from_utf8_lossy(&refused.stderr).contains("not a duration"));
}

/// POST `/v1/invocations/{id}/{action}`: the status and the answer.
async fn control(api: &ApiClient, id: &str, action: &str) -> (StatusCode, Value) {
    let (status, _, answer) = post(
        api,
        &format!("/v1/invocations/{id}/{action}"),
        None,
        Value::Null,
    )
    .await;
    (status, answer)
}

#[tokio::test(flavor = "multi_thread")]
async fn pause_stops_a_running_or_waiting_invocation_and_resume_goes_on_where_it_was() {
    let probe = reprise_tests::probe::Probe::start().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let mut host = Host::start(dir.path());
    host.deploy("tg", "reprise_test_guests");
    let api = host.client();

    // Running: held in its first HTTP step, paused, it takes no step and sends nothing more.
    let url = format!("{}/hold", probe.url());
    let view = host
        .invoke("tg.steps", json!({"url": url, "count": 3}))
        .await;
    probe.wait_for("/hold", 1, WAIT).await;
    let (status, paused) = control(&api, &view.id, "pause").await;
    assert_eq!(
        (status, &paused["state"]),
        (StatusCode::ACCEPTED, &json!("paused")),
        "{paused}"
    );
    probe.open_gate();
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(host.status(&view.id).await.state, "paused");
    assert_eq!(
        host.journal(&view.id).await.steps.len(),
        0,
        "no step while paused"
    );
    assert_eq!(probe.seen().len(), 1, "nothing sent while paused");
    // Paused across a restart too; a second pause changes nothing; resume is a no-op error
    // on an invocation that is not paused.
    host.kill();
    host.restart();
    let api = host.client();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(host.status(&view.id).await.state, "paused");
    assert_eq!(
        control(&api, &view.id, "pause").await.0,
        StatusCode::ACCEPTED
    );
    let printed = host.cli_ok(&["resume", &view.id]);
    assert!(printed.contains(&view.id), "{printed}");
    let done = host.finished(&view.id, WAIT).await;
    assert_eq!(done.state, "completed", "{done:?}");
    // The held request was sent again (it was in flight), then the other two: four in all.
    assert_eq!(probe.seen().len(), 4);
    let (status, answer) = control(&api, &view.id, "resume").await;
    assert_eq!(status, StatusCode::CONFLICT, "{answer}");

    // Suspended: a signal that arrives while paused is kept, but does not wake it; resume
    // wakes it and it goes on with its journal.
    let waiting = host
        .invoke("tg.signals", json!({"names": ["a", "b"]}))
        .await;
    host.signal(&waiting.id, "a", json!(1)).await;
    host.until(&waiting.id, "suspended", WAIT).await;
    host.cli_ok(&["pause", &waiting.id]);
    host.signal(&waiting.id, "b", json!(2)).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(host.status(&waiting.id).await.state, "paused");
    host.cli_ok(&["resume", &waiting.id]);
    let done = host.finished(&waiting.id, WAIT).await;
    assert_eq!(done.output, Some(json!([1, 2])), "{done:?}");

    // Still waiting when resumed: suspended again. Scheduled: does not start while paused.
    let waiting = host.invoke("tg.signals", json!({"names": ["c"]})).await;
    host.until(&waiting.id, "suspended", WAIT).await;
    control(&api, &waiting.id, "pause").await;
    control(&api, &waiting.id, "resume").await;
    assert_eq!(host.status(&waiting.id).await.state, "suspended");
    let later = host
        .cli_ok(&["invoke", "tg.echo", "--input", "3", "--delay", "1s"])
        .trim()
        .to_string();
    host.cli_ok(&["pause", &later]);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(host.status(&later).await.state, "paused");
    host.cli_ok(&["resume", &later]);
    assert_eq!(host.finished(&later, WAIT).await.output, Some(json!(3)));
    // A paused one can be cancelled; a finished one cannot be paused.
    control(&api, &waiting.id, "pause").await;
    host.cli_ok(&["cancel", &waiting.id]);
    assert_eq!(host.status(&waiting.id).await.state, "cancelled");
    let (status, answer) = control(&api, &waiting.id, "pause").await;
    assert_eq!(status, StatusCode::CONFLICT, "{answer}");
    assert_eq!(answer["error"]["code"], "invocation_finished");
    let listed = host.cli_ok(&["ls", "--state", "paused"]);
    assert!(!listed.contains(&waiting.id), "{listed}");
}

#[tokio::test(flavor = "multi_thread")]
async fn retention_removes_exactly_the_finished_work_that_is_due() {
    let dir = tempfile::tempdir().expect("tempdir");
    // No background sweep in this part: `gc` runs it.
    let host = Host::start_with(dir.path(), &["--sweep-every-secs", "3600"]);
    host.deploy("tg", "reprise_test_guests");
    let api = host.client();
    let (key, short) = host.create_tenant("short");
    host.deploy_as(&key, "tg", "reprise_test_guests", None);
    let stored = async |api: &ApiClient| -> u64 {
        let stats: Value = api.get("/v1/stats").await.expect("stats");
        stats["stored_bytes"].as_u64().expect("stored_bytes")
    };
    let deployed = stored(&short).await;

    // Finished work (one under an idempotency key), and work still waiting.
    let (_, _, keyed) = invoke(&short, "k1", "tg.random_steps", json!({"count": 20})).await;
    let keyed = keyed["id"].as_str().expect("id").to_string();
    let body = json!({"function": "tg.fail_error", "input": {"message": "no"}});
    let (_, _, failed) = post(&short, "/v1/invocations?wait=30", None, body).await;
    let failed = failed["id"].as_str().expect("id").to_string();
    let (_, _, waiting) = post(
        &short,
        "/v1/invocations",
        None,
        json!({"function": "tg.signals", "input": {"names": ["never"]}}),
    )
    .await;
    let waiting = waiting["id"].as_str().expect("id").to_string();
    let keyed_view: InvocationView = short
        .get(&format!("/v1/invocations/{keyed}?wait=30"))
        .await
        .expect("keyed");
    assert_eq!(keyed_view.state, "completed");
    let mine = host.invoke("tg.echo", json!("kept")).await;
    host.finished(&mine.id, WAIT).await;
    assert!(stored(&short).await > deployed);

    // With the default retention nothing is due; with one second, the two finished ones.
    let dry = host.cli_ok(&["--token", &key, "gc", "--dry-run"]);
    assert!(dry.contains("would remove 0 finished"), "{dry}");
    host.cli_ok(&["tenant", "set", "short", "retention_secs=1"]);
    // Due a second after they finished, and once their journals are checkpointed.
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        let dry = host.cli_ok(&["--token", &key, "gc", "--dry-run"]);
        if dry.contains("would remove 2 finished") {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{dry}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(all(&short).await.len(), 3, "a dry run removes nothing");
    let swept = host.cli_ok(&["--token", &key, "gc"]);
    assert!(swept.contains("removed 2 finished"), "{swept}");

    // Exactly those went: records, journals, counts, bytes; the key makes a new one now.
    let left: Vec<String> = all(&short).await.into_iter().map(|v| v.id).collect();
    assert_eq!(left, vec![waiting.clone()]);
    for gone in [&keyed, &failed] {
        let (status, _) = reprise_tests::host::ask(
            &short,
            Method::GET,
            &format!("/v1/invocations/{gone}/journal"),
            Value::Null,
        )
        .await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{gone}");
    }
    let stats: Value = short.get("/v1/stats").await.expect("stats");
    assert_eq!(stats["invocations"], json!({"suspended": 1}), "{stats}");
    assert!(
        stats["stored_bytes"].as_u64().expect("bytes") < deployed + 200,
        "freed: {stats}"
    );
    let (_, replayed, again) = invoke(&short, "k1", "tg.random_steps", json!({"count": 20})).await;
    assert!(!replayed, "{again}");
    assert_ne!(again["id"], json!(keyed));
    // Another tenant's finished work is its own retention's (seven days).
    assert_eq!(host.status(&mine.id).await.state, "completed");
    drop(api);

    // The background sweep does the same on its own.
    let dir = tempfile::tempdir().expect("tempdir");
    let host = Host::start_with(dir.path(), &["--sweep-every-secs", "1"]);
    host.deploy("tg", "reprise_test_guests");
    host.cli_ok(&["tenant", "set", "default", "retention_secs=1"]);
    let view = host.invoke("tg.echo", json!(1)).await;
    host.finished(&view.id, WAIT).await;
    let deadline = std::time::Instant::now() + WAIT;
    while !all(&host.client()).await.is_empty() {
        assert!(std::time::Instant::now() < deadline, "never swept");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_bulk_cancel_takes_exactly_the_ten_thousand_matches() {
    let dir = tempfile::tempdir().expect("tempdir");
    let host = Host::start(dir.path());
    host.deploy("tg", "reprise_test_guests");
    let count = 10_000;
    let mut makers = Vec::new();
    for maker in 0..32 {
        let api = host.client();
        makers.push(tokio::spawn(async move {
            let input = json!({"names": ["never"]});
            for _ in (maker..count).step_by(32) {
                reprise_tests::host::post_invocation(&api, "tg.signals", &input, None)
                    .await
                    .expect("invoke");
            }
        }));
    }
    for maker in makers {
        maker.await.expect("maker");
    }
    // Others that the filter must leave: another function suspended, a finished one.
    let dozing = host.invoke("tg.doze", json!({"millis": 3_600_000})).await;
    let echo = host.invoke("tg.echo", json!(1)).await;
    host.finished(&echo.id, WAIT).await;
    let api = host.client();
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        let stats: Value = api.get("/v1/stats").await.expect("stats");
        if stats["invocations"]["suspended"] == json!(count + 1) {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{stats}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    let filter = "state=suspended function=tg.signals";
    let dry = host.cli_ok(&["cancel", "--filter", filter, "--dry-run"]);
    assert!(dry.contains("10000 invocations match (dry run"), "{dry}");
    let out = host.cli(&["cancel", "--filter", filter]);
    assert!(out.status.success());
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert!(
        stdout.contains("cancel: 10000 of 10000 matching invocations (0 skipped)"),
        "{stdout}"
    );
    // Not a terminal: a plain progress line per page.
    assert_eq!(
        stderr.lines().filter(|l| l.starts_with("cancel: ")).count(),
        10,
        "{stderr}"
    );
    let stats: Value = api.get("/v1/stats").await.expect("stats");
    assert_eq!(stats["invocations"]["cancelled"], json!(count), "{stats}");
    assert_eq!(stats["invocations"]["suspended"], json!(1), "{stats}");
    assert_eq!(host.status(&dozing.id).await.state, "suspended");
    // Pause and resume by filter; bad requests name what is wrong.
    let paused = host.cli_ok(&["pause", "--filter", "function=tg.doze state=suspended"]);
    assert!(paused.contains("pause: 1 of 1"), "{paused}");
    assert_eq!(host.status(&dozing.id).await.state, "paused");
    host.cli_ok(&["resume", "--filter", "state=paused"]);
    assert_eq!(host.status(&dozing.id).await.state, "suspended");
    let refused = host.cli(&["cancel", "--filter", "colour=red"]);
    assert!(String::from_utf8_lossy(&refused.stderr).contains("no key `colour`"));
    for (body, code) in [
        (json!({"action": "fork", "filter": ""}), "invalid_action"),
        (json!({"action": "rewind", "filter": ""}), "invalid_step"),
        (
            json!({"action": "cancel", "filter": "", "to_step": 1}),
            "invalid_request",
        ),
        (
            json!({"action": "cancel", "filter": "since=soon"}),
            "invalid_filter",
        ),
        (json!({"action": "cancel", "limit": 0}), "invalid_limit"),
    ] {
        let (status, _, answer) = post(&api, "/v1/invocations/bulk", None, body).await;
        assert_eq!(
            (status, &answer["error"]["code"]),
            (StatusCode::BAD_REQUEST, &json!(code))
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_repeat_gets_the_first_invocation_even_when_the_tenant_is_at_its_quota() {
    let dir = tempfile::tempdir().expect("tempdir");
    let host = Host::start(dir.path());
    let (key, full) = host.create_tenant("full");
    host.deploy_as(&key, "tg", "reprise_test_guests", None);
    host.cli_ok(&["tenant", "set", "full", "max_waiting=1"]);
    let waiting = json!({"names": ["never"]});
    let (status, _, first) = invoke(&full, "w1", "tg.signals", waiting.clone()).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{first}");
    let (status, _, busy) = invoke(&full, "w2", "tg.signals", waiting.clone()).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{busy}");
    let (status, replayed, again) = invoke(&full, "w1", "tg.signals", waiting).await;
    assert_eq!((status, replayed), (StatusCode::ACCEPTED, true), "{again}");
    assert_eq!(again["id"], first["id"]);
}
