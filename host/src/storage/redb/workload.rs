//! Random workloads for crash tests: deploys, invocations, steps (some large enough to wrap
//! the log around), dispatches, suspensions on children, timers and signals, signals, timers
//! falling due, cancellations, pauses, completions, rewinds and forks — valid ops and refused ones — generated from a
//! seed against the state of the store they run on.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::store::Store;
use crate::ids::{ComponentHash, InvocationId, TenantId};
use crate::journal::codec::encode;
use crate::journal::{AwaitMode, Awaitable};
use crate::journal::{Deployment, Failure, FailureKind, InvocationRecord, InvocationState};
use crate::journal::{IdempotencyKey, Op, RewindPlan, StepEffect};
use crate::journal::{KeyRecord, KeyRole, RetryState, StoredPolicy, TenantRecord};
use crate::journal::{Outcome, StepEntry, StepKind};
use crate::storage::{Invocations, Journals, Signals, Waits};

/// The signal names workloads use.
const SIGNALS: [&str; 2] = ["a", "b"];

/// Generates the ops of one workload.
pub(crate) struct Generator {
    rng: StdRng,
    /// Every invocation created so far: (tenant, id).
    known: Vec<(TenantId, InvocationId)>,
}

impl Generator {
    /// A workload from `seed`.
    pub fn new(seed: u64) -> Self {
        Generator {
            rng: StdRng::seed_from_u64(seed),
            known: Vec::new(),
        }
    }

    /// The next op and when it is made, given what `store` holds now.
    pub fn next(&mut self, store: &Store) -> (Op, u64) {
        let now = crate::clock::now_ms();
        let op = match self.rng.random_range(0..100) {
            0..12 => self.create(now),
            12..45 => self.step(store, now),
            45..57 => self.suspend(store, now),
            57..64 => self.signal(),
            64..72 => self.timer_due(store, now),
            72..74 => self.cancel(),
            74..76 => self.pause_or_resume(store, now),
            76..88 => self.finish(store, now),
            88..90 => self.rewind_or_fork(store, now),
            90..95 => self.rerun(store, now),
            95..96 => self.moves(store, now),
            96..97 => self.versions(store, now),
            97..98 => self.forget(store, now),
            _ => self.access(now),
        };
        (op, now)
    }

    fn record(
        &mut self,
        tenant: &TenantId,
        parent: Option<InvocationId>,
        now: u64,
    ) -> InvocationRecord {
        let id = InvocationId((u128::from(now) << 80) | u128::from(self.rng.random::<u64>()));
        let input = format!("{{\"n\":{}}}", self.rng.random::<u16>()).into_bytes();
        let component = ComponentHash([7; 32]);
        let mut record =
            InvocationRecord::pending_at(tenant, id, "d", component, "f".into(), input, now);
        record.parent = parent;
        record.detached = parent.is_some() && self.rng.random_bool(0.3);
        record
    }

    /// A known invocation, or a made-up one now and then.
    fn pick(&mut self) -> (TenantId, InvocationId) {
        if self.known.is_empty() || self.rng.random_bool(0.03) {
            return ("t".into(), InvocationId(self.rng.random()));
        }
        let at = self.rng.random_range(0..self.known.len());
        self.known[at].clone()
    }

    fn current(store: &Store, tenant: &TenantId, id: InvocationId) -> Option<InvocationRecord> {
        store.invocation(tenant, id).ok().flatten()
    }

    fn create(&mut self, now: u64) -> Op {
        let tenant = TenantId::from(if self.rng.random_bool(0.1) { "u" } else { "t" });
        let record = self.record(&tenant, None, now);
        self.known.push((record.tenant.clone(), record.id));
        // Now and then under one of a few idempotency keys (repeats are refused), or to
        // start a little later (scheduled, then due).
        if self.rng.random_bool(0.3) {
            let keyed = self.rng.random_bool(0.5);
            let key = keyed.then(|| {
                let key = format!("k{}", self.rng.random_range(0..4));
                IdempotencyKey::new("invoke d.f".into(), key, &[&record.input])
            });
            let start_at_ms =
                (!keyed || self.rng.random_bool(0.5)).then(|| now + self.rng.random_range(0..40));
            return Op::CreateInvocation {
                record: Box::new(record),
                key,
                start_at_ms,
            };
        }
        Op::PutInvocation {
            record: Box::new(record),
            create: true,
        }
    }

