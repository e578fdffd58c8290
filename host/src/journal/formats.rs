//! Golden bytes of every persisted format, and fixtures written by earlier versions.
//!
//! Each sample value below is encoded and compared with a fixture file under
//! `host/tests/formats/vN/` (hex text; N is the value's format tag), and each fixture is decoded and compared with the
//! sample. The first pins today's bytes: a reordered field or variant fails here instead of
//! silently changing what old journals and digests mean. The second keeps old files
//! readable: a fixture is never rewritten once committed; a new format gets new fixtures
//! beside the old ones, and the old ones must keep decoding.
//!
//! `REPRISE_WRITE_FIXTURES=1 cargo test -p reprise formats` writes the fixtures that are
//! missing (never one that exists).

use std::collections::BTreeMap;
use std::path::PathBuf;

use super::codec::{decode, encode};
use super::*;
use crate::ids::{ComponentHash, InvocationId};

/// The directory of the fixtures of format `version`.
pub(crate) fn fixture_dir(version: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/formats")
        .join(version)
}

/// Checks `bytes` against fixture `name` of `version` (writing it if it is missing and
/// `REPRISE_WRITE_FIXTURES` is set); returns the fixture's bytes.
pub(crate) fn pinned(version: &str, name: &str, bytes: &[u8]) -> Vec<u8> {
    let path = fixture_dir(version).join(format!("{name}.hex"));
    let stored = match std::fs::read_to_string(&path) {
        Ok(text) => unhex(text.trim()),
        Err(_) if std::env::var_os("REPRISE_WRITE_FIXTURES").is_some() => {
            std::fs::create_dir_all(fixture_dir(version)).expect("create the fixture directory");
            std::fs::write(&path, format!("{}\n", crate::ids::hex(bytes))).expect("write");
            bytes.to_vec()
        }
        Err(err) => panic!("fixture {} is missing: {err}", path.display()),
    };
    assert_eq!(
        crate::ids::hex(bytes),
        crate::ids::hex(&stored),
        "the encoding of `{name}` differs from its fixture {}",
        path.display()
    );
    stored
}

fn unhex(text: &str) -> Vec<u8> {
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).expect("a fixture is hex"))
        .collect()
}

/// A fixed invocation id (no clock, no randomness).
pub(crate) const ID: InvocationId = InvocationId(0x0001_8f3a_2b4c_0000_1234_5678_9abc_def0);
/// A second fixed id, for children and parents.
pub(crate) const OTHER: InvocationId = InvocationId(0x0001_8f3a_2b4d_0000_0fed_cba9_8765_4321);

pub(crate) fn sample_record() -> InvocationRecord {
    InvocationRecord {
        tenant: "acme".into(),
        id: ID,
        deployment: "export".into(),
        function: "run".into(),
        component: ComponentHash([0xab; 32]),
        input: br#"{"users":3}"#.to_vec(),
        state: InvocationState::Failed,
        attempts: 3,
        retries: 2,
        created_at_ms: 1_700_000_000_000,
        updated_at_ms: 1_700_000_000_500,
        finished_at_ms: Some(1_700_000_000_500),
        output: Some(b"{}".to_vec()),
        failure: Some(Failure {
            kind: FailureKind::Trap,
            message: "guest trapped".into(),
        }),
        parent: Some(OTHER),
        detached: true,
    }
}

fn minimal_record() -> InvocationRecord {
    InvocationRecord {
        tenant: "t".into(),
        id: OTHER,
        deployment: "d".into(),
        function: "f".into(),
        component: ComponentHash([1; 32]),
        input: b"null".to_vec(),
        state: InvocationState::Pending,
        attempts: 0,
        retries: 0,
        created_at_ms: 5,
        updated_at_ms: 5,
        finished_at_ms: None,
        output: None,
        failure: None,
        parent: None,
        detached: false,
    }
}

fn retry(max_attempts: u32) -> StoredRetry {
    StoredRetry {
        max_attempts,
        initial_delay_ms: 100,
        max_delay_ms: 2_000,
        deadline_ms: 60_000,
    }
}

