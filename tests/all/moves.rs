//! Moving invocations between hosts: bundles exported and imported (and bad ones refused with
//! nothing changed), live migration of a sleeping and a running invocation with forwarding
//! at the source, node authentication, and SIGKILLs of either end during a migration.

use std::collections::HashMap;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use hyper::{Method, StatusCode};
use rand::Rng;
use reprise_tests::host::{Host, InvocationView, ask, reprise_bin};
use reprise_tests::probe::{Probe, step_value};
use serde_json::{Value, json};

const WAIT: Duration = Duration::from_secs(60);
const CLUSTER_KEY: &str = "test-cluster-key-0123456789abcdef";

/// A free loopback address (for a host that must keep its port across restarts).
fn free_addr() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("addr").to_string()
}

/// A host in a cluster: it reaches loopback, has the cluster key, and keeps its address.
fn node(data: &Path, key_file: &Path) -> Host {
    let key = key_file.to_str().expect("utf-8 path");
    Host::start_listening(
        data,
        &free_addr(),
        &["--allow-egress", "127.0.0.0/8", "--cluster-key-file", key],
    )
}

fn key_file(dir: &Path) -> std::path::PathBuf {
    let path = dir.join("cluster.key");
    std::fs::write(&path, CLUSTER_KEY).expect("write key");
    path
}