    fn entry(&mut self, now: u64) -> Vec<u8> {
        // Now and then a large one, so that the log fills and starts over.
        let len = if self.rng.random_bool(0.12) {
            self.rng.random_range(2048..8192)
        } else {
            self.rng.random_range(0..64)
        };
        let mut bytes = vec![0u8; len];
        self.rng.fill(bytes.as_mut_slice());
        encode(&StepEntry {
            kind: StepKind::Random,
            digest: self.rng.random(),
            summary: format!("{len} bytes"),
            attempts: 1,
            recorded_at_ms: now,
            outcome: Outcome::Bytes(bytes),
        })
    }

    fn step(&mut self, store: &Store, now: u64) -> Op {
        let entry = self.entry(now);
        // A deferred creation: the record comes with its first step.
        if self.rng.random_bool(0.08) {
            let record = self.record(&"t".into(), None, now);
            self.known.push((record.tenant.clone(), record.id));
            return Op::AppendStep {
                tenant: record.tenant.clone(),
                invocation: record.id,
                seq: 0,
                entry,
                effect: StepEffect::None,
                create: Some(Box::new(record)),
            };
        }
        let (tenant, id) = self.pick();
        let taken = store.recorded(id).map_or(0, |r| r.remaining()) as u32;
        // Now and then a step that exists already (refused).
        let seq = if taken > 0 && self.rng.random_bool(0.08) {
            taken - 1
        } else {
            taken
        };
        let effect = match self.rng.random_range(0..100) {
            0..18 => {
                let child = self.record(&tenant, Some(id), now);
                self.known.push((tenant.clone(), child.id));
                StepEffect::CreateChild(Box::new(child))
            }
            18..26 => {
                let name = SIGNALS[self.rng.random_range(0..2)];
                let kept = store.signals(&tenant, id, name, 2).unwrap_or_default();
                StepEffect::ConsumeSignals(
                    kept.into_iter().map(|(n, _)| (name.into(), n)).collect(),
                )
            }
            26..30 => StepEffect::EndRetries,
            _ => StepEffect::None,
        };
        Op::AppendStep {
            tenant,
            invocation: id,
            seq,
            entry,
            effect,
            create: None,
        }
    }

    fn suspend(&mut self, store: &Store, now: u64) -> Op {
        let (tenant, id) = self.pick();
        let record =
            Self::current(store, &tenant, id).unwrap_or_else(|| self.record(&tenant, None, now));
        let seq = store.recorded(id).map_or(0, |r| r.remaining()) as u32;
        let mut items = Vec::new();
        for child in store.children(&tenant, id, 4).unwrap_or_default() {
            if self.rng.random_bool(0.6) {
                items.push(Awaitable::Child(child.id));
            }
        }
        for _ in 0..self.rng.random_range(0..3) {
            // Some due already, most within the next few ms, so the workload sees them fall due.
            let due = now.saturating_sub(5) + self.rng.random_range(0..40);
            items.push(Awaitable::Timer { due_ms: due });
        }
        for _ in 0..self.rng.random_range(0..3) {
            items.push(Awaitable::Signal(
                SIGNALS[self.rng.random_range(0..2)].into(),
            ));
        }
        let mode = [AwaitMode::All, AwaitMode::Any, AwaitMode::Race][self.rng.random_range(0..3)];
        let retry = self.rng.random_bool(0.1).then(|| RetryState {
            attempts: self.rng.random_range(1..5),
            first_ms: now.saturating_sub(100),
        });
        Op::Suspend {
            record: Box::new(record),
            seq,
            mode,
            items,
            retry,
        }
    }

