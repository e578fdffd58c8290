//! Rewind and fork on fixed code: a failed export is rewound to its bad step onto a fixed
//! component and completes without repeating a kept step; code that replays the kept steps
//! differently is refused and nothing changes; a fork runs on from a step and leaves the
//! original alone; children of dropped dispatch steps are cancelled (detached ones are left).

use std::time::Duration;

use reprise_tests::host::{Host, JournalView, ask};
use reprise_tests::probe::Probe;
use serde_json::{Value, json};

const WAIT: Duration = Duration::from_secs(60);

/// The journal of `id` with its history, as JSON.
async fn journal_with_history(host: &Host, id: &str) -> JournalView {
    host.api
        .get(&format!("/v1/invocations/{id}/journal?history=true"))
        .await
        .unwrap_or_else(|e| panic!("journal of {id}: {e:#}"))
}

/// The steps of a journal as JSON, to compare.
fn steps(journal: &JournalView) -> Vec<Value> {
    journal
        .steps
        .iter()
        .map(|s| serde_json::to_value(s).expect("step"))
        .collect()
}

/// The bodies the probe received at `path`, in order.
fn bodies(probe: &Probe, path: &str) -> Vec<Value> {
    probe
        .seen()
        .iter()
        .filter(|s| s.path == path)
        .map(|s| serde_json::from_slice(&s.body).expect("JSON body"))
        .collect()
}

