//! Schedules against a real host: every firing made once and counted, across a SIGKILL and
//! a downtime under each missed-firings policy; pause, resume, delete; bad schedules refused
//! by field; one tenant never sees another's.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use reprise::api::dto::ScheduleView;
use reprise_tests::host::{Host, InvocationList};
use serde_json::{Value, json};

/// The three policies under test: (schedule name, `--missed`).
const POLICIES: [(&str, &str); 3] = [("s-skip", "skip"), ("s-once", "once"), ("s-all", "all:2")];

fn show(host: &Host, name: &str) -> ScheduleView {
    let text = host.cli_ok(&["--json", "schedule", "show", name]);
    serde_json::from_str(&text).expect("schedule JSON")
}

/// Sleeps until the wall clock is `ms` past a whole second.
async fn until_ms_past_second(ms: u64) {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("after 1970")
        .as_millis() as u64;
    let wait = (1000 + ms - now % 1000) % 1000;
    tokio::time::sleep(Duration::from_millis(wait)).await;
}

fn ms(rfc3339: &str) -> u64 {
    humantime::parse_rfc3339_weak(rfc3339)
        .expect("time")
        .duration_since(UNIX_EPOCH)
        .expect("after 1970")
        .as_millis() as u64
}

#[tokio::test(flavor = "multi_thread")]
async fn every_firing_is_made_once_or_counted_across_a_kill_under_each_missed_policy() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut host = Host::start(dir.path());
    host.deploy("tg", "reprise_test_guests");
    for (name, missed) in POLICIES {
        let input = format!("\"{name}\"");
        host.cli_ok(&[
            "schedule",
            "create",
            name,
            "--cron",
            "* * * * * *",
            "tg.echo",
            "--input",
            &input,
            "--missed",
            missed,
            "--grace",
            "1s",
        ]);
    }
    let listed = host.cli_ok(&["schedule", "ls"]);
    for (name, missed) in POLICIES {
        assert!(listed.contains(name), "{listed}");
        assert_eq!(show(&host, name).missed, missed);
    }
    tokio::time::sleep(Duration::from_secs(3)).await;
    // Killed between two firings (they are made at the start of each second), so every
    // schedule has made the same ones; down for about 5 s.
    until_ms_past_second(500).await;
    host.kill();
    tokio::time::sleep(Duration::from_secs(5)).await;
    host.restart();
    tokio::time::sleep(Duration::from_millis(2500)).await;
    for (name, _) in POLICIES {
        host.cli_ok(&["schedule", "pause", name]);
    }
    tokio::time::sleep(Duration::from_millis(500)).await;

    let list: InvocationList = host
        .client()
        .get("/v1/invocations?limit=10000")
        .await
        .expect("list");
    let mut skipped = Vec::new();
    for (name, _) in POLICIES {
        let view = show(&host, name);
        assert_eq!(view.state, "paused");
        let made: Vec<_> = list
            .invocations
            .iter()
            .filter(|i| i.input == json!(name))
            .collect();
        // Never twice: one invocation per firing made, and each one runs.
        assert_eq!(made.len() as u64, view.fired, "{name}: {view:?}");
        for invocation in &made {
            let done = host.finished(&invocation.id, Duration::from_secs(30)).await;
            assert_eq!(done.output, Some(Value::String(name.into())));
        }
        // Never skipped silently: every second from the first firing to the last made is
        // made or counted as skipped.
        let first = ms(&view.created) / 1000 * 1000 + 1000;
        let last = ms(view.last_fired.as_deref().expect("fired"));
        let due = (last - first) / 1000 + 1;
        assert_eq!(view.fired + view.skipped, due, "{name}: {view:?}");
        assert_eq!(view.refused, 0, "{view:?}");
        skipped.push(view.skipped);
    }
    // The same firings were missed by all three: `skip` makes none of them, `once` the
    // latest, `all:2` the latest two.
    let [skip, once, all] = skipped[..] else {
        unreachable!()
    };
    assert!(skip >= 3, "missed only {skip} in a 5 s downtime");
    assert_eq!((skip - once, skip - all), (1, 2), "{skipped:?}");

    // Paused: no firing. Resumed: fires from now on, the paused time neither made nor counted.
    let before = show(&host, "s-once");
    tokio::time::sleep(Duration::from_millis(2000)).await;
    let still = show(&host, "s-once");
    assert_eq!((still.fired, still.skipped), (before.fired, before.skipped));
    host.cli_ok(&["schedule", "resume", "s-once"]);
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let resumed = show(&host, "s-once");
    assert_eq!(resumed.state, "active");
    assert!(resumed.fired >= before.fired + 2, "{resumed:?}");
    assert_eq!(resumed.skipped, before.skipped, "{resumed:?}");

    // Deleted: no more firings; its invocations stay.
    host.cli_ok(&["schedule", "delete", "s-once"]);
    let gone = host.cli(&["schedule", "show", "s-once"]);
    assert!(!gone.status.success());
    assert!(String::from_utf8_lossy(&gone.stderr).contains("no schedule `s-once`"));
    let after: InvocationList = host
        .client()
        .get("/v1/invocations?limit=10000")
        .await
        .expect("list");
    let kept = after
        .invocations
        .iter()
        .filter(|i| i.input == json!("s-once"))
        .count() as u64;
    assert!(kept >= resumed.fired, "{kept} < {}", resumed.fired);
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_schedules_are_refused_by_field_and_tenants_see_only_their_own() {
    let dir = tempfile::tempdir().expect("tempdir");
    let host = Host::start(dir.path());
    host.deploy("tg", "reprise_test_guests");
    let create = |args: &[&str]| {
        let mut all = vec!["schedule", "create"];
        all.extend_from_slice(args);
        let out = host.cli(&all);
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let refused = [
        (vec!["a", "--cron", "every day", "tg.echo"], "`cron`"),
        (vec!["a", "--cron", "61 * * * *", "tg.echo"], "`cron`"),
        (
            vec![
                "a",
                "--cron",
                "* * * * *",
                "--tz",
                "Mars/Olympus",
                "tg.echo",
            ],
            "`tz` `Mars/Olympus`",
        ),
        (vec!["a", "--cron", "* * * * *", "nope.echo"], "nope"),
        (vec!["a", "--cron", "* * * * *", "tg.nope"], "nope"),
        (
            vec!["a", "--cron", "* * * * *", "tg.echo", "--missed", "all:0"],
            "`missed`",
        ),
        (
            vec!["a b", "--cron", "* * * * *", "tg.echo"],
            "schedule name",
        ),
        (
            vec!["a", "--cron", "* * * * *", "tg.echo", "--input", "{"],
            "JSON",
        ),
    ];
    for (args, says) in refused {
        let (ok, stderr) = create(&args);
        assert!(!ok && stderr.contains(says), "{args:?}: {stderr}");
    }
    let listed = host.cli_ok(&["--json", "schedule", "ls"]);
    let listed: Value = serde_json::from_str(&listed).expect("JSON");
    assert_eq!(
        listed["schedules"],
        json!([]),
        "a refused schedule was kept"
    );

    let (ok, _) = create(&[
        "nightly",
        "--cron",
        "0 3 * * *",
        "--tz",
        "Europe/Paris",
        "tg.echo",
    ]);
    assert!(ok);
    let (ok, stderr) = create(&["nightly", "--cron", "0 4 * * *", "tg.echo"]);
    assert!(!ok && stderr.contains("exists already"), "{stderr}");
    let nightly = show(&host, "nightly");
    let next = ms(nightly.next.as_deref().expect("next"));
    // 03:00 in Paris is 02:00 UTC in winter, 01:00 in summer.
    let hour = next / 3_600_000 % 24;
    assert!(hour == 2 || hour == 1, "{nightly:?}");

    let (_, other) = host.create_tenant("other");
    let theirs: Value = other.get("/v1/schedules").await.expect("list");
    assert_eq!(theirs["schedules"], json!([]));
    let err = other
        .get::<Value>("/v1/schedules/nightly")
        .await
        .expect_err("not theirs");
    assert!(err.to_string().contains("no schedule `nightly`"), "{err}");
}
