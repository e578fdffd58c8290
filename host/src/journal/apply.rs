//! What each write does inside the writer's transaction.
//!
//! Every op checks before it writes, so a refused op writes nothing. Index rows (runnable,
//! waits, timers, awaited children) follow the records in this one place, and the events that
//! can satisfy a wait (a child finishing, a timer falling due, a signal arriving) update the
//! waiting invocation's counters here, in the same transaction as the event itself.

use redb::{ReadableTable, Table, WriteTransaction};
use serde::{Deserialize, Serialize};

use super::codec::{decode, encode};
use super::error::{StorageFailure, WriteError};
use super::recent::{Recent, Staged, StepKey};
use super::records::{Deployment, Failure, FailureKind, InvocationRecord, InvocationState};
use super::schema::{
    AWAITED, CHILDREN, COMPONENTS, COUNTS, DEPLOYMENTS, INVOCATIONS, JOURNAL, RETRIES, RUNNABLE,
    SIGNALS, TIMERS, WAITS,
};
use super::waits::{self, AwaitMode, Awaitable, Resolution, WaitState};
use crate::ids::InvocationId;

/// Every table a write may touch, opened once per batch.
pub(super) struct Tables<'txn> {
    components: Table<'txn, &'static [u8], &'static [u8]>,
    deployments: Table<'txn, (&'static str, &'static str), &'static [u8]>,
    invocations: Table<'txn, (&'static str, u128), &'static [u8]>,
    runnable: Table<'txn, (&'static str, u128), ()>,
    journal: Table<'txn, (u128, u32), &'static [u8]>,
    timers: Table<'txn, (u64, u128), &'static str>,
    waits: Table<'txn, (&'static str, u128), &'static [u8]>,
    awaited: Table<'txn, (&'static str, u128), (u128, u32)>,
    children: Table<'txn, (&'static str, u128, u128), bool>,
    signals: Table<'txn, (&'static str, u128, &'static str, u64), &'static [u8]>,
    counts: Table<'txn, (&'static str, &'static str), u64>,
    retries: Table<'txn, (u128, u32), (u32, u64)>,
    /// Where journal entries go: kept aside until the batch is durable (then to [`Recent`]),
    /// or, when `None`, into the journal table.
    staged: Option<Staged>,
    /// Durable entries not yet in the journal table, when staging.
    recent: Option<&'txn Recent>,
    /// When the op being applied was made (ms since the Unix epoch): every time an op writes
    /// is this one, never the clock's, so a replay of the log writes what the first
    /// application wrote.
    now_ms: u64,
}

impl<'txn> Tables<'txn> {
    /// Opens every table in `txn`; journal entries are written to the journal table.
    pub fn open(txn: &'txn WriteTransaction) -> Result<Self, StorageFailure> {
        Self::open_with(txn, None)
    }

    /// Opens every table in `txn`; journal entries are kept aside (see [`Tables::take_staged`])
    /// and checked against `recent` as well as the journal table.
    pub fn staging(
        txn: &'txn WriteTransaction,
        recent: &'txn Recent,
    ) -> Result<Self, StorageFailure> {
        Self::open_with(txn, Some(recent))
    }

    /// The journal entries kept aside by the ops applied so far.
    pub fn take_staged(&mut self) -> Staged {
        self.staged.as_mut().map(std::mem::take).unwrap_or_default()
    }

    /// Writes the entries of `recent` (durable in the log until now) to the journal table.
    pub fn write_recent(&mut self, recent: &Recent) -> Result<(), StorageFailure> {
        recent.write_all(|key, entry| self.journal.insert(key, entry).map(drop))?;
        Ok(())
    }

    fn step_exists(&self, key: StepKey) -> Result<bool, StorageFailure> {
        if self.staged.as_ref().is_some_and(|s| s.contains_key(&key))
            || self.recent.is_some_and(|r| r.contains(key))
        {
            return Ok(true);
        }
        Ok(self.journal.get(key)?.is_some())
    }

    fn put_step(&mut self, key: StepKey, entry: &[u8]) -> Result<(), StorageFailure> {
        match &mut self.staged {
            Some(staged) => {
                staged.insert(key, entry.to_vec());
            }
            None => {
                self.journal.insert(key, entry)?;
            }
        }
        Ok(())
    }