/// [`sample_deployment`] as format 1 stored it.
pub(crate) fn sample_deployment_v1() -> DeploymentV1 {
    let mut functions = BTreeMap::new();
    functions.insert(
        "run".to_string(),
        StoredFunctionPolicyV1 {
            retry: Some(retry(5)),
            rerun: None,
        },
    );
    DeploymentV1 {
        tenant: "acme".into(),
        name: "export".into(),
        component: ComponentHash([0xab; 32]),
        functions: vec!["run".into(), "one".into()],
        version: 4,
        size: 123_456,
        deployed_at_ms: 1_700_000_000_000,
        policy: StoredPolicyV1 {
            retry: None,
            rerun: Some(retry(2)),
            functions,
        },
    }
}

pub(crate) fn sample_deployment() -> Deployment {
    let mut functions = BTreeMap::new();
    functions.insert(
        "run".to_string(),
        StoredFunctionPolicy {
            retry: Some(retry(5)),
            rerun: None,
            on_exhausted: Some(Exhausted::Pause),
        },
    );
    Deployment {
        tenant: "acme".into(),
        name: "export".into(),
        component: ComponentHash([0xab; 32]),
        functions: vec!["run".into(), "one".into()],
        version: 4,
        size: 123_456,
        deployed_at_ms: 1_700_000_000_000,
        policy: StoredPolicy {
            retry: None,
            rerun: Some(retry(2)),
            functions,
            on_exhausted: Some(Exhausted::Fail),
        },
    }
}

pub(crate) fn sample_wait() -> WaitState {
    WaitState {
        seq: 7,
        mode: AwaitMode::Any,
        children_total: 3,
        children_pending: 2,
        timers: vec![1_700_000_001_000, 1_700_000_002_000],
        signals: vec!["approve".into()],
        succeeded: false,
        failed: true,
    }
}

fn response() -> HttpResponse {
    HttpResponse {
        status: 429,
        headers: vec![("retry-after".into(), "2".into())],
        body: br#"{"error":"slow down"}"#.to_vec(),
    }
}

/// One outcome of every kind.
pub(crate) fn sample_outcomes() -> Vec<(&'static str, Outcome)> {
    vec![
        ("http_response", Outcome::Http(Ok(response()))),
        (
            "http_invalid_request",
            Outcome::Http(Err(HttpError::InvalidRequest("bad url".into()))),
        ),
        (
            "http_connect",
            Outcome::Http(Err(HttpError::Connect("refused".into()))),
        ),
        ("http_timeout", Outcome::Http(Err(HttpError::Timeout))),
        (
            "http_transport",
            Outcome::Http(Err(HttpError::Transport("reset".into()))),
        ),
        (
            "http_too_large",
            Outcome::Http(Err(HttpError::ResponseTooLarge(1 << 20))),
        ),
        (
            "time",
            Outcome::Time {
                seconds: 1_700_000_000,
                nanoseconds: 123_456_789,
            },
        ),
        ("instant", Outcome::Instant(1_700_000_000_123_456_789)),
        ("bytes", Outcome::Bytes(vec![0, 1, 2, 254, 255])),
        ("u64", Outcome::U64(u64::MAX - 1)),
        ("pair", Outcome::Pair(1, 2)),
        ("unit", Outcome::Unit),
        ("dispatched", Outcome::Dispatched(Ok(OTHER))),
        (
            "dispatch_refused",
            Outcome::Dispatched(Err("no function `x`".into())),
        ),
        (
            "settled",
            Outcome::Settled(vec![
                Some(Ok(b"1".to_vec())),
                None,
                Some(Err("failed".into())),
            ]),
        ),
    ]
}