fn stderr(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Every step of `id`'s journal on `host`, as JSON.
async fn steps(host: &Host, id: &str) -> Vec<Value> {
    let journal = host.journal(id).await;
    journal
        .steps
        .iter()
        .map(|s| serde_json::to_value(s).expect("step JSON"))
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_bundle_moves_a_sleeping_invocation_and_bad_bundles_change_nothing() {
    let (da, db) = (
        tempfile::tempdir().expect("test step failed"),
        tempfile::tempdir().expect("test step failed"),
    );
    let mut a = Host::start(da.path());
    let b = Host::start(db.path());
    a.deploy("tg", "reprise_test_guests");
    let view = a
        .invoke("tg.random_steps", json!({"count": 3, "sleep_ms": 8000}))
        .await;
    a.until(&view.id, "suspended", WAIT).await;
    let before = steps(&a, &view.id).await;
    let file = da.path().join("x.bundle");
    let file_arg = file.to_str().expect("test step failed");
    a.cli_ok(&["export", &view.id, "-o", file_arg]);

    // The exporting host keeps a record saying where it went, and runs it no more.
    let moved = a.status(&view.id).await;
    assert_eq!(moved.state, "moved");
    let refused = a.cli(&["signal", &view.id, "go"]);
    assert!(!refused.status.success());
    assert!(
        stderr(&refused).contains("was exported as a bundle"),
        "{}",
        stderr(&refused)
    );
    a.kill();
    a.restart();
    assert_eq!(a.status(&view.id).await.state, "moved");

    // Bad bundles are refused, naming what is wrong, and change nothing.
    let bytes = std::fs::read(&file).expect("test step failed");
    let mut flipped = bytes.clone();
    let middle = flipped.len() / 2;
    flipped[middle] ^= 0x40;
    let mut foreign = bytes.clone();
    foreign[8] = 99;
    let bad_file = db.path().join("bad.bundle");
    let bad_arg = bad_file.to_str().expect("test step failed");
    for (bad, expected) in [
        (bytes[..bytes.len() - 10].to_vec(), "corrupt or truncated"),
        (bytes[..12].to_vec(), "corrupt or truncated"),
        (flipped, "corrupt or truncated"),
        (foreign, "bundle format 99 is not supported"),
        (b"hello, world".to_vec(), "not a Reprise bundle"),
    ] {
        std::fs::write(&bad_file, &bad).expect("test step failed");
        let out = b.cli(&["import", bad_arg]);
        assert!(!out.status.success());
        assert!(
            stderr(&out).contains(expected) && stderr(&out).contains("(invalid_bundle)"),
            "{expected}: {}",
            stderr(&out)
        );
    }
    let (other_key, _) = b.create_tenant("other");
    let out = b.cli(&["--token", &other_key, "import", file_arg]);
    assert!(
        stderr(&out).contains("another tenant") && stderr(&out).contains("(other_tenant)"),
        "{}",
        stderr(&out)
    );
    let listed: Value =
        serde_json::from_str(&b.cli_ok(&["ls", "--json"])).expect("test step failed");
    assert_eq!(listed["invocations"].as_array().map(Vec::len), Some(0));
    assert!(!b.cli_ok(&["deployments"]).contains("tg"));

    // The bundle itself: the importing host owns it, brings its deployment, and completes it
    // from its journal.
    let text = b.cli_ok(&["import", file_arg]);
    assert!(text.contains("imported: suspended"), "{text}");
    assert!(b.cli_ok(&["deployments"]).contains("tg"));
    let done = b.finished(&view.id, WAIT).await;
    assert_eq!(done.state, "completed", "{:?}", done.error);
    let after = steps(&b, &view.id).await;
    assert_eq!(
        after[..before.len()],
        before[..],
        "the journal moved unchanged"
    );
    let again = b.cli(&["import", file_arg]);
    assert!(
        stderr(&again).contains("(already_imported)"),
        "{}",
        stderr(&again)
    );

    // Imported back where it came from, it is that host's again.
    let view2 = b
        .invoke("tg.random_steps", json!({"count": 1, "sleep_ms": 2000}))
        .await;
    b.until(&view2.id, "suspended", WAIT).await;
    let back = db.path().join("back.bundle");
    b.cli_ok(&[
        "export",
        &view2.id,
        "-o",
        back.to_str().expect("test step failed"),
    ]);
    b.cli_ok(&["import", back.to_str().expect("test step failed")]);
    let done = b.finished(&view2.id, WAIT).await;
    assert_eq!(done.state, "completed", "{:?}", done.error);
}

#[tokio::test(flavor = "multi_thread")]
async fn migrate_moves_a_sleeping_and_a_running_invocation_and_the_source_forwards() {
    let keys = tempfile::tempdir().expect("test step failed");
    let key = key_file(keys.path());
    let (da, db) = (
        tempfile::tempdir().expect("test step failed"),
        tempfile::tempdir().expect("test step failed"),
    );
    let a = node(da.path(), &key);
    let b = node(db.path(), &key);
    let probe = Probe::start().await;
    a.deploy("tg", "reprise_test_guests");

    // A sleeping one.
    let url = format!("{}/step", probe.url());
    let sleeping = a
        .invoke(
            "tg.steps",
            json!({"url": url, "count": 2, "sleep_ms": 6000}),
        )
        .await;
    a.until(&sleeping.id, "suspended", WAIT).await;
    let text = a.cli_ok(&["migrate", &sleeping.id, "--to", &b.url]);
    assert!(text.contains(&format!("moved to {}", b.url)), "{text}");
    assert_eq!(b.status(&sleeping.id).await.state, "suspended");
    // The source answers with a redirect to where it went (the same method and path).
    let path = format!("/v1/invocations/{}", sleeping.id);
    let response = a
        .api
        .response(Method::GET, &path, "application/json", &[], Vec::new())
        .await
        .expect("test step failed");
    assert_eq!(response.status(), StatusCode::TEMPORARY_REDIRECT);
    assert_eq!(
        response.headers()["location"]
            .to_str()
            .expect("test step failed"),
        format!("{}{path}", b.url)
    );
    let signal = format!("{path}/signals/x");
    let (status, _) = a
        .api
        .raw(Method::POST, &signal, "application/json", b"1".to_vec())
        .await
        .expect("test step failed");
    assert_eq!(status, StatusCode::TEMPORARY_REDIRECT);
    let done = b.finished(&sleeping.id, WAIT).await;
    assert_eq!(done.state, "completed", "{:?}", done.error);
    assert_eq!(
        done.output.expect("test step failed")["values"],
        json!([1, 2])
    );

    // A running one, in the middle of an HTTP step: the step ends and is journaled here,
    // the next is taken there.
    let held = format!("{}/hold", probe.url());
    let running = a.invoke("tg.steps", json!({"url": held, "count": 3})).await;
    probe.wait_for("/hold", 1, WAIT).await;
    let migrate = {
        let (url, id, to) = (a.url.clone(), running.id.clone(), b.url.clone());
        let data = da.path().to_path_buf();
        std::thread::spawn(move || {
            Command::new(reprise_bin())
                .args(["migrate", &id, "--to", &to, "--url", &url])
                .env("REPRISE_DATA", &data)
                .stdin(Stdio::null())
                .output()
                .expect("run migrate")
        })
    };
    tokio::time::sleep(Duration::from_millis(500)).await;
    probe.open_gate();
    let out = migrate.join().expect("test step failed");
    assert!(out.status.success(), "{}", stderr(&out));
    let done = b.finished(&running.id, WAIT).await;
    assert_eq!(done.state, "completed", "{:?}", done.error);
    assert_eq!(
        done.output.expect("test step failed")["values"],
        json!([1, 2, 5])
    );
    let sent: Vec<_> = probe
        .seen()
        .into_iter()
        .filter(|s| s.path == "/hold")
        .collect();
    assert_eq!(sent.len(), 3, "each step sent once: {sent:?}");
    assert_eq!(steps(&b, &running.id).await.len(), 3);

    // A parent waiting on unfinished children moves live only (they report their ends to
    // its new node), not as a bundle file.
    let parent = a
        .invoke(
            "tg.fan_out",
            json!({"count": 2, "plan": {"sleep_ms": 6000}}),
        )
        .await;
    a.until(&parent.id, "suspended", WAIT).await;
    let out = a.cli(&["export", &parent.id]);
    assert!(
        stderr(&out).contains("has not finished") && stderr(&out).contains("(linked)"),
        "{}",
        stderr(&out)
    );
    // A child of an unfinished parent moves live only (its node reports its end back).
    let child = a.children(&parent.id).await.remove(0);
    let out = a.cli(&["export", &child.id]);
    assert!(
        stderr(&out).contains("not as a bundle file") && stderr(&out).contains("(linked)"),
        "{}",
        stderr(&out)
    );
    let done = a.finished(&parent.id, WAIT).await;
    assert_eq!(done.state, "completed", "{:?}", done.error);

    // A parent whose children have finished moves, and their records go with it: its
    // gather on the target reads their outputs there.
    let parent = a
        .invoke("tg.fan_out", json!({"count": 3, "nap_ms": 4000}))
        .await;
    a.until(&parent.id, "suspended", WAIT).await;
    for child in a.children(&parent.id).await {
        a.finished(&child.id, WAIT).await;
    }
    a.cli_ok(&["migrate", &parent.id, "--to", &b.url]);
    let done = b.finished(&parent.id, WAIT).await;
    assert_eq!(done.state, "completed", "{:?}", done.error);
    assert_eq!(done.output, Some(json!({"count": 3, "sum": 6})));
    assert_eq!(b.children(&parent.id).await.len(), 3);

    // Only nodes with the cluster key take moves.
    let bundle = b"RPRSBNDL".to_vec();
    for token in [None, Some("wrong-key-wrong-key-wrong")] {
        let client = b.client_as(token);
        let (status, _) = client
            .raw(
                Method::POST,
                "/v1/node/arrivals",
                "application/octet-stream",
                bundle.clone(),
            )
            .await
            .expect("test step failed");
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    let lone_dir = tempfile::tempdir().expect("test step failed");
    let lone = Host::start(lone_dir.path());
    lone.deploy("tg", "reprise_test_guests");
    let v = lone.invoke("tg.nap", json!({"millis": 5000})).await;
    lone.until(&v.id, "suspended", WAIT).await;
    let out = lone.cli(&["migrate", &v.id, "--to", &b.url]);
    assert!(stderr(&out).contains("no cluster key"), "{}", stderr(&out));
    assert_eq!(lone.status(&v.id).await.state, "suspended");
}

/// Who owns invocation `id`, as the two hosts say: each host's state (`None`: no record).
async fn owners(a: &Host, b: &Host, id: &str) -> (Option<InvocationView>, Option<InvocationView>) {
    async fn state(host: &Host, id: &str) -> Option<InvocationView> {
        let path = format!("/v1/invocations/{id}");
        let (status, body) = host
            .api
            .raw(Method::GET, &path, "application/json", Vec::new())
            .await
            .ok()?;
        match status {
            StatusCode::OK => serde_json::from_slice(&body).ok(),
            StatusCode::TEMPORARY_REDIRECT | StatusCode::SERVICE_UNAVAILABLE => Some(
                serde_json::from_value(json!({
                    "id": id, "function": "", "component": "", "state": "moved",
                    "parent": null, "attempts": 0, "created_at": "", "updated_at": "",
                    "finished_at": null, "input": null, "output": null, "error": null,
                    "waiting": null
                }))
                .ok()?,
            ),
            _ => None,
        }
    }
    (state(a, id).await, state(b, id).await)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_migration_survives_a_sigkill_of_either_end_with_one_owner_and_no_step_twice() {
    let keys = tempfile::tempdir().expect("test step failed");
    let key = key_file(keys.path());
    let (da, db) = (
        tempfile::tempdir().expect("test step failed"),
        tempfile::tempdir().expect("test step failed"),
    );
    let mut a = node(da.path(), &key);
    let mut b = node(db.path(), &key);
    let probe = Probe::start().await;
    a.deploy("tg", "reprise_test_guests");
    let trials: u32 = std::env::var("REPRISE_MIGRATION_TRIALS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(20);
    let mut rng = rand::rng();
    let mut outcomes: HashMap<&str, u32> = HashMap::new();
    for trial in 0..trials * 2 {
        let kill_source = trial % 2 == 0;
        let url = format!("{}/t{trial}", probe.url());
        let view = a
            .invoke("tg.steps", json!({"url": url, "count": 3, "sleep_ms": 300}))
            .await;
        // Sometimes running, sometimes suspended.
        tokio::time::sleep(Duration::from_millis(rng.random_range(0..400))).await;
        let mut migrate = Command::new(reprise_bin())
            .args(["migrate", &view.id, "--to", &b.url, "--url", &a.url])
            .env("REPRISE_DATA", da.path())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn migrate");
        tokio::time::sleep(Duration::from_millis(rng.random_range(0..250))).await;
        if kill_source {
            a.kill();
        } else {
            b.kill();
        }
        let _ = migrate.wait();
        tokio::time::sleep(Duration::from_millis(rng.random_range(0..300))).await;
        if kill_source {
            a.restart();
        } else {
            b.restart();
        }
        // It ends on exactly one of them: the other has no record or forwards.
        let deadline = Instant::now() + WAIT;
        let done = loop {
            let (at_a, at_b) = owners(&a, &b, &view.id).await;
            let a_owns = at_a.as_ref().is_some_and(|v| v.state != "moved");
            let b_owns = at_b.as_ref().is_some_and(|v| v.state != "moved");
            assert!(!(a_owns && b_owns), "trial {trial}: both own {}", view.id);
            let owner = if a_owns {
                at_a
            } else {
                at_b.filter(|_| b_owns)
            };
            if let Some(v) = owner.filter(|v| v.finished_at.is_some()) {
                let what = match (kill_source, a_owns) {
                    (true, true) => "source killed, stayed",
                    (true, false) => "source killed, moved",
                    (false, true) => "target killed, stayed",
                    (false, false) => "target killed, moved",
                };
                *outcomes.entry(what).or_default() += 1;
                break v;
            }
            assert!(
                Instant::now() < deadline,
                "trial {trial}: {} never finished",
                view.id
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        assert_eq!(done.state, "completed", "trial {trial}: {:?}", done.error);
        let values = &done.output.as_ref().expect("test step failed")["values"];
        assert_eq!(
            *values,
            json!([step_value(0), step_value(1), step_value(2)])
        );
        // A request repeated after a crash carries the key of the one before: no journaled
        // step was taken twice.
        let path = format!("/t{trial}");
        let mut keys: HashMap<u64, Vec<String>> = HashMap::new();
        for seen in probe.seen().into_iter().filter(|s| s.path == path) {
            let i: Value = serde_json::from_slice(&seen.body).expect("test step failed");
            keys.entry(i["i"].as_u64().expect("test step failed"))
                .or_default()
                .push(seen.key);
        }
        assert_eq!(keys.len(), 3, "trial {trial}: {keys:?}");
        for (i, ks) in &keys {
            assert!(
                ks.iter().all(|k| *k == ks[0]),
                "trial {trial}: step {i} twice: {ks:?}"
            );
        }
        // Both hosts agree on where it is after the move.
        let (at_a, at_b) = owners(&a, &b, &view.id).await;
        assert!(at_a.is_some(), "trial {trial}: the source lost its record");
        if at_b.as_ref().is_some_and(|v| v.state != "moved") {
            assert_eq!(at_a.expect("test step failed").state, "moved");
        }
    }
    eprintln!("migration trials: {outcomes:?}");
    let moved = outcomes.iter().filter(|(k, _)| k.ends_with("moved"));
    assert!(moved.map(|(_, n)| n).sum::<u32>() > 0, "{outcomes:?}");
}

/// How many of the `default` tenant's invocations on `host` are in `state`.
async fn count(host: &Host, state: &str) -> u64 {
    let (_, body) = host
        .api
        .raw(Method::GET, "/v1/stats", "application/json", Vec::new())
        .await
        .expect("stats");
    let stats: Value = serde_json::from_slice(&body).expect("stats JSON");
    stats["invocations"][state].as_u64().unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_drain_moves_a_thousand_suspended_invocations_which_complete_on_the_target() {
    let keys = tempfile::tempdir().expect("tempdir");
    let key = key_file(keys.path());
    let (da, db) = (
        tempfile::tempdir().expect("tempdir"),
        tempfile::tempdir().expect("tempdir"),
    );
    let a = node(da.path(), &key);
    let b = node(db.path(), &key);
    a.deploy("tg", "reprise_test_guests");
    let n = 1000;
    // Each waits for a signal that only comes once it is on the target.
    let mut ids = Vec::new();
    for _ in 0..n {
        ids.push(a.invoke("tg.signals", json!({"names": ["go"]})).await.id);
    }
    let deadline = Instant::now() + WAIT;
    while count(&a, "suspended").await < n {
        assert!(
            Instant::now() < deadline,
            "the invocations did not all suspend"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // And a parent waiting on two children that sleep: all three go, in whatever order.
    let plan = json!({"sleep_ms": 20000});
    let parent = a
        .invoke("tg.fan_out", json!({"count": 2, "plan": plan}))
        .await
        .id;
    let deadline = Instant::now() + WAIT;
    while count(&a, "suspended").await < n + 3 {
        assert!(Instant::now() < deadline, "the family did not suspend");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let started = Instant::now();
    let text = a.cli_ok(&["drain", "--to", &b.url]);
    eprintln!("drained {n} in {:?}", started.elapsed());
    let all = n + 3;
    assert!(
        text.contains(&format!("{all} moved, 0 left here")),
        "{text}"
    );
    assert_eq!(count(&a, "moved").await, all);
    assert_eq!(count(&a, "suspended").await, 0);
    // A draining host takes no new work.
    let refused = a.cli(&["invoke", "tg.nap", "--input", "{\"millis\": 1}"]);
    assert!(
        stderr(&refused).contains("(draining)"),
        "{}",
        stderr(&refused)
    );
    assert_eq!(count(&b, "suspended").await, all);
    for id in &ids {
        b.signal(id, "go", json!(1)).await;
    }
    let deadline = Instant::now() + WAIT;
    while count(&b, "completed").await < n {
        assert!(
            Instant::now() < deadline,
            "only {} completed on the target",
            count(&b, "completed").await
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let done = b.finished(&parent, WAIT).await;
    assert_eq!(done.state, "completed", "{:?}", done.error);
    assert_eq!(done.output, Some(json!({"count": 2, "sum": 2})));
    for kid in b.children(&parent).await {
        assert_eq!(b.status(&kid.id).await.state, "completed");
    }
}

/// Polls `host` until it answers for `id` itself (not with a redirect) in state `state`.
async fn settled_on(host: &Host, id: &str, state: &str) -> Value {
    let deadline = std::time::Instant::now() + WAIT;
    let path = format!("/v1/invocations/{id}");
    loop {
        let (status, body) = ask(&host.api, Method::GET, &path, Value::Null).await;
        if status == StatusCode::OK && body["state"] == state {
            return body;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{id} still answers {status} {body}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The children of `parent` on `host`, by their number (`n` in their input).
async fn children_by_n(host: &Host, parent: &str) -> Vec<InvocationView> {
    let mut children = host.children(parent).await;
    children.sort_by_key(|c| c.input["n"].as_u64());
    children
}

/// A `tg.fan_out` parent on `host` with `count` children of `plan`, once it and they are
/// all suspended: its id and its children, by their number.
async fn suspended_family(host: &Host, count: u64, plan: Value) -> (String, Vec<InvocationView>) {
    let parent = host
        .invoke("tg.fan_out", json!({"count": count, "plan": plan}))
        .await
        .id;
    host.until(&parent, "suspended", WAIT).await;
    let kids = children_by_n(host, &parent).await;
    assert_eq!(kids.len() as u64, count);
    for kid in &kids {
        host.until(&kid.id, "suspended", WAIT).await;
    }
    (parent, kids)
}

/// The numbers of the first `count` children that posted to `/kids` on `probe`, sorted.
async fn posted_numbers(probe: &Probe, count: usize) -> Vec<u64> {
    let posts = probe.wait_for("/kids", count, WAIT).await;
    let mut ns: Vec<u64> = posts
        .iter()
        .map(|p| {
            serde_json::from_slice::<Value>(&p.body).expect("JSON")["n"]
                .as_u64()
                .expect("n")
        })
        .collect();
    ns.sort_unstable();
    ns
}

/// How many waits the journal of `id` on `host` holds.
async fn waits_in(host: &Host, id: &str) -> usize {
    let journal = host.journal(id).await;
    journal.steps.iter().filter(|s| s.kind == "await").count()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_parent_whose_children_moved_to_two_other_nodes_completes_once_and_cancels_them() {
    let keys = tempfile::tempdir().expect("tempdir");
    let key = key_file(keys.path());
    let dirs: Vec<tempfile::TempDir> = (0..3)
        .map(|_| tempfile::tempdir().expect("tempdir"))
        .collect();
    let a = node(dirs[0].path(), &key);
    let b = node(dirs[1].path(), &key);
    let mut c = node(dirs[2].path(), &key);
    let probe = Probe::start().await;
    a.deploy("tg", "reprise_test_guests");

    // A parent on A with four sleeping children: two go to B, one to C, one stays; one of
    // those on B comes back to A; one cannot go on from B to C (its parent is on A).
    let url = format!("{}/kids", probe.url());
    let plan = json!({"sleep_ms": 8000, "url": url});
    let (parent, kids) = suspended_family(&a, 4, plan).await;
    for (kid, to) in [(&kids[0], &b), (&kids[1], &b), (&kids[2], &c)] {
        let out = a.cli_ok(&["migrate", &kid.id, "--to", &to.url]);
        assert!(out.contains("moved to"), "{out}");
    }
    let refused = b.cli(&["migrate", &kids[0].id, "--to", &c.url]);
    assert!(
        stderr(&refused).contains("it can only move back there"),
        "{}",
        stderr(&refused)
    );
    b.cli_ok(&["migrate", &kids[1].id, "--to", &a.url]);
    assert_eq!(a.status(&kids[1].id).await.state, "suspended");

    // Each child ends where it is; the parent takes every end once and completes.
    let done = a.finished(&parent, WAIT).await;
    assert_eq!(done.state, "completed", "{:?}", done.error);
    assert_eq!(done.output, Some(json!({"count": 4, "sum": 12})));
    assert_eq!(
        posted_numbers(&probe, 4).await,
        [0, 1, 2, 3],
        "each child ran once"
    );
    for (kid, owner) in [(&kids[0], &b), (&kids[2], &c)] {
        assert_eq!(owner.status(&kid.id).await.state, "completed");
        // Its parent's node holds its end too, and answers for it.
        let home = settled_on(&a, &kid.id, "completed").await;
        assert_eq!(home["output"], json!(owner.status(&kid.id).await.output));
    }
    assert_eq!(waits_in(&a, &parent).await, 1, "one wait, counted once");

    // Cancelling a parent cancels its moved children, also on a node that was down when
    // the parent was cancelled: the cancel waits in the outbox until it is taken.
    let plan = json!({"sleep_ms": 600000});
    let (parent, kids) = suspended_family(&a, 2, plan).await;
    a.cli_ok(&["migrate", &kids[0].id, "--to", &b.url]);
    a.cli_ok(&["migrate", &kids[1].id, "--to", &c.url]);
    c.kill();
    a.cli_ok(&["cancel", &parent]);
    assert_eq!(a.status(&parent).await.state, "cancelled");
    assert_eq!(
        b.until(&kids[0].id, "cancelled", WAIT).await.state,
        "cancelled"
    );
    tokio::time::sleep(Duration::from_secs(2)).await;
    c.restart();
    assert_eq!(
        c.until(&kids[1].id, "cancelled", WAIT).await.state,
        "cancelled"
    );
    for kid in &kids {
        settled_on(&a, &kid.id, "cancelled").await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_parent_that_moved_away_from_its_children_completes_once_and_cancels_them() {
    let keys = tempfile::tempdir().expect("test step failed");
    let key = key_file(keys.path());
    let dirs: Vec<_> = (0..3)
        .map(|_| tempfile::tempdir().expect("test step failed"))
        .collect();
    let a = node(dirs[0].path(), &key);
    let b = node(dirs[1].path(), &key);
    let c = node(dirs[2].path(), &key);
    let probe = Probe::start().await;
    a.deploy("tg", "reprise_test_guests");

    // Three children on A; one moves to C, then the parent to B, then another child to B
    // (where its parent now is); the third stays on A.
    let plan = json!({"sleep_ms": 5000, "url": format!("{}/kids", probe.url())});
    let (parent, kids) = suspended_family(&a, 3, plan).await;
    a.cli_ok(&["migrate", &kids[2].id, "--to", &c.url]);
    a.cli_ok(&["migrate", &parent, "--to", &b.url]);
    assert_eq!(b.status(&parent).await.state, "suspended");
    let refused = a.cli(&["migrate", &kids[0].id, "--to", &c.url]);
    assert!(
        stderr(&refused).contains(&format!("lives on {}", b.url)),
        "{}",
        stderr(&refused)
    );
    a.cli_ok(&["migrate", &kids[1].id, "--to", &b.url]);

    // Each child ends where it is; the parent, on B, takes every end once and completes.
    let done = b.finished(&parent, WAIT).await;
    assert_eq!(done.state, "completed", "{:?}", done.error);
    assert_eq!(done.output, Some(json!({"count": 3, "sum": 6})));
    assert_eq!(
        posted_numbers(&probe, 3).await,
        [0, 1, 2],
        "each child ran once"
    );
    for (kid, owner) in [(&kids[0], &a), (&kids[1], &b), (&kids[2], &c)] {
        assert_eq!(owner.status(&kid.id).await.state, "completed");
        settled_on(&b, &kid.id, "completed").await;
    }
    assert_eq!(waits_in(&b, &parent).await, 1, "one wait, counted once");

    // Cancelling it on B cancels the children it left on A.
    let plan = json!({"sleep_ms": 600000});
    let (parent, kids) = suspended_family(&a, 2, plan).await;
    a.cli_ok(&["migrate", &parent, "--to", &b.url]);
    b.cli_ok(&["cancel", &parent]);
    assert_eq!(b.status(&parent).await.state, "cancelled");
    for kid in &kids {
        assert_eq!(a.until(&kid.id, "cancelled", WAIT).await.state, "cancelled");
        settled_on(&b, &kid.id, "cancelled").await;
    }
}
