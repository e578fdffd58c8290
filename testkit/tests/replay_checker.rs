//! The test kit against the test functions (`tests/guests`, built by scripts/build-guests.sh):
//! time skipping, scripted HTTP, and the replay checker catching a build that diverges.

use std::path::PathBuf;
use std::time::Duration;

use reprise_testkit::{FoundBy, Reply, TestHost};
use serde_json::json;

/// A component scripts/build-guests.sh built.
fn guest(stem: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../target/wasm32-wasip2/guest")
        .join(format!("{stem}.wasm"))
}

#[tokio::test(flavor = "multi_thread")]
async fn a_week_of_sleeps_ends_at_once_and_every_prefix_and_crash_replays() {
    let host = TestHost::start().await.expect("host");
    host.http()
        .on("POST", "/step", [Reply::json(200, &json!({"value": 7}))]);
    host.deploy("tg", guest("reprise_test_guests"))
        .await
        .expect("deploy");
    let week_ms = 7 * 24 * 3600 * 1000;
    let input = json!({"url": host.http().url("/step"), "count": 3, "sleep_ms": week_ms});
    let started = std::time::Instant::now();
    let clock_before = host.now_ms();
    let id = host.invoke("tg.steps", &input).await.expect("invoke");
    let done = host.finish(id).await.expect("finish");
    assert_eq!(done.output().expect("output")["values"], json!([7, 7, 7]));
    // Two week-long sleeps on the host's clock, in seconds of real time.
    assert!(host.now_ms() - clock_before >= 2 * week_ms);
    assert!(
        started.elapsed() < Duration::from_secs(60),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(host.http().count("POST", "/step"), 3);
    let sent = host.http().received();
    assert!(sent[0].header("idempotency-key").is_some(), "{sent:?}");

    let report = host.check_replay(id).await.expect("check");
    assert!(report.is_deterministic(), "{report}");
    assert_eq!(report.prefixes, report.steps);
    assert_eq!(report.crashes, report.steps, "{report}");
    assert!(report.not_simulated.is_empty(), "{report}");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_checker_names_the_first_step_a_changed_build_asks_for_differently() {
    let host = TestHost::start().await.expect("host");
    host.http().on(
        "POST",
        "/step",
        [Reply::status(503), Reply::json(200, &json!({"value": 1}))],
    );
    host.deploy("tg", guest("reprise_test_guests"))
        .await
        .expect("deploy");
    // The `diverged` build sends other request bodies from the first step on.
    host.deploy("tg-next", guest("reprise_test_guests_diverged"))
        .await
        .expect("deploy");
    let input = json!({"url": host.http().url("/step"), "count": 2});
    let id = host.invoke("tg.steps", &input).await.expect("invoke");
    let done = host.finish(id).await.expect("finish");
    assert_eq!(done.output().expect("output")["values"], json!([1, 1]));

    let same = host.check_replay(id).await.expect("check");
    assert!(same.is_deterministic(), "{same}");
    let next = host.check_replay_on(id, "tg-next").await.expect("check");
    let divergence = next.divergence.clone().expect("the changed build diverges");
    let first_post = host
        .journal(id)
        .expect("journal")
        .iter()
        .position(|step| step.kind.as_str() == "http")
        .expect("an http step") as u32;
    assert_eq!(divergence.step, first_post, "{next}");
    assert_eq!(
        divergence.found_by,
        FoundBy::Replay {
            prefix: first_post + 1
        },
        "{next}"
    );
    assert!(
        divergence.message.contains("determinism violation"),
        "{next}"
    );
    assert!(
        divergence.message.contains("with other contents"),
        "the same method and URL, another body: {next}"
    );
    assert!(next.to_string().contains("diverges at step"), "{next}");
}