    fn open_with(
        txn: &'txn WriteTransaction,
        recent: Option<&'txn Recent>,
    ) -> Result<Self, StorageFailure> {
        Ok(Tables {
            components: txn.open_table(COMPONENTS)?,
            deployments: txn.open_table(DEPLOYMENTS)?,
            invocations: txn.open_table(INVOCATIONS)?,
            runnable: txn.open_table(RUNNABLE)?,
            journal: txn.open_table(JOURNAL)?,
            timers: txn.open_table(TIMERS)?,
            waits: txn.open_table(WAITS)?,
            awaited: txn.open_table(AWAITED)?,
            children: txn.open_table(CHILDREN)?,
            signals: txn.open_table(SIGNALS)?,
            counts: txn.open_table(COUNTS)?,
            retries: txn.open_table(RETRIES)?,
            staged: recent.map(|_| Staged::new()),
            recent,
            now_ms: 0,
        })
    }
}

/// One write. Ops are also what the write-ahead log records, so they replay exactly.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(super) enum Op {
    /// Append a step at `seq` of a pending or running invocation, with what it entails;
    /// first create the invocation from `create` if its creation was deferred.
    AppendStep {
        tenant: String,
        invocation: u128,
        seq: u32,
        #[serde(with = "super::bytes")]
        entry: Vec<u8>,
        effect: StepEffect,
        create: Option<Box<InvocationRecord>>,
    },
    /// Create (`create`) or update an invocation record that is not suspending.
    PutInvocation {
        record: Box<InvocationRecord>,
        create: bool,
    },
    /// Suspend a running invocation on `items` (the wait step is at `seq`), or make it
    /// pending at once if the wait is already satisfied; `retry` keeps the attempts of the
    /// HTTP step at `seq` that waits to be retried.
    Suspend {
        record: Box<InvocationRecord>,
        seq: u32,
        mode: AwaitMode,
        items: Vec<Awaitable>,
        retry: Option<RetryState>,
    },
    /// A timer row fell due.
    TimerDue {
        due_ms: u64,
        tenant: String,
        invocation: u128,
    },
    /// Deliver a signal to an unfinished invocation.
    Signal {
        tenant: String,
        invocation: u128,
        name: String,
        #[serde(with = "super::bytes")]
        payload: Vec<u8>,
    },
    /// Cancel an unfinished invocation and its attached descendants.
    Cancel { tenant: String, invocation: u128 },
    /// Store a component (if not stored yet) and point a deployment at it.
    Deploy {
        deployment: Deployment,
        #[serde(with = "super::bytes")]
        component: Vec<u8>,
    },
}

/// What a step entails besides its journal entry, written in the same transaction.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub enum StepEffect {
    /// Nothing.
    None,
    /// Create this child invocation (a dispatch).
    CreateChild(Box<InvocationRecord>),
    /// Remove these received signals: (name, arrival number).
    ConsumeSignals(Vec<(String, u64)>),
    /// Remove the kept attempts of this (HTTP) step: its outcome is final.
    EndRetries,
}

/// The attempts of an HTTP step between two of them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RetryState {
    /// Attempts made so far.
    pub attempts: u32,
    /// When the first started (ms since the Unix epoch).
    pub first_ms: u64,
}

/// Invocations whose state an op changed besides its own target, for the scheduler to act on.
#[derive(Debug, Default)]
pub struct Effects {
    /// Became pending: start them.
    pub woken: Vec<(String, InvocationId)>,
    /// Were cancelled: stop them if they run, and tell their waiters.
    pub cancelled: Vec<(String, InvocationId)>,
}

type Applied = Result<Result<(), WriteError>, StorageFailure>;

fn refuse(err: WriteError) -> Applied {
    Ok(Err(err))
}

fn id_text(id: u128) -> String {
    InvocationId(id).to_string()
}

