//! SIGKILL the host again and again while functions are in the middle of HTTP calls: every
//! invocation still completes with the uninterrupted result, journals stay contiguous, and a
//! request is repeated only when a kill fell between sending it and journaling its response.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use rand::Rng;
use reprise_tests::host::{Host, InvocationView};
use reprise_tests::mock_crm::{DEFAULT_TOKEN, Latency, MockCrm, MockCrmConfig};
use serde_json::{Value, json};

const USERS: usize = 40;
/// The mock may read a request a moment after the killed host wrote it.
const DELIVERY_SLACK: Duration = Duration::from_millis(100);

fn export_input(crm_url: &str) -> Value {
    let users: Vec<Value> = (0..USERS)
        .map(|u| {
            json!({"id": u, "first_name": format!("First{u}"), "last_name": "Last",
                   "email": format!("user{u}@example.com")})
        })
        .collect();
    json!({"crm_url": crm_url, "token": DEFAULT_TOKEN, "users": users})
}

#[tokio::test(flavor = "multi_thread")]
async fn invocations_survive_twenty_sigkills_without_repeating_journaled_requests() {
    survive_sigkills("crm_export", 20).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn python_invocations_survive_sigkills_without_repeating_journaled_requests() {
    survive_sigkills("crm_export_py", 8).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn js_invocations_survive_sigkills_without_repeating_journaled_requests() {
    survive_sigkills("crm_export_js", 8).await;
}

/// Exports users with `component`'s `export_in_order` while the host is SIGKILLed `kills`
/// times: every export completes as an uninterrupted one does, and no journaled request is
/// sent again.
async fn survive_sigkills(component: &str, kills_wanted: usize) {
    let dir = tempfile::tempdir().expect("tempdir");
    let mock = MockCrm::start(MockCrmConfig {
        latency: Latency::uniform_ms(2, 12),
        ..MockCrmConfig::default()
    })
    .expect("mock CRM");
    let mut host = Host::start(dir.path());
    host.deploy("crm", component);
    let input = export_input(&mock.url());

    // The reference: one run nobody interrupts.
    let reference = host.invoke("crm.export_in_order", input.clone()).await;
    let reference = host.finished(&reference.id, Duration::from_secs(60)).await;
    assert_eq!(reference.state, "completed", "{:?}", reference.error);
    let expected = reference.output.clone().expect("output");

    let mut ids = Vec::new();
    let mut kills: Vec<Instant> = Vec::new();
    let mut rng = rand::rng();
    for _ in 0..kills_wanted {
        // Keep work in flight: a new export before every kill.
        ids.push(host.invoke("crm.export_in_order", input.clone()).await.id);
        tokio::time::sleep(Duration::from_millis(rng.random_range(50..400))).await;
        host.kill();
        // Taken once the process is reaped: every request it sent arrived before this.
        kills.push(Instant::now());
        host.restart();
    }

    let mut finished: Vec<InvocationView> = Vec::new();
    for id in &ids {
        finished.push(host.finished(id, Duration::from_secs(120)).await);
    }
    let stats = mock.stats();
    let mut duplicates = 0;
    for view in &finished {
        assert_eq!(view.state, "completed", "{}: {:?}", view.id, view.error);
        assert_eq!(view.output.as_ref(), Some(&expected), "{}", view.id);

        // Sequence numbers are exactly 0..n.
        let journal = host.journal(&view.id).await;
        let seqs: Vec<u32> = journal.steps.iter().map(|s| s.seq).collect();
        let contiguous: Vec<u32> = (0..seqs.len() as u32).collect();
        assert_eq!(seqs, contiguous, "{}", view.id);
        let http: BTreeSet<String> = journal
            .steps
            .iter()
            .filter(|s| s.kind == "http")
            .map(|s| format!("{}-{}", view.id, s.seq))
            .collect();
        assert_eq!(http.len(), USERS, "{}", view.id);

        // The CRM saw exactly the journaled requests' keys…
        let prefix = format!("{}-", view.id);
        let received: BTreeMap<&String, &Vec<Instant>> = stats
            .received
            .iter()
            .filter(|(key, _)| key.starts_with(&prefix))
            .collect();
        let seen: BTreeSet<String> = received.keys().map(|k| k.to_string()).collect();
        assert_eq!(seen, http, "{}", view.id);

        // …and a key twice only when a kill fell between the two deliveries, at most once
        // per kill (an invocation has at most one request in flight when it is killed).
        let mut repeats_per_kill = BTreeMap::new();
        for (key, times) in received {
            for pair in times.windows(2) {
                duplicates += 1;
                let kill = kills
                    .iter()
                    .rposition(|k| pair[0] <= *k + DELIVERY_SLACK && *k <= pair[1])
                    .unwrap_or_else(|| panic!("{key} was sent twice with no kill in between"));
                *repeats_per_kill.entry(kill).or_insert(0) += 1;
            }
        }
        for (kill, repeats) in repeats_per_kill {
            assert_eq!(
                repeats, 1,
                "{}: {repeats} requests repeated after kill {kill}",
                view.id
            );
        }
    }
    // Kills land between checkpoints: acknowledged steps were durable only in the
    // write-ahead log, and the restarts replayed it (the checks above prove nothing was lost).
    let replayed = (2..=kills_wanted + 1)
        .filter(|n| {
            std::fs::read_to_string(dir.path().join(format!("host-{n}.log")))
                .is_ok_and(|log| log.contains("replaying the write-ahead log"))
        })
        .count();
    assert!(replayed > 0, "no restart replayed the write-ahead log");
    eprintln!(
        "{component}: {kills_wanted} kills, {} invocations, {} CRM requests, {duplicates} repeated after a kill, \
         {replayed} restarts replayed the log",
        ids.len(),
        stats.requests
    );
}
