//! Versions and upgrades: deploying a new version never moves invocations already running
//! (each completes on its own version); `deployments NAME` counts what runs on each; an
//! upgrade onto code that replays the journal identically moves an invocation over (a running
//! one at its next host call) without repeating a step, one onto code that diverges names
//! the step and changes nothing; `gc` removes old versions nothing unfinished runs on, with
//! their compiled code.

use std::collections::HashSet;
use std::time::Duration;

use reprise_tests::host::{Host, ask};
use reprise_tests::probe::Probe;
use serde_json::{Value, json};

const WAIT: Duration = Duration::from_secs(60);

/// `reprise deployments NAME --json`: (version, unfinished, current) newest first.
fn versions(host: &Host, name: &str) -> Vec<(Option<u64>, u64, bool)> {
    let out = host.cli_ok(&["--json", "deployments", name]);
    let list: Value = serde_json::from_str(&out).expect("versions JSON");
    list["versions"]
        .as_array()
        .expect("versions")
        .iter()
        .map(|v| {
            (
                v["version"].as_u64(),
                v["unfinished"].as_u64().expect("unfinished"),
                v["current"].as_bool().expect("current"),
            )
        })
        .collect()
}

/// The names of the compiled components kept in `data`.
fn compiled(data: &std::path::Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(data.join("compiled"))
        .map(|dir| {
            dir.filter_map(Result::ok)
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.ends_with(".cwasm"))
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

#[tokio::test(flavor = "multi_thread")]
async fn each_invocation_stays_on_its_version_until_an_identical_replay_upgrades_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let probe = Probe::start().await;
    let host = Host::start(dir.path());
    host.deploy("tg", "reprise_test_guests");
    let v1 = host.component_of("tg").await;
    let input = json!({"url": format!("{}/s", probe.url()), "count": 2, "sleep_ms": 8000});
    let mut on_v1 = Vec::new();
    for _ in 0..3 {
        let view = host.invoke("tg.steps", input.clone()).await;
        host.until(&view.id, "suspended", WAIT).await;
        on_v1.push(view.id);
    }
    let (a, c, d) = (&on_v1[0], &on_v1[1], &on_v1[2]);

    // v2 (the same `steps`, other code) while they sleep: new work runs on it, theirs not.
    host.deploy("tg", "reprise_test_guests_fixed");
    let v2 = host.component_of("tg").await;
    assert_ne!(v1, v2);
    let b = host.invoke("tg.steps", input.clone()).await.id;
    host.until(&b, "suspended", WAIT).await;
    // v3 takes other steps.
    host.deploy("tg", "reprise_test_guests_diverged");
    let v3 = host.component_of("tg").await;
    assert_eq!(
        versions(&host, "tg"),
        [(Some(3), 0, true), (Some(2), 1, false), (Some(1), 3, false)]
    );

    // Onto v2: it replays the journal identically, and c moves over.
    let out = host.cli_ok(&["upgrade", c, "--to", "2"]);
    assert!(
        out.contains("upgraded to version 2 after replaying"),
        "{out}"
    );
    assert_eq!(host.status(c).await.component, v2);
    // Onto v3: the step it asks for differently is named, and d stays where it was.
    let journal_before = host.journal(d).await.steps.len();
    let refused = host.cli(&["upgrade", d, "--to", "3"]);
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        !refused.status.success()
            && stderr.contains("determinism violation at step 0")
            && stderr.contains("nothing was changed"),
        "{stderr}"
    );
    let still = host.status(d).await;
    assert_eq!(still.component, v1);
    assert_eq!(host.journal(d).await.steps.len(), journal_before);
    // Clear refusals for the rest.
    for (args, says) in [
        (vec!["upgrade", a, "--to", "9"], "has no version 9"),
        (
            vec!["upgrade", c, "--to", "2"],
            "runs on version 2 of `tg` already",
        ),
        (vec!["upgrade", a, "--to", "zero"], "is not a version"),
    ] {
        let refused = host.cli(&args);
        let stderr = String::from_utf8_lossy(&refused.stderr);
        assert!(
            !refused.status.success() && stderr.contains(says),
            "{args:?}: {stderr}"
        );
    }
    assert_eq!(
        versions(&host, "tg"),
        [(Some(3), 0, true), (Some(2), 2, false), (Some(1), 2, false)]
    );
    // Nothing unfinished is removed, nor the code it runs on.
    let dry = host.cli_ok(&["gc", "--dry-run"]);
    assert!(dry.contains("would remove no old versions"), "{dry}");

    // Each completes on its own version, with the same result, no step sent twice.
    let mut outputs = HashSet::new();
    for (id, component) in [(a, &v1), (&b, &v2), (c, &v2), (d, &v1)] {
        let done = host.finished(id, WAIT).await;
        assert_eq!(done.state, "completed", "{id}: {:?}", done.error);
        assert_eq!(&done.component, component, "{id}");
        outputs.insert(done.output.expect("output").to_string());
    }
    assert_eq!(outputs.len(), 1, "{outputs:?}");
    let sent = probe.wait_for("/s", 8, WAIT).await;
    let keys: HashSet<&str> = sent.iter().map(|s| s.key.as_str()).collect();
    assert_eq!((sent.len(), keys.len()), (8, 8), "one request per step");
    let history = host.cli_ok(&["journal", c, "--history"]);
    assert!(history.contains("upgraded to version 2"), "{history}");

    // Now v1 and v2 run nothing: gc removes them and their compiled code; v3 stays.
    assert_eq!(compiled(dir.path()).len(), 3, "{:?}", compiled(dir.path()));
    let out = host.cli_ok(&["gc"]);
    assert!(
        out.contains("removed version 1 of tg") && out.contains("removed version 2 of tg"),
        "{out}"
    );
    assert_eq!(versions(&host, "tg"), [(Some(3), 0, true)]);
    let left = compiled(dir.path());
    assert!(
        left.len() == 1 && left[0].starts_with(&v3),
        "{left:?} (v3 is {v3})"
    );
    // A finished invocation on removed code can no longer be rewound onto it.
    let refused = host.cli(&["rewind", a, "--to-step", "0"]);
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        !refused.status.success() && stderr.contains(&v1[..12]),
        "{stderr}"
    );
    let again = host.cli_ok(&["gc"]);
    assert!(again.contains("removed no old versions"), "{again}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_running_invocation_is_upgraded_at_its_next_host_call_and_a_filter_upgrades_many() {
    let dir = tempfile::tempdir().expect("tempdir");
    let probe = Probe::start().await;
    let host = Host::start(dir.path());
    host.deploy("tg", "reprise_test_guests");
    let v1 = host.component_of("tg").await;
    // One held in its first HTTP step, two sleeping.
    let held = json!({"url": format!("{}/hold", probe.url()), "count": 2});
    let running = host.invoke("tg.steps", held).await.id;
    probe.wait_for("/hold", 1, WAIT).await;
    let sleepy = json!({"url": format!("{}/z", probe.url()), "count": 2, "sleep_ms": 8000});
    let mut sleeping = Vec::new();
    for _ in 0..2 {
        let id = host.invoke("tg.steps", sleepy.clone()).await.id;
        host.until(&id, "suspended", WAIT).await;
        sleeping.push(id);
    }
    host.deploy("tg", "reprise_test_guests_fixed");
    let v2 = host.component_of("tg").await;

    // The upgrade waits for the step in flight to be journaled, then moves it over.
    let api = host.client();
    let path = format!("/v1/invocations/{running}/upgrade");
    let upgrade =
        tokio::spawn(async move { ask(&api, hyper::Method::POST, &path, json!({})).await });
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(!upgrade.is_finished(), "it waits for the step in flight");
    probe.open_gate();
    let (status, body) = upgrade.await.expect("upgrade task");
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        (body["to_version"].as_u64(), body["steps"].as_u64()),
        (Some(2), Some(1)),
        "{body}"
    );

    let out = host.cli_ok(&[
        "--json",
        "upgrade",
        "--filter",
        "function=tg.steps state=suspended",
        "--to",
        "current",
    ]);
    let page: Value = serde_json::from_str(&out).expect("bulk JSON");
    assert_eq!(
        (page["matched"].as_u64(), page["done"].as_u64()),
        (Some(2), Some(2)),
        "{page}"
    );

    for id in sleeping.iter().chain([&running]) {
        let done = host.finished(id, WAIT).await;
        assert_eq!(done.state, "completed", "{id}: {:?}", done.error);
        assert_eq!(done.component, v2, "{id}");
        assert_ne!(done.component, v1);
    }
    let held = probe.wait_for("/hold", 2, WAIT).await;
    assert_eq!(held.len(), 2, "step 0 was not sent again");
    let slept = probe.wait_for("/z", 4, WAIT).await;
    assert_eq!(slept.len(), 4);
}