/// A host with `tg` deployed from `guests` and `tgd` from the diverging variant, and a probe.
async fn start(guests: &str) -> (tempfile::TempDir, Probe, Host) {
    let dir = tempfile::tempdir().expect("tempdir");
    let probe = Probe::start().await;
    let host = Host::start(dir.path());
    host.deploy("tg", guests);
    host.deploy("tgd", "reprise_test_guests_diverged");
    (dir, probe, host)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failed_export_rewound_onto_fixed_code_completes_and_diverging_code_changes_nothing() {
    let (_dir, probe, host) = start("reprise_test_guests").await;
    let input = json!({"url": probe.url(), "users": 4, "bad": 2});
    let mut ids = Vec::new();
    for _ in 0..3 {
        let view = host.invoke("tg.export_users", input.clone()).await;
        let done = host.finished(&view.id, WAIT).await;
        assert_eq!(done.state, "failed");
        let error = done.error.expect("error");
        assert!(
            error
                .message
                .contains("user 2 was exported without its email")
        );
        ids.push(view.id);
    }
    let id = ids[0].as_str();
    let before = host.journal(id).await;
    assert_eq!(before.steps.len(), 3, "users 0, 1 and the bad 2");
    let v1 = host.status(id).await.component;

    // Code that asks for other steps is refused, naming the step; nothing changes.
    let refused = host.cli(&["rewind", id, "--to-step", "2", "--deployment", "tgd"]);
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(!refused.status.success());
    assert!(
        stderr.contains("determinism violation at step 0")
            && stderr.contains("/v2/users/0")
            && stderr.contains("nothing was changed"),
        "{stderr}"
    );
    // The fixed code, deployed as the next version, replays users 0 and 1 as they were but
    // not the bad step 2: keeping it is refused too.
    host.deploy("tg", "reprise_test_guests_fixed");
    let refused = host.cli(&["rewind", id, "--to-step", "3", "--deployment", "tg"]);
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        !refused.status.success() && stderr.contains("determinism violation at step 2"),
        "{stderr}"
    );
    let refused = host.cli(&["rewind", id, "--to-step", "9"]);
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(stderr.contains("step 9 is past the journal"), "{stderr}");
    let (status, body) = ask(
        &host.api,
        hyper::Method::POST,
        &format!("/v1/invocations/{id}/rewind"),
        json!({"to_step": 2, "component": "0000", "deployment": "tg"}),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    let (status, body) = ask(
        &host.api,
        hyper::Method::POST,
        &format!("/v1/invocations/{id}/rewind"),
        json!({"to_step": 2, "component": "ffffffff"}),
    )
    .await;
    assert_eq!(
        (status.as_u16(), &body["error"]["code"]),
        (404, &json!("unknown_component"))
    );
    let unchanged = journal_with_history(&host, id).await;
    assert_eq!(steps(&unchanged), steps(&before));
    assert_eq!(unchanged.history.as_ref().map(Vec::len), Some(0));
    let still = host.status(id).await;
    assert_eq!(
        (still.state.as_str(), still.component.as_str()),
        ("failed", v1.as_str())
    );

    // Rewound to the bad step on the fixed code: steps 0 and 1 replay, user 2 is sent again
    // with its email, then user 3, and it completes.
    let out = host.cli_ok(&["rewind", id, "--to-step", "2", "--deployment", "tg"]);
    assert!(out.contains("rewound to step 2"), "{out}");
    let done = host.finished(id, WAIT).await;
    assert_eq!(done.state, "completed", "{:?}", done.error);
    assert_eq!(done.output, Some(json!(4)));
    let fixed = host.component_of("tg").await;
    assert_eq!(done.component, fixed);
    let after = journal_with_history(&host, id).await;
    assert_eq!(after.steps.len(), 4);
    assert_eq!(
        steps(&after)[..2],
        steps(&before)[..2],
        "kept steps unchanged"
    );
    let history = after.history.expect("history");
    assert_eq!(history.len(), 1);
    let rewound = &history[0];
    assert_eq!((rewound.event.as_str(), rewound.step), ("rewound", 2));
    assert_eq!(rewound.from_state.as_deref(), Some("failed"));
    assert_eq!(rewound.from_component, v1);
    assert_eq!(rewound.to_component.as_deref(), Some(fixed.as_str()));
    assert!(
        rewound
            .error
            .as_ref()
            .is_some_and(|e| e.message.contains("without its email"))
    );
    let dropped: Vec<Value> = rewound
        .dropped
        .iter()
        .map(|s| serde_json::to_value(s).expect("step"))
        .collect();
    assert_eq!(
        dropped,
        steps(&before)[2..],
        "the dropped step is kept in the history"
    );
    // The step taken again is a new request to the API: it has a key of its own.
    let keys: Vec<String> = probe
        .seen()
        .iter()
        .filter(|s| s.path == "/users/2" && s.key.starts_with(id))
        .map(|s| s.key.clone())
        .collect();
    assert_eq!(keys, vec![format!("{id}-2"), format!("{id}-2.1")]);
    // The CLI shows it too.
    let shown = host.cli_ok(&["journal", id, "--history"]);
    assert!(shown.contains("rewound to step 2 from failed"), "{shown}");

    // The two others, by filter: a dry run counts, the diverging code is refused for each
    // (with the reason), the fixed code completes them.
    let filter = "state=failed function=tg.export_users";
    let dry = host.cli_ok(&["rewind", "--filter", filter, "--to-step", "2", "--dry-run"]);
    assert!(dry.contains("2 invocations match"), "{dry}");
    let diverged = host.cli_ok(&[
        "rewind",
        "--filter",
        filter,
        "--to-step",
        "2",
        "--deployment",
        "tgd",
    ]);
    assert!(
        diverged.contains("0 of 2 matching invocations (2 skipped)")
            && diverged.contains("determinism violation at step 0"),
        "{diverged}"
    );
    let bulk = host.cli_ok(&[
        "rewind",
        "--filter",
        filter,
        "--to-step",
        "2",
        "--deployment",
        "tg",
    ]);
    assert!(
        bulk.contains("2 of 2 matching invocations (0 skipped)"),
        "{bulk}"
    );
    for id in &ids[1..] {
        let done = host.finished(id, WAIT).await;
        assert_eq!(done.state, "completed", "{:?}", done.error);
    }

    // No kept step was performed again: each user was sent once per invocation, but for the
    // bad user 2, sent once wrongly and once fixed.
    for n in [0, 1, 3] {
        assert_eq!(bodies(&probe, &format!("/users/{n}")).len(), 3, "user {n}");
    }
    let user2 = bodies(&probe, "/users/2");
    assert_eq!(user2.len(), 6);
    assert_eq!(user2.iter().filter(|b| b.get("email").is_some()).count(), 3);
    assert!(
        bodies(&probe, "/v2/users/0").is_empty(),
        "a check never sends anything"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_fork_runs_on_from_its_step_and_leaves_the_original_alone() {
    let (_dir, probe, host) = start("reprise_test_guests_fixed").await;
    let input = json!({"url": probe.url(), "users": 3, "bad": 1});
    let view = host.invoke("tg.export_users", input).await;
    let done = host.finished(&view.id, WAIT).await;
    assert_eq!(done.state, "completed");
    let original = host.journal(&view.id).await;

    let refused = host.cli(&["fork", &view.id, "--at-step", "1", "--deployment", "tgd"]);
    assert!(!refused.status.success());
    let (status, body) = ask(
        &host.api,
        hyper::Method::POST,
        &format!("/v1/invocations/{}/fork", view.id),
        json!({"at_step": 1}),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let fork = body["id"].as_str().expect("fork id").to_string();
    assert_ne!(fork, view.id);
    let forked = host.finished(&fork, WAIT).await;
    assert_eq!(forked.state, "completed", "{:?}", forked.error);
    assert_eq!(forked.output, Some(json!(3)));
    let journal = journal_with_history(&host, &fork).await;
    assert_eq!(journal.steps.len(), 3);
    assert_eq!(
        steps(&journal)[..1],
        steps(&original)[..1],
        "step 0 taken as it was"
    );
    let history = journal.history.expect("history");
    assert_eq!(history.len(), 1);
    assert_eq!(history[0].event, "forked");
    assert_eq!(history[0].from.as_deref(), Some(view.id.as_str()));
    assert_eq!(history[0].step, 1);
    // The original is as it was; the fork sent users 1 and 2 again, not user 0.
    assert_eq!(steps(&host.journal(&view.id).await), steps(&original));
    assert_eq!(host.status(&view.id).await.state, "completed");
    assert_eq!(bodies(&probe, "/users/0").len(), 1);
    assert_eq!(bodies(&probe, "/users/1").len(), 2);
    assert_eq!(bodies(&probe, "/users/2").len(), 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn rewinding_past_a_dispatch_cancels_its_child_and_leaves_a_detached_one() {
    let dir = tempfile::tempdir().expect("tempdir");
    let host = Host::start(dir.path());
    host.deploy("tg", "reprise_test_guests");
    let plan = json!({"count": 3, "detached": 1, "plan": {"sleep_ms": 600_000}});
    let parent = host.invoke("tg.fan_out", plan).await;
    host.until(&parent.id, "suspended", WAIT).await;
    let first = host.children(&parent.id).await;
    assert_eq!(first.len(), 3);

    // A fork cannot take a step that dispatched a child: the child is the original's.
    let (status, body) = ask(
        &host.api,
        hyper::Method::POST,
        &format!("/v1/invocations/{}/fork", parent.id),
        json!({"at_step": 1}),
    )
    .await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["error"]["code"], "fork_takes_child", "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("step 0")
    );
    // A suspended invocation is paused first.
    let refused = host.cli(&["rewind", &parent.id, "--to-step", "1"]);
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        stderr.contains("is suspended") && stderr.contains("pause it first"),
        "{stderr}"
    );
    host.cli_ok(&["pause", &parent.id]);

    // Keep the first dispatch: the second child (attached) is cancelled, the third
    // (detached) goes on; the rerun dispatches two new ones and waits again.
    host.cli_ok(&["rewind", &parent.id, "--to-step", "1"]);
    host.until(&parent.id, "suspended", WAIT).await;
    let journal = journal_with_history(&host, &parent.id).await;
    let history = journal.history.expect("history");
    let dropped_children: Vec<String> = history[0]
        .dropped
        .iter()
        .filter(|s| s.kind == "dispatch")
        .map(|s| s.outcome.trim_start_matches("child ").to_string())
        .collect();
    assert_eq!(dropped_children.len(), 2);
    let (attached, detached) = (&dropped_children[0], &dropped_children[1]);
    assert_eq!(history[0].cancelled, vec![attached.clone()]);
    let cancelled = host.status(attached).await;
    assert_eq!(cancelled.state, "cancelled");
    let why = cancelled.error.expect("why").message;
    assert!(why.contains("was rewound"), "{why}");
    assert_eq!(host.status(detached).await.state, "suspended");
    let now: Vec<String> = host
        .children(&parent.id)
        .await
        .into_iter()
        .map(|c| c.id)
        .collect();
    assert_eq!(now.len(), 3, "the kept child and two new ones: {now:?}");
    let kept = &journal.steps[0].outcome;
    assert!(now.iter().any(|c| kept.ends_with(c.as_str())));
    assert!(!now.contains(attached) && !now.contains(detached));
    host.cli_ok(&["cancel", &parent.id]);
    host.cli_ok(&["cancel", detached]);
}