/// A journal entry of every step kind, each with an outcome of its kind.
pub(crate) fn sample_entries() -> Vec<(String, StepEntry)> {
    let kinds = [
        StepKind::Http,
        StepKind::WallClock,
        StepKind::MonotonicClock,
        StepKind::Random,
        StepKind::InsecureRandom,
        StepKind::InsecureSeed,
        StepKind::Log,
        StepKind::Dispatch,
        StepKind::Await,
    ];
    let outcomes = sample_outcomes();
    let pick = |name: &str| {
        outcomes
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, o)| o.clone())
            .expect("a sample outcome")
    };
    let per_kind = [
        "http_response",
        "time",
        "instant",
        "bytes",
        "u64",
        "pair",
        "unit",
        "dispatched",
        "settled",
    ];
    kinds
        .into_iter()
        .zip(per_kind)
        .enumerate()
        .map(|(i, (kind, outcome))| {
            let entry = StepEntry {
                kind,
                digest: [i as u8 + 1; 16],
                summary: format!("step {i}"),
                attempts: i as u32 + 1,
                recorded_at_ms: 1_700_000_000_000 + i as u64,
                outcome: pick(outcome),
            };
            (format!("entry_{}", kind.as_str()), entry)
        })
        .collect()
}

#[test]
fn records_keep_their_bytes() {
    for (name, record) in [
        ("invocation_record", sample_record()),
        ("invocation_record_minimal", minimal_record()),
    ] {
        let stored = pinned("v1", name, &encode(&record));
        assert_eq!(
            decode::<InvocationRecord>(name, &stored).expect(name),
            record
        );
    }
    // Format 1, before `on_exhausted`: it still decodes, with `on_exhausted` unset.
    let stored = pinned("v1", "deployment", &encode(&sample_deployment_v1()));
    let mut upgraded = sample_deployment();
    upgraded.policy.on_exhausted = None;
    for f in upgraded.policy.functions.values_mut() {
        f.on_exhausted = None;
    }
    assert_eq!(decode_deployment(&stored).expect("deployment"), upgraded);
    let stored = pinned("v2", "deployment", &encode_deployment(&sample_deployment()));
    assert_eq!(
        decode_deployment(&stored).expect("deployment"),
        sample_deployment()
    );
    let stored = pinned("v1", "wait_state", &encode(&sample_wait()));
    assert_eq!(
        decode::<WaitState>("wait", &stored).expect("wait"),
        sample_wait()
    );
    let stored = pinned("v1", "tenant", &encode(&sample_tenant()));
    assert_eq!(
        decode::<TenantRecord>("tenant", &stored).expect("tenant"),
        sample_tenant()
    );
    for (name, key) in sample_keys() {
        let stored = pinned("v1", name, &encode(&key));
        assert_eq!(decode::<KeyRecord>(name, &stored).expect(name), key);
    }
    let stored = pinned("v1", "quotas", &encode(&sample_quotas_v1()));
    assert_eq!(
        decode_quotas(&stored).expect("quotas"),
        Quotas {
            stored_bytes: None,
            retention_secs: None,
            ..sample_quotas()
        }
    );
    let stored = pinned("v2", "quotas", &encode_quotas(&sample_quotas()));
    assert_eq!(decode_quotas(&stored).expect("quotas"), sample_quotas());
    let stored = pinned("v1", "keyed_request", &encode(&sample_keyed()));
    assert_eq!(
        decode::<KeyedRequest>("idempotency key", &stored).expect("keyed"),
        sample_keyed()
    );
    let stored = pinned("v1", "schedule", &encode(&sample_schedule()));
    assert_eq!(
        decode::<Schedule>("schedule", &stored).expect("schedule"),
        sample_schedule()
    );
    for (name, event) in sample_history() {
        let stored = pinned("v1", name, &encode(&event));
        assert_eq!(decode::<HistoryEvent>(name, &stored).expect(name), event);
    }
    let stored = pinned("v1", "egress_rules", &encode(&sample_egress()));
    assert_eq!(
        decode::<EgressRules>("egress rules", &stored).expect("egress rules"),
        sample_egress()
    );
}

fn sample_schedule() -> Schedule {
    Schedule {
        tenant: "acme".into(),
        name: "nightly".into(),
        cron: "0 3 * * *".into(),
        tz: "Europe/Paris".into(),
        target: "export.send_user".into(),
        input: br#"{"all":true}"#.to_vec(),
        missed: Missed::All(3),
        grace_ms: 60_000,
        paused: true,
        next_ms: Some(1_700_000_060_000),
        fired: 12,
        skipped: 2,
        refused: 1,
        last_fired: Some((1_700_000_000_000, ID)),
        last_refusal: Some("quota".into()),
        created_at_ms: 1_699_000_000_000,
        revision: 15,
    }
}