    fn forget(&mut self, store: &Store, now: u64) -> Op {
        use crate::storage::Invocations;
        let tenant = TenantId::from(if self.rng.random_bool(0.1) { "u" } else { "t" });
        let invocations = store.finished_before(&tenant, now, 4).unwrap_or_default();
        let keys = store.expired_keys(&tenant, now, 8).unwrap_or_default();
        Op::Forget {
            tenant,
            invocations,
            keys,
            before_ms: now,
        }
    }

    /// A rewind of a known invocation (to a step of its journal, now and then past it or
    /// checked against a state it is no longer in: refused), or a fork of it.
    fn rewind_or_fork(&mut self, store: &Store, now: u64) -> Op {
        use crate::storage::Deployments;
        let (tenant, id) = self.pick();
        let recorded = store.recorded(id).unwrap_or_default();
        let steps = recorded.remaining() as u32;
        let past = u32::from(self.rng.random_bool(0.05));
        let at = self.rng.random_range(0..=steps + past);
        let component = store
            .deployment(&"t".into(), "d")
            .ok()
            .flatten()
            .map_or(ComponentHash([7; 32]), |d| d.component);
        let Some(record) = Self::current(store, &tenant, id) else {
            return self.cancel();
        };
        if self.rng.random_bool(0.3) {
            let fork = self.record(&tenant, None, now);
            self.known.push((tenant, fork.id));
            return Op::Fork {
                record: Box::new(fork),
                from: id,
                from_component: record.component,
                steps: recorded.first(at as usize).stored_steps(),
            };
        }
        let state = if self.rng.random_bool(0.9) {
            record.state
        } else {
            InvocationState::Completed
        };
        Op::Rewind {
            tenant,
            invocation: id,
            plan: RewindPlan {
                to_step: at,
                steps,
                state,
                history: store.history_len(id).unwrap_or_default(),
                component,
                deployment: "d".into(),
            },
        }
    }

    /// A move's op: leave, or decide a move under way (now and then under the wrong move),
    /// import a bundle (of a leaving invocation: a move back; or a new one), refuse one.
    fn moves(&mut self, store: &Store, now: u64) -> Op {
        use crate::storage::{Moves, Outbox};
        let (tenant, invocation) = self.pick();
        let departure = store.departure(&tenant, invocation).ok().flatten();
        let wrong = self.rng.random_bool(0.1);
        // Now and then the end of a child that left (or of one that did not: refused), or
        // an acknowledgement of what the outbox holds.
        if self.rng.random_bool(0.2) {
            if let Some((node, message)) = store.outbox().ok().and_then(|o| o.into_iter().next()) {
                let (tenant, id, kind) = message.key();
                return Op::Delivered {
                    node,
                    messages: vec![(tenant.clone(), id, kind)],
                };
            }
            let mut end = Self::current(store, &tenant, invocation)
                .unwrap_or_else(|| self.record(&tenant, None, now));
            end.finish(InvocationState::Completed, now);
            return Op::ChildEnded {
                record: Box::new(end),
            };
        }
        if let Some(d) = departure.filter(|d| d.phase == crate::journal::Phase::Leaving) {
            let move_id = if wrong { d.move_id ^ 1 } else { d.move_id };
            return match self.rng.random_range(0..3) {
                0 => Op::Depart {
                    tenant,
                    invocation,
                    move_id,
                },
                1 => Op::StayHome {
                    tenant,
                    invocation,
                    move_id,
                },
                _ => match store.bundle(&tenant, invocation, "", now) {
                    Ok(Some(mut bundle)) => {
                        bundle.move_id = self.rng.random();
                        let family = std::mem::take(&mut bundle.family);
                        Op::Arrive {
                            bundle: Box::new(bundle),
                            family,
                        }
                    }
                    _ => self.cancel(),
                },
            };
        }
        match self.rng.random_range(0..10) {
            0..7 => Op::Leave {
                tenant,
                invocation,
                move_id: self.rng.random(),
                to: if wrong {
                    String::new()
                } else {
                    "http://n2".into()
                },
            },
            7 => Op::RefuseArrival {
                move_id: self.rng.random_range(0..4),
                tenant,
                invocation,
            },
            _ => {
                let component = b"\0asm".to_vec();
                let mut record = self.record(&tenant, None, now);
                record.component = ComponentHash::of(&component);
                self.known.push((tenant, record.id));
                Op::Import {
                    bundle: Box::new(crate::journal::Bundle {
                        move_id: self.rng.random_range(0..4),
                        from_node: "http://n2".into(),
                        made_at_ms: now,
                        record,
                        deployment: None,
                        component,
                        steps: Vec::new(),
                        history: Vec::new(),
                        wait: None,
                        paused_from: None,
                        signals: Vec::new(),
                        retries: Vec::new(),
                        children: Vec::new(),
                        family: Default::default(),
                    }),
                }
            }
        }
    }