/// Applies one op made at `at_ms` (ms since the Unix epoch), adding to `effects` what it
/// caused. The outer `Err` is a storage failure that aborts the whole batch.
pub(super) fn apply(t: &mut Tables<'_>, op: &Op, at_ms: u64, effects: &mut Effects) -> Applied {
    t.now_ms = at_ms;
    match op {
        Op::AppendStep {
            tenant,
            invocation,
            seq,
            entry,
            effect,
            create,
        } => {
            let create = create.as_deref();
            append_step(t, tenant, *invocation, *seq, entry, effect, create, effects)
        }
        Op::PutInvocation { record, create } => {
            let old = read_record(t, &record.tenant, record.id.0)?;
            match (old, create) {
                (Some(_), true) => refuse(WriteError::InvocationExists(record.id.to_string())),
                (None, false) => refuse(WriteError::NoSuchInvocation(record.id.to_string())),
                (Some(old), false) if old.state.is_terminal() => {
                    refuse(WriteError::InvocationFinished(record.id.to_string()))
                }
                // The wait rows follow the state: only a suspension makes an invocation
                // suspended, and only its wait (or its end) makes it anything else.
                _ if record.state == InvocationState::Suspended => refuse(WriteError::NotAllowed {
                    invocation: record.id.to_string(),
                    why: "only a suspension makes an invocation suspended",
                }),
                (Some(old), false)
                    if old.state == InvocationState::Suspended && !record.state.is_terminal() =>
                {
                    refuse(WriteError::NotAllowed {
                        invocation: record.id.to_string(),
                        why: "a suspended invocation is woken only by its wait",
                    })
                }
                (old, _) => {
                    put_record(t, record, old.map(|o| o.state), effects)?;
                    Ok(Ok(()))
                }
            }
        }
        Op::Suspend {
            record,
            seq,
            mode,
            items,
            retry,
        } => match read_record(t, &record.tenant, record.id.0)? {
            None => refuse(WriteError::NoSuchInvocation(record.id.to_string())),
            Some(old) if old.state.is_terminal() => {
                refuse(WriteError::InvocationFinished(record.id.to_string()))
            }
            // Only a pending or running invocation suspends: one already suspended waits on
            // its wait, whose rows a second one would leave behind.
            Some(old) if old.state == InvocationState::Suspended => {
                refuse(WriteError::NotRunning(record.id.to_string()))
            }
            Some(old) => {
                if let Some(retry) = retry {
                    t.retries
                        .insert((record.id.0, *seq), (retry.attempts, retry.first_ms))?;
                }
                suspend(t, record, old.state, *seq, *mode, items, effects)?;
                Ok(Ok(()))
            }
        },
        Op::TimerDue {
            due_ms,
            tenant,
            invocation,
        } => {
            t.timers.remove((*due_ms, *invocation))?;
            let now = t.now_ms.max(*due_ms);
            // Every timer due by now falls due, and their rows go with them.
            let mut fell_due = Vec::new();
            update_wait(t, tenant, *invocation, effects, |w| {
                fell_due = w.time_reached(now);
                !fell_due.is_empty()
            })?;
            for due in fell_due {
                t.timers.remove((due, *invocation))?;
            }
            Ok(Ok(()))
        }
        Op::Signal {
            tenant,
            invocation,
            name,
            payload,
        } => {
            match read_record(t, tenant, *invocation)? {
                None => return refuse(WriteError::NoSuchInvocation(id_text(*invocation))),
                Some(r) if r.state.is_terminal() => {
                    return refuse(WriteError::InvocationFinished(id_text(*invocation)));
                }
                Some(_) => {}
            }
            let signals = &mut t.signals;
            let range = (tenant.as_str(), *invocation, name.as_str(), 0u64)
                ..=(tenant.as_str(), *invocation, name.as_str(), u64::MAX);
            let next = signals
                .range(range)?
                .next_back()
                .transpose()?
                .map_or(0, |(k, _)| k.value().3 + 1);
            signals.insert(
                (tenant.as_str(), *invocation, name.as_str(), next),
                payload.as_slice(),
            )?;
            update_wait(t, tenant, *invocation, effects, |w| w.signal_arrived(name))?;
            Ok(Ok(()))
        }
        Op::Cancel { tenant, invocation } => match read_record(t, tenant, *invocation)? {
            None => refuse(WriteError::NoSuchInvocation(id_text(*invocation))),
            Some(r) if r.state.is_terminal() => {
                refuse(WriteError::InvocationFinished(id_text(*invocation)))
            }
            Some(record) => {
                cancel_tree(t, record, effects)?;
                Ok(Ok(()))
            }
        },
        Op::Deploy {
            deployment,
            component,
        } => {
            deploy(t, deployment, component)?;
            Ok(Ok(()))
        }
    }
}

