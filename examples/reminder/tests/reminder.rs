//! The reminder tested with the test kit, as a function author would: a week's sleep ends at
//! once on the kit's clock, the webhook is a scripted reply, and the replay checker reruns
//! the function from every prefix of its journal and after a crash at every step.
//!
//! Run with `scripts/build-guests.sh && cargo test -p reminder` (the test runs the built
//! component, target/wasm32-wasip2/guest/reminder.wasm).

use std::path::PathBuf;

use reprise_testkit::{Reply, TestHost};
use serde_json::json;

fn component() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/wasm32-wasip2/guest/reminder.wasm")
}

#[tokio::test(flavor = "multi_thread")]
async fn a_weeks_reminder_is_delivered_once_and_replays() {
    let host = TestHost::start().await.expect("test host");
    // The webhook is down at first: the host retries it.
    host.http().on(
        "POST",
        "/hook",
        [Reply::status(503), Reply::json(200, &json!({"ok": true}))],
    );
    host.deploy("reminder", component()).await.expect("deploy");
    let input = json!({
        "message": "renew the certificate",
        "delay_seconds": 7 * 24 * 3600,
        "webhook_url": host.http().url("/hook"),
    });
    let before = host.now_ms();
    let id = host.invoke("reminder", &input).await.expect("invoke");
    let done = host.finish(id).await.expect("finish");
    assert_eq!(done.output().expect("output"), json!({"status": 200}));
    assert!(
        host.now_ms() - before >= 7 * 24 * 3600 * 1000,
        "a week went by"
    );

    // Delivered after one refusal, with one key for both attempts.
    let sent = host.http().received();
    assert_eq!(sent.len(), 2, "{sent:?}");
    assert_eq!(sent[1].body, br#"{"reminder":"renew the certificate"}"#);
    assert_eq!(
        sent[0].header("idempotency-key"),
        sent[1].header("idempotency-key")
    );

    let report = host.check_replay(id).await.expect("replay check");
    assert!(report.is_deterministic(), "{report}");
}