    fn pause_or_resume(&mut self, store: &Store, now: u64) -> Op {
        let (tenant, invocation) = self.pick();
        // Now and then a pause because attempts ran out, dropping a step's kept attempts.
        if self.rng.random_bool(0.2) {
            let mut record = Self::current(store, &tenant, invocation)
                .unwrap_or_else(|| self.record(&tenant, None, now));
            record.failure = Some(Failure {
                kind: FailureKind::Exhausted,
                message: "paused: attempts ran out".into(),
            });
            let seq = store.recorded(invocation).map_or(0, |r| r.remaining()) as u32;
            return Op::PauseExhausted {
                record: Box::new(record),
                seq: self.rng.random_bool(0.7).then_some(seq),
            };
        }
        if self.rng.random_bool(0.5) {
            Op::Pause { tenant, invocation }
        } else {
            Op::Resume { tenant, invocation }
        }
    }

    fn signal(&mut self) -> Op {
        let (tenant, id) = self.pick();
        let name = SIGNALS[self.rng.random_range(0..2)];
        let payload = format!("{}", self.rng.random::<u8>()).into_bytes();
        if self.rng.random_bool(0.3) {
            let key = format!("s{}", self.rng.random_range(0..3));
            let key = IdempotencyKey::new(format!("signal {id}"), key, &[&payload]);
            return Op::SignalOnce {
                tenant,
                invocation: id,
                name: name.into(),
                payload,
                key,
            };
        }
        Op::Signal {
            tenant,
            invocation: id,
            name: name.into(),
            payload,
        }
    }

    fn timer_due(&mut self, store: &Store, now: u64) -> Op {
        let due = store.due_timers(now, 8).unwrap_or_default();
        match due.get(self.rng.random_range(0..due.len().max(1))) {
            Some((due_ms, tenant, id)) => Op::TimerDue {
                due_ms: *due_ms,
                tenant: tenant.clone(),
                invocation: *id,
            },
            None => self.signal(),
        }
    }

    fn cancel(&mut self) -> Op {
        let (tenant, id) = self.pick();
        Op::Cancel {
            tenant,
            invocation: id,
        }
    }

    fn finish(&mut self, store: &Store, now: u64) -> Op {
        let (tenant, id) = self.pick();
        let mut record =
            Self::current(store, &tenant, id).unwrap_or_else(|| self.record(&tenant, None, now));
        if self.rng.random_bool(0.7) {
            record.output = Some(b"\"done\"".to_vec());
            record.finish(InvocationState::Completed, now);
        } else {
            record.failure = Some(Failure {
                kind: FailureKind::FunctionError,
                message: "no".into(),
            });
            record.finish(InvocationState::Failed, now);
        }
        Op::PutInvocation {
            record: Box::new(record),
            create: false,
        }
    }