/// Appends step `seq` of `invocation` with what it entails, first creating the invocation
/// from `create` if given. Everything that could refuse the op is checked before anything
/// is written: a refused op writes nothing.
#[allow(clippy::too_many_arguments)]
fn append_step(
    t: &mut Tables<'_>,
    tenant: &str,
    invocation: u128,
    seq: u32,
    entry: &[u8],
    effect: &StepEffect,
    create: Option<&InvocationRecord>,
    effects: &mut Effects,
) -> Applied {
    match create {
        Some(record) => {
            let id = record.id.to_string();
            if record.tenant != tenant || record.id.0 != invocation {
                return refuse(WriteError::NotAllowed {
                    invocation: id,
                    why: "a step creates only its own invocation",
                });
            }
            if !matches!(
                record.state,
                InvocationState::Pending | InvocationState::Running
            ) {
                return refuse(WriteError::NotAllowed {
                    invocation: id,
                    why: "an invocation created with a step must be pending or running",
                });
            }
            if read_record(t, tenant, invocation)?.is_some() {
                return refuse(WriteError::InvocationExists(id));
            }
        }
        // Only a pending or running invocation takes steps: a cancelled one never takes another.
        None if t.runnable.get((tenant, invocation))?.is_none() => {
            return refuse(WriteError::NotRunning(id_text(invocation)));
        }
        None => {}
    }
    if t.step_exists((invocation, seq))? {
        return refuse(WriteError::StepTaken {
            invocation: id_text(invocation),
            seq,
        });
    }
    if let StepEffect::CreateChild(child) = effect
        && (child.id.0 == invocation || read_record(t, &child.tenant, child.id.0)?.is_some())
    {
        return refuse(WriteError::InvocationExists(child.id.to_string()));
    }
    if let Some(record) = create {
        put_record(t, record, None, effects)?;
    }
    match effect {
        StepEffect::None => {}
        StepEffect::CreateChild(child) => {
            put_record(t, child, None, effects)?;
            t.children
                .insert((tenant, invocation, child.id.0), child.detached)?;
        }
        StepEffect::ConsumeSignals(consumed) => {
            let signals = &mut t.signals;
            for (name, n) in consumed {
                signals.remove((tenant, invocation, name.as_str(), *n))?;
            }
        }
        StepEffect::EndRetries => {
            t.retries.remove((invocation, seq))?;
        }
    }
    t.put_step((invocation, seq), entry)?;
    Ok(Ok(()))
}

fn read_record(
    t: &Tables<'_>,
    tenant: &str,
    id: u128,
) -> Result<Option<InvocationRecord>, StorageFailure> {
    let table = &t.invocations;
    let value = table.get((tenant, id))?;
    value
        .map(|v| decode_stored("invocation", v.value()))
        .transpose()
}

/// Decodes a stored value; one that does not decode aborts the batch as corrupt.
fn decode_stored<T: serde::de::DeserializeOwned>(
    what: &'static str,
    bytes: &[u8],
) -> Result<T, StorageFailure> {
    Ok(decode(what, bytes)?)
}

/// Writes `record` (which was in state `old`) and the rows that follow its state; finishing
/// resolves its parent's wait.
fn put_record(
    t: &mut Tables<'_>,
    record: &InvocationRecord,
    old: Option<InvocationState>,
    effects: &mut Effects,
) -> Result<(), StorageFailure> {
    let key = (record.tenant.as_str(), record.id.0);
    if old != Some(record.state) {
        let counts = &mut t.counts;
        if let Some(old) = old {
            let key = (record.tenant.as_str(), old.as_str());
            let n = counts.get(key)?.map_or(0, |v| v.value());
            counts.insert(key, n.saturating_sub(1))?;
        }
        let key = (record.tenant.as_str(), record.state.as_str());
        let n = counts.get(key)?.map_or(0, |v| v.value());
        counts.insert(key, n + 1)?;
    }
    t.invocations.insert(key, encode(record).as_slice())?;
    let runnable = &mut t.runnable;
    match record.state {
        InvocationState::Pending | InvocationState::Running => {
            runnable.insert(key, ())?;
        }
        _ => {
            runnable.remove(key)?;
        }
    }
    if record.state.is_terminal() {
        finished(t, record, effects)?;
    }
    Ok(())
}