/// The ops on schedules (added after `sample_forget_ops`'s).
pub(crate) fn sample_schedule_ops() -> Vec<Op> {
    let mut minimal = sample_schedule();
    minimal.missed = Missed::Skip;
    minimal.next_ms = None;
    minimal.last_fired = None;
    minimal.last_refusal = None;
    vec![
        Op::PutSchedule {
            schedule: Box::new(sample_schedule()),
        },
        Op::PutSchedule {
            schedule: Box::new(minimal),
        },
        Op::RemoveSchedule {
            tenant: "acme".into(),
            name: "nightly".into(),
        },
    ]
}

fn sample_steps() -> Vec<StoredStep> {
    vec![
        StoredStep {
            seq: 7,
            entry: vec![1, 2, 3],
        },
        StoredStep {
            seq: 8,
            entry: Vec::new(),
        },
    ]
}

/// One of each history event: a rewind with all it can hold, one with the least, a fork, an
/// upgrade.
fn sample_history() -> [(&'static str, HistoryEvent); 4] {
    let full = Rewound {
        at_ms: 1_700_000_900_000,
        to_step: 7,
        from_state: InvocationState::Failed,
        from_component: ComponentHash([0xab; 32]),
        from_deployment: "export".into(),
        to_component: ComponentHash([0xcd; 32]),
        to_deployment: "export-v2".into(),
        failure: Some(Failure {
            kind: FailureKind::FunctionError,
            message: "user 7 was refused".into(),
        }),
        output: Some(b"{}".to_vec()),
        dropped: sample_steps(),
        cancelled: vec![OTHER],
    };
    let least = Rewound {
        to_step: 0,
        from_state: InvocationState::Paused,
        failure: None,
        output: None,
        dropped: Vec::new(),
        cancelled: Vec::new(),
        ..full.clone()
    };
    [
        ("history_rewound", HistoryEvent::Rewound(Box::new(full))),
        (
            "history_rewound_minimal",
            HistoryEvent::Rewound(Box::new(least)),
        ),
        (
            "history_forked",
            HistoryEvent::Forked {
                at_ms: 1_700_000_900_000,
                from: OTHER,
                at_step: 3,
                from_component: ComponentHash([0xab; 32]),
            },
        ),
        (
            "history_upgraded",
            HistoryEvent::Upgraded {
                at_ms: 1_700_000_950_000,
                at_step: 4,
                from_component: ComponentHash([0xab; 32]),
                to_component: ComponentHash([0xcd; 32]),
                to_version: 3,
            },
        ),
    ]
}

/// The ops of rewinds and forks (added after `sample_schedule_ops`'s).
pub(crate) fn sample_rewind_ops() -> Vec<Op> {
    let fork = InvocationRecord {
        state: InvocationState::Pending,
        finished_at_ms: None,
        output: None,
        failure: None,
        parent: None,
        detached: false,
        ..sample_record()
    };
    vec![
        Op::Rewind {
            tenant: "acme".into(),
            invocation: ID,
            plan: RewindPlan {
                to_step: 7,
                steps: 9,
                state: InvocationState::Failed,
                history: 1,
                component: ComponentHash([0xcd; 32]),
                deployment: "export-v2".into(),
            },
        },
        Op::Fork {
            record: Box::new(fork),
            from: OTHER,
            from_component: ComponentHash([0xab; 32]),
            steps: sample_steps(),
        },
    ]
}

fn sample_keyed() -> KeyedRequest {
    KeyedRequest {
        invocation: ID,
        digest: [0x3c; 32],
        created_at_ms: 1_700_000_000_000,
    }
}

fn sample_key() -> IdempotencyKey {
    IdempotencyKey {
        scope: "invoke export.run".into(),
        key: "order-42".into(),
        digest: [0x3c; 32],
    }
}

/// The ops of idempotent and scheduled work (added after `sample_quota_ops_v2`'s).
pub(crate) fn sample_operate_ops() -> Vec<Op> {
    let record = InvocationRecord {
        state: InvocationState::Pending,
        finished_at_ms: None,
        output: None,
        failure: None,
        ..sample_record()
    };
    vec![
        Op::CreateInvocation {
            record: Box::new(record),
            key: Some(sample_key()),
            start_at_ms: Some(1_700_000_600_000),
        },
        Op::SignalOnce {
            tenant: "acme".into(),
            invocation: ID,
            name: "approved".into(),
            payload: b"true".to_vec(),
            key: sample_key(),
        },
    ]
}

/// The ops of pausing (added after `sample_operate_ops`'s), and the state they record.
pub(crate) fn sample_pause_ops() -> Vec<Op> {
    vec![
        Op::Pause {
            tenant: "acme".into(),
            invocation: ID,
        },
        Op::Resume {
            tenant: "acme".into(),
            invocation: ID,
        },
    ]
}

/// The op of a retention sweep (added after `sample_pause_ops`'s).
pub(crate) fn sample_forget_ops() -> Vec<Op> {
    vec![Op::Forget {
        tenant: "acme".into(),
        invocations: vec![ID, OTHER],
        keys: vec![("invoke export.run".into(), "order-42".into())],
        before_ms: 1_700_000_000_000,
    }]
}

#[test]
fn paused_states_keep_their_bytes() {
    for (name, state) in [
        ("state_scheduled", InvocationState::Scheduled),
        ("state_paused", InvocationState::Paused),
    ] {
        let stored = pinned("v1", name, &encode(&state));
        assert_eq!(decode::<InvocationState>(name, &stored).expect(name), state);
    }
}

fn sample_egress() -> EgressRules {
    EgressRules {
        hosts: vec![
            AllowedHost::Name("api.crm.test".into()),
            AllowedHost::Under("stripe.test".into()),
            AllowedHost::Range("203.0.113.0/24".parse().expect("cidr")),
            AllowedHost::Range("2001:db8::/32".parse().expect("cidr")),
        ],
        ports: vec![443, 8443],
    }
}

fn sample_quotas() -> Quotas {
    Quotas {
        max_running: Some(8),
        run_ms: Some(5_000),
        journal_bytes: Some(1 << 20),
        stored_bytes: Some(1 << 30),
        retention_secs: Some(86_400),
        ..Quotas::default()
    }
}

/// [`sample_quotas`] as written before `stored_bytes` existed.
fn sample_quotas_v1() -> QuotasV1 {
    QuotasV1 {
        max_running: Some(8),
        run_ms: Some(5_000),
        journal_bytes: Some(1 << 20),
        ..QuotasV1::default()
    }
}

fn sample_tenant() -> TenantRecord {
    TenantRecord {
        name: "acme".into(),
        created_at_ms: 1_700_000_000_000,
    }
}

fn sample_keys() -> [(&'static str, KeyRecord); 2] {
    [
        (
            "key_admin",
            KeyRecord {
                hash: [0x5a; 32],
                role: KeyRole::Admin,
                created_at_ms: 1_700_000_000_000,
                revoked_at_ms: None,
            },
        ),
        (
            "key_tenant_revoked",
            KeyRecord {
                hash: [0xa5; 32],
                role: KeyRole::Tenant("acme".into()),
                created_at_ms: 1_700_000_000_000,
                revoked_at_ms: Some(1_700_000_000_001),
            },
        ),
    ]
}

/// The ops on tenants and keys (added after `sample_ops`'s, whose fixtures predate them).
pub(crate) fn sample_access_ops() -> Vec<Op> {
    let [(_, admin), (_, tenant)] = sample_keys();
    vec![
        Op::CreateTenant {
            tenant: sample_tenant(),
        },
        Op::CreateKey { key: admin },
        Op::CreateKey { key: tenant },
        Op::RevokeKey { hash: [0xa5; 32] },
    ]
}

/// The op on quotas (added after `sample_access_ops`'s, whose fixture predates it), as
/// written before `stored_bytes` existed.
pub(crate) fn sample_quota_ops() -> Vec<Op> {
    vec![Op::SetQuotasV1 {
        tenant: "acme".into(),
        quotas: sample_quotas_v1(),
    }]
}

/// The op on quotas with `stored_bytes` (added after `sample_egress_ops`'s).
pub(crate) fn sample_quota_ops_v2() -> Vec<Op> {
    vec![Op::SetQuotas {
        tenant: "acme".into(),
        quotas: sample_quotas(),
    }]
}

/// The ops on egress rules (added after `sample_quota_ops`'s, whose fixture predates them).
pub(crate) fn sample_egress_ops() -> Vec<Op> {
    vec![
        Op::SetEgress {
            tenant: "acme".into(),
            deployment: None,
            rules: Some(sample_egress()),
        },
        Op::SetEgress {
            tenant: "acme".into(),
            deployment: Some("export".into()),
            rules: None,
        },
    ]
}

#[test]
fn journal_entries_keep_their_bytes() {
    for (name, outcome) in sample_outcomes() {
        let name = format!("outcome_{name}");
        let stored = pinned("v1", &name, &encode(&outcome));
        assert_eq!(decode::<Outcome>("outcome", &stored).expect(&name), outcome);
    }
    for (name, entry) in sample_entries() {
        let stored = pinned("v1", &name, &encode(&entry));
        assert_eq!(decode::<StepEntry>("entry", &stored).expect(&name), entry);
    }
}

/// One op of every kind, with every step effect: what a log record holds.
pub(crate) fn sample_ops() -> Vec<Op> {
    let entry = encode(&sample_entries()[0].1);
    let append = |effect, create| Op::AppendStep {
        tenant: "acme".into(),
        invocation: ID,
        seq: 3,
        entry: entry.clone(),
        effect,
        create,
    };
    let mut child = minimal_record();
    child.parent = Some(ID);
    vec![
        append(StepEffect::None, Some(Box::new(sample_record()))),
        append(StepEffect::CreateChild(Box::new(child)), None),
        append(
            StepEffect::ConsumeSignals(vec![("approve".into(), 0), ("approve".into(), 1)]),
            None,
        ),
        append(StepEffect::EndRetries, None),
        Op::PutInvocation {
            record: Box::new(minimal_record()),
            create: true,
        },
        Op::Suspend {
            record: Box::new(sample_record()),
            seq: 7,
            mode: AwaitMode::Race,
            items: vec![
                Awaitable::Child(OTHER),
                Awaitable::Timer {
                    due_ms: 1_700_000_009_000,
                },
                Awaitable::Signal("approve".into()),
            ],
            retry: Some(RetryState {
                attempts: 4,
                first_ms: 1_700_000_000_000,
            }),
        },
        Op::TimerDue {
            due_ms: 1_700_000_009_000,
            tenant: "acme".into(),
            invocation: ID,
        },
        Op::Signal {
            tenant: "acme".into(),
            invocation: ID,
            name: "approve".into(),
            payload: br#"{"ok":true}"#.to_vec(),
        },
        Op::Cancel {
            tenant: "acme".into(),
            invocation: ID,
        },
        Op::Deploy {
            deployment: sample_deployment_v1(),
            component: b"\0asm\x0d\0\x01\0".to_vec(),
        },
    ]
}

/// The ops of deploying with `on_exhausted` and of pausing when attempts run out (added
/// after `sample_rewind_ops`'s).
pub(crate) fn sample_exhausted_ops() -> Vec<Op> {
    let record = InvocationRecord {
        state: InvocationState::Paused,
        finished_at_ms: None,
        output: None,
        ..sample_record()
    };
    vec![
        Op::DeployV2 {
            deployment: sample_deployment(),
            component: b"\0asm\x0d\0\x01\0".to_vec(),
        },
        Op::PauseExhausted {
            record: Box::new(record.clone()),
            seq: Some(4),
        },
        Op::PauseExhausted {
            record: Box::new(record),
            seq: None,
        },
    ]
}

/// A bundle with something in every field: a suspended invocation with a kept signal, kept
/// attempts, a child and a history event.
pub(crate) fn sample_bundle() -> Bundle {
    let component = b"\0asm\x0d\0\x01\0".to_vec();
    let record = InvocationRecord {
        state: InvocationState::Suspended,
        component: ComponentHash::of(&component),
        finished_at_ms: None,
        output: None,
        failure: None,
        ..sample_record()
    };
    let deployment = Deployment {
        tenant: record.tenant.clone(),
        name: record.deployment.clone(),
        component: record.component,
        ..sample_deployment()
    };
    let (_, event) = sample_history()[2].clone();
    Bundle {
        move_id: 0x0123_4567_89ab_cdef_0123_4567_89ab_cdef,
        from_node: "http://10.0.0.1:7420".into(),
        made_at_ms: 1_700_000_000_500,
        record,
        deployment: Some(deployment),
        component,
        steps: vec![
            StoredStep {
                seq: 0,
                entry: vec![1, 2, 3],
            },
            StoredStep {
                seq: 1,
                entry: vec![4],
            },
        ],
        history: vec![EncodedEvent(encode(&event))],
        wait: Some(sample_wait()),
        paused_from: None,
        signals: vec![KeptSignal {
            name: "approve".into(),
            n: 3,
            payload: b"true".to_vec(),
        }],
        retries: vec![(
            1,
            RetryState {
                attempts: 2,
                first_ms: 1_700_000_000_100,
            },
        )],
        children: vec![(OTHER, true)],
        family: Default::default(),
    }
}

/// A format-2 bundle: [`sample_bundle`] with a second child, its wait counting on it, and the
/// records of both (the first finished, the second suspended on another node).
pub(crate) fn sample_bundle_with_children() -> Bundle {
    let mut bundle = sample_bundle();
    let third = InvocationId(0x0001_8f3a_2b4e_0000_0123_4567_89ab_cdef);
    bundle.children.push((third, false));
    let finished = InvocationRecord {
        id: OTHER,
        parent: Some(bundle.record.id),
        detached: true,
        ..sample_record()
    };
    let running = InvocationRecord {
        id: third,
        state: InvocationState::Suspended,
        detached: false,
        finished_at_ms: None,
        output: None,
        failure: None,
        ..finished.clone()
    };
    let seq = bundle.wait.as_ref().map_or(0, |w| w.seq);
    bundle.family = crate::journal::Family {
        children: vec![
            crate::journal::ChildCopy {
                record: finished,
                node: String::new(),
            },
            crate::journal::ChildCopy {
                record: running,
                node: "http://10.0.0.3:7420".into(),
            },
        ],
        awaited: vec![(third, seq)],
    };
    bundle
}

/// The op of format-2 bundles (added after `sample_outbox_ops`'s).
pub(crate) fn sample_arrive_ops() -> Vec<Op> {
    let mut bundle = sample_bundle_with_children();
    let family = std::mem::take(&mut bundle.family);
    vec![Op::Arrive {
        bundle: Box::new(bundle),
        family,
    }]
}

/// The op keeping guests' output (added after `sample_arrive_ops`'s).
pub(crate) fn sample_output_ops() -> Vec<Op> {
    let line = |position, n, stream, text: &str| crate::journal::OutputLine {
        position,
        n,
        stream,
        at_ms: 1_700_000_000_123,
        text: text.into(),
    };
    vec![Op::PutOutput {
        tenant: "acme".into(),
        invocation: ID,
        lines: vec![
            line(0, 0, crate::journal::Stdio::Stdout, "exporting 3 users"),
            line(2, 0, crate::journal::Stdio::Stderr, "retrying user 2"),
        ],
    }]
}

/// The ops of versions (added after `sample_move_ops`'s).
pub(crate) fn sample_version_ops() -> Vec<Op> {
    vec![
        Op::Upgrade {
            tenant: "acme".into(),
            invocation: ID,
            plan: crate::journal::UpgradePlan {
                steps: 4,
                from: ComponentHash([0xab; 32]),
                to: ComponentHash([0xcd; 32]),
                to_version: 3,
            },
        },
        Op::DropVersions {
            tenant: "acme".into(),
            name: Some("export".into()),
        },
        Op::DropVersions {
            tenant: "acme".into(),
            name: None,
        },
    ]
}

/// The outbox's messages: a child's end, a cancel.
fn sample_messages() -> [(&'static str, crate::journal::Message); 2] {
    [
        (
            "message_child_ended",
            crate::journal::Message::ChildEnded(Box::new(sample_record())),
        ),
        (
            "message_cancel",
            crate::journal::Message::Cancel {
                tenant: "acme".into(),
                invocation: ID,
            },
        ),
    ]
}

/// The ops of parents and children on different nodes (added after `sample_version_ops`'s).
pub(crate) fn sample_outbox_ops() -> Vec<Op> {
    vec![
        Op::ChildEnded {
            record: Box::new(sample_record()),
        },
        Op::Delivered {
            node: "http://10.0.0.1:7420".into(),
            messages: vec![("acme".into(), ID, 0), ("acme".into(), OTHER, 1)],
        },
    ]
}

#[test]
fn messages_keep_their_bytes() {
    for (name, message) in sample_messages() {
        let stored = pinned("v1", name, &encode(&message));
        assert_eq!(
            decode::<crate::journal::Message>(name, &stored).expect(name),
            message
        );
    }
}

/// The ops of moving invocations between nodes (added after `sample_exhausted_ops`'s).
pub(crate) fn sample_move_ops() -> Vec<Op> {
    let move_id = 0x0123_4567_89ab_cdef_0123_4567_89ab_cdef;
    vec![
        Op::Leave {
            tenant: "acme".into(),
            invocation: ID,
            move_id,
            to: "http://10.0.0.2:7420".into(),
        },
        Op::Depart {
            tenant: "acme".into(),
            invocation: ID,
            move_id,
        },
        Op::StayHome {
            tenant: "acme".into(),
            invocation: ID,
            move_id,
        },
        Op::Import {
            bundle: Box::new(sample_bundle()),
        },
        Op::RefuseArrival {
            move_id,
            tenant: "acme".into(),
            invocation: OTHER,
        },
    ]
}

#[test]
fn moves_keep_their_bytes() {
    let stored = pinned("v1", "state_moved", &encode(&InvocationState::Moved));
    assert_eq!(
        decode::<InvocationState>("state", &stored).expect("state"),
        InvocationState::Moved
    );
    let departure = Departure {
        move_id: 7,
        to: "http://10.0.0.2:7420".into(),
        at_ms: 1_700_000_000_000,
        from: InvocationState::Suspended,
        phase: Phase::Leaving,
        wait: Some(sample_wait()),
    };
    let stored = pinned("v1", "departure", &encode(&departure));
    assert_eq!(
        decode::<Departure>("departure", &stored).expect("departure"),
        departure
    );
    let left = Departure {
        to: String::new(),
        phase: Phase::Left,
        wait: None,
        ..departure
    };
    let stored = pinned("v1", "departure_left", &encode(&left));
    assert_eq!(
        decode::<Departure>("departure", &stored).expect("departure"),
        left
    );
    let arrival = Arrival {
        tenant: "acme".into(),
        invocation: ID,
        arrived: true,
        at_ms: 1_700_000_000_000,
    };
    let stored = pinned("v1", "arrival", &encode(&arrival));
    assert_eq!(
        decode::<Arrival>("arrival", &stored).expect("arrival"),
        arrival
    );
    // A bundle file: its own header and version, then postcard. Format 1 is still read.
    let path = fixture_dir("bundle1").join("bundle.hex");
    let v1 = unhex(std::fs::read_to_string(&path).expect("bundle1").trim());
    assert_eq!(Bundle::from_bytes(&v1).expect("bundle"), sample_bundle());
    let bundle = sample_bundle_with_children();
    let stored = pinned("bundle2", "bundle", &bundle.to_bytes());
    assert_eq!(Bundle::from_bytes(&stored).expect("bundle"), bundle);
}