    fn rerun(&mut self, store: &Store, now: u64) -> Op {
        let (tenant, id) = self.pick();
        let mut record =
            Self::current(store, &tenant, id).unwrap_or_else(|| self.record(&tenant, None, now));
        record.attempts += 1;
        record.updated_at_ms = now;
        if self.rng.random_bool(0.5) {
            record.state = InvocationState::Running;
        }
        Op::PutInvocation {
            record: Box::new(record),
            create: false,
        }
    }

    /// A deploy, an upgrade onto the current code (now and then checked against another
    /// journal), or the removal of old versions.
    fn versions(&mut self, store: &Store, now: u64) -> Op {
        use crate::storage::Deployments;
        match self.rng.random_range(0..10) {
            0..5 => self.deploy(now),
            5..8 => {
                let (tenant, id) = self.pick();
                let Some(record) = Self::current(store, &tenant, id) else {
                    return self.deploy(now);
                };
                let to = store
                    .deployment(&"t".into(), &record.deployment)
                    .ok()
                    .flatten()
                    .map_or(ComponentHash([7; 32]), |d| d.component);
                let steps = store.recorded(id).map_or(0, |r| r.remaining() as u32);
                Op::Upgrade {
                    tenant,
                    invocation: id,
                    plan: crate::journal::UpgradePlan {
                        steps: steps + u32::from(self.rng.random_bool(0.1)),
                        from: record.component,
                        to,
                        to_version: 2,
                    },
                }
            }
            _ => Op::DropVersions {
                tenant: "t".into(),
                name: self.rng.random_bool(0.5).then(|| "d".into()),
            },
        }
    }

    fn deploy(&mut self, now: u64) -> Op {
        let mut component = vec![0u8; self.rng.random_range(16..1024)];
        self.rng.fill(component.as_mut_slice());
        Op::DeployV2 {
            deployment: Deployment {
                tenant: "t".into(),
                name: ["d", "e"][self.rng.random_range(0..2)].into(),
                component: ComponentHash::of(&component),
                functions: vec!["f".into()],
                version: 0,
                size: component.len() as u64,
                deployed_at_ms: now,
                policy: StoredPolicy::default(),
            },
            component,
        }
    }

    /// A tenant, key or schedule op: some refused (an existing tenant, a key of a missing
    /// tenant, a second revocation, a schedule at the wrong revision or missing).
    fn access(&mut self, now: u64) -> Op {
        let tenant = TenantId::from(["t", "u", "v"][self.rng.random_range(0..3)]);
        let hash = [self.rng.random_range(0..4u8); 32];
        let name = ["hourly", "nightly"][self.rng.random_range(0..2)].to_string();
        match self.rng.random_range(0..5) {
            3 => Op::PutSchedule {
                schedule: Box::new(crate::journal::Schedule {
                    tenant,
                    name,
                    cron: "0 * * * *".into(),
                    tz: "UTC".into(),
                    target: "d.f".into(),
                    input: b"null".to_vec(),
                    missed: crate::journal::Missed::Once,
                    grace_ms: 60_000,
                    paused: self.rng.random_bool(0.3),
                    next_ms: Some(now + 3_600_000),
                    fired: self.rng.random_range(0..5),
                    skipped: 0,
                    refused: 0,
                    last_fired: None,
                    last_refusal: None,
                    created_at_ms: now,
                    revision: self.rng.random_range(0..3),
                }),
            },
            4 => Op::RemoveSchedule { tenant, name },
            0 => Op::CreateTenant {
                tenant: TenantRecord {
                    name: tenant,
                    created_at_ms: now,
                },
            },
            1 => Op::CreateKey {
                key: KeyRecord {
                    hash,
                    role: if self.rng.random_bool(0.2) {
                        KeyRole::Admin
                    } else {
                        KeyRole::Tenant(tenant)
                    },
                    created_at_ms: now,
                    revoked_at_ms: None,
                },
            },
            _ => Op::RevokeKey { hash },
        }
    }
}