/// What follows from `record` finishing: its own wait and signals go, its parent may wake.
fn finished(
    t: &mut Tables<'_>,
    record: &InvocationRecord,
    effects: &mut Effects,
) -> Result<(), StorageFailure> {
    let (tenant, id) = (record.tenant.as_str(), record.id.0);
    remove_wait(t, tenant, id)?;
    t.retries
        .retain_in((id, 0u32)..=(id, u32::MAX), |_, _| false)?;
    t.signals.retain_in(
        (tenant, id, "", 0u64)..=(tenant, id, "\u{10FFFF}", u64::MAX),
        |_, _| false,
    )?;
    let Some(parent) = record.parent else {
        return Ok(());
    };
    let awaited = t.awaited.remove((tenant, id))?.map(|v| v.value());
    let Some((parent_id, seq)) = awaited else {
        return Ok(());
    };
    debug_assert_eq!(parent_id, parent.0);
    let ok = record.state == InvocationState::Completed;
    update_wait(t, tenant, parent_id, effects, |w| {
        w.seq == seq && {
            w.child_finished(ok);
            true
        }
    })
}

/// Applies `event` to the wait of `id`, if it is suspended; wakes it when satisfied. `event`
/// returns whether it changed the wait.
fn update_wait(
    t: &mut Tables<'_>,
    tenant: &str,
    id: u128,
    effects: &mut Effects,
    event: impl FnOnce(&mut WaitState) -> bool,
) -> Result<(), StorageFailure> {
    let waits = &mut t.waits;
    let Some(mut wait) = read_wait(waits, tenant, id)? else {
        return Ok(());
    };
    if !event(&mut wait) {
        return Ok(());
    }
    if wait.satisfied() {
        wake(t, tenant, id, effects)
    } else {
        waits.insert((tenant, id), encode(&wait).as_slice())?;
        Ok(())
    }
}

fn read_wait(
    waits: &Table<(&str, u128), &[u8]>,
    tenant: &str,
    id: u128,
) -> Result<Option<WaitState>, StorageFailure> {
    let value = waits.get((tenant, id))?;
    value.map(|v| decode_stored("wait", v.value())).transpose()
}

/// Removes the wait of `id` and its timer rows; returns it.
fn remove_wait(
    t: &mut Tables<'_>,
    tenant: &str,
    id: u128,
) -> Result<Option<WaitState>, StorageFailure> {
    let waits = &mut t.waits;
    let wait = read_wait(waits, tenant, id)?;
    if let Some(wait) = &wait {
        waits.remove((tenant, id))?;
        let timers = &mut t.timers;
        for due in &wait.timers {
            timers.remove((*due, id))?;
        }
    }
    Ok(wait)
}

/// Makes suspended invocation `id` pending again.
fn wake(
    t: &mut Tables<'_>,
    tenant: &str,
    id: u128,
    effects: &mut Effects,
) -> Result<(), StorageFailure> {
    remove_wait(t, tenant, id)?;
    let Some(mut record) = read_record(t, tenant, id)? else {
        return Ok(());
    };
    if record.state != InvocationState::Suspended {
        return Ok(());
    }
    record.state = InvocationState::Pending;
    record.updated_at_ms = t.now_ms;
    put_record(t, &record, Some(InvocationState::Suspended), effects)?;
    effects.woken.push((record.tenant, record.id));
    Ok(())
}

/// Suspends `record` on `items`, counting what has already happened; if that satisfies the
/// wait the invocation becomes pending instead (and is reported woken).
fn suspend(
    t: &mut Tables<'_>,
    record: &InvocationRecord,
    old: InvocationState,
    seq: u32,
    mode: AwaitMode,
    items: &[Awaitable],
    effects: &mut Effects,
) -> Result<(), StorageFailure> {
    let (tenant, id) = (record.tenant.as_str(), record.id.0);
    let now = t.now_ms;
    let resolved = {
        let (invocations, signals) = (&t.invocations, &t.signals);
        // A child counts by its record's state (a missing one as failed), the k-th signal item
        // of a name by the k-th kept signal of that name: the journal's one set of rules.
        let child = |child: InvocationId| -> Result<Resolution<()>, StorageFailure> {
            let state = match invocations.get((tenant, child.0))? {
                Some(v) => decode_stored::<InvocationRecord>("invocation", v.value())?.state,
                None => InvocationState::Failed,
            };
            Ok(match state {
                InvocationState::Completed => Some(Ok(())),
                state if state.is_terminal() => Some(Err(())),
                _ => None,
            })
        };
        let signal = |name: &str, k: usize| -> Result<Option<()>, StorageFailure> {
            let range = (tenant, id, name, 0u64)..=(tenant, id, name, u64::MAX);
            Ok(signals.range(range)?.nth(k).transpose()?.map(drop))
        };
        waits::resolve(items, now, child, signal, || ())?
    };
    let wait = WaitState::new(seq, mode, items, &resolved);
    let pending_children: Vec<u128> = items
        .iter()
        .zip(&resolved)
        .filter_map(|(item, resolution)| match (item, resolution) {
            (Awaitable::Child(child), None) => Some(child.0),
            _ => None,
        })
        .collect();
    let mut record = record.clone();
    record.updated_at_ms = now;
    if wait.satisfied() {
        record.state = InvocationState::Pending;
        put_record(t, &record, Some(old), effects)?;
        effects.woken.push((record.tenant.clone(), record.id));
        return Ok(());
    }
    record.state = InvocationState::Suspended;
    put_record(t, &record, Some(old), effects)?;
    let awaited = &mut t.awaited;
    for child in pending_children {
        awaited.insert((tenant, child), (id, seq))?;
    }
    let timers = &mut t.timers;
    for due in &wait.timers {
        timers.insert((*due, id), tenant)?;
    }
    t.waits.insert((tenant, id), encode(&wait).as_slice())?;
    Ok(())
}

/// Cancels `root` and, depth first, every unfinished child it did not detach.
fn cancel_tree(
    t: &mut Tables<'_>,
    root: InvocationRecord,
    effects: &mut Effects,
) -> Result<(), StorageFailure> {
    let now = t.now_ms;
    let root_id = root.id;
    let mut stack = vec![root];
    while let Some(mut record) = stack.pop() {
        let message = if record.id == root_id {
            "cancelled".to_string()
        } else {
            format!("cancelled with its parent {root_id}")
        };
        record.failure = Some(Failure {
            kind: FailureKind::Cancelled,
            message,
        });
        let old = record.state;
        record.finish(InvocationState::Cancelled, now);
        put_record(t, &record, Some(old), effects)?;
        effects.cancelled.push((record.tenant.clone(), record.id));
        let tenant = record.tenant.as_str();
        let children: Vec<u128> = t
            .children
            .range((tenant, record.id.0, 0u128)..=(tenant, record.id.0, u128::MAX))?
            .filter_map(|row| match row {
                Ok((k, detached)) if !detached.value() => Some(Ok(k.value().2)),
                Ok(_) => None,
                Err(e) => Some(Err(e)),
            })
            .collect::<Result<_, _>>()?;
        for child in children {
            if let Some(child) = read_record(t, tenant, child)?
                && !child.state.is_terminal()
            {
                stack.push(child);
            }
        }
    }
    Ok(())
}

fn deploy(
    t: &mut Tables<'_>,
    deployment: &Deployment,
    component: &[u8],
) -> Result<(), StorageFailure> {
    let components = &mut t.components;
    let hash = deployment.component.0;
    if components.get(hash.as_slice())?.is_none() {
        components.insert(hash.as_slice(), component)?;
    }
    let deployments = &mut t.deployments;
    let key = (deployment.tenant.as_str(), deployment.name.as_str());
    let previous = deployments
        .get(key)?
        .and_then(|v| decode::<Deployment>("deployment", v.value()).ok())
        .map_or(0, |d| d.version);
    let stored = Deployment {
        version: previous + 1,
        ..deployment.clone()
    };
    deployments.insert(key, encode(&stored).as_slice())?;
    Ok(())
}
