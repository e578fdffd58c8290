//! What each write does, written once against the rows of any backend's transaction.
//!
//! Every op checks before it writes, so a refused op writes nothing. Index rows (runnable,
//! counts, waits, timers, awaited children) follow the records in this one place, and the
//! events that can satisfy a wait (a child finishing, a timer falling due, a signal arriving)
//! update the waiting invocation's counters here, in the same transaction as the event itself.
//! Applying an op never reads the clock: every time it writes is the op's own.
//!
//! What a tenant stores is counted here too (`stored_bytes`: components, inputs, outputs,
//! journal entries, signal payloads). A write that adds data on the tenant's or its guests'
//! behalf (a deployment, an invocation, a step, a signal) is refused over the quota; an
//! invocation's end is counted but never refused, so work already accepted can finish.

use super::access::KeyRole;
use super::codec::{decode, encode};
use super::departure::Phase;
use super::entry::{Outcome, StepEntry};
use super::error::{StorageFailure, WriteError};
use super::history::{HistoryEvent, RewindPlan, Rewound, StoredStep};
use super::idempotency::{IdempotencyKey, KeyedRequest};
use super::op::{Effects, Op, StepEffect};
use super::quota::{Limits, Quotas};
use super::records::{Deployment, Failure, FailureKind, InvocationRecord, InvocationState};
use super::rows::{RowResult, Rows};
use super::schedule::Schedule;
use super::waits::{self, AwaitMode, Awaitable, Resolution, WaitState};
use crate::ids::{ComponentHash, InvocationId, TenantId};

mod apart;
mod moves;
mod output;
mod versions;

/// The result of applying one op: the outer `Err` is a storage failure that aborts the whole
/// batch, the inner one a refusal that wrote nothing.
pub type Applied = Result<Result<(), WriteError>, StorageFailure>;

fn refuse(err: WriteError) -> Applied {
    Ok(Err(err))
}

/// Applies `op`, made at `at_ms` (ms since the Unix epoch), to `rows`, adding to `effects`
/// what it caused besides its own target.
pub fn apply<R: Rows + ?Sized>(
    rows: &mut R,
    op: &Op,
    at_ms: u64,
    effects: &mut Effects,
) -> Applied {
    Txn {
        rows,
        now_ms: at_ms,
        effects,
    }
    .apply(op)
}

/// The stored bytes an encoded history event holds for its tenant (a corrupt one holds none
/// that can be told).
fn history_bytes(event: &[u8]) -> u64 {
    decode::<HistoryEvent>("history event", event).map_or(0, |e| e.stored_bytes())
}

/// One op being applied: the rows, the op's time, and what it caused so far.
struct Txn<'a, R: ?Sized> {
    rows: &'a mut R,
    /// When the op was made: every time it writes is this one.
    now_ms: u64,
    effects: &'a mut Effects,
}

impl<R: Rows + ?Sized> Txn<'_, R> {
    fn apply(&mut self, op: &Op) -> Applied {
        match op {
            Op::AppendStep {
                tenant,
                invocation,
                seq,
                entry,
                effect,
                create,
            } => self.append_step(tenant, *invocation, *seq, entry, effect, create.as_deref()),
            Op::PutInvocation { record, create } => self.put_invocation(record, *create),
            Op::Suspend {
                record,
                seq,
                mode,
                items,
                retry,
            } => match self.rows.record(&record.tenant, record.id)? {
                None => refuse(WriteError::NoSuchInvocation(record.id.to_string())),
                Some(old) if old.state.is_terminal() => {
                    refuse(WriteError::InvocationFinished(record.id.to_string()))
                }
                // Only a pending or running invocation suspends: one already suspended (or
                // scheduled) waits on its wait, whose rows a second one would leave behind.
                Some(old)
                    if old.state.is_waiting()
                        || matches!(
                            old.state,
                            InvocationState::Paused | InvocationState::Moved
                        ) =>
                {
                    refuse(WriteError::NotRunning(record.id.to_string()))
                }
                Some(old) => {
                    if let Some(retry) = retry {
                        self.rows.put_retry(record.id, *seq, *retry)?;
                    }
                    let suspended = InvocationState::Suspended;
                    self.suspend(record, Some(old.state), *seq, *mode, items, suspended)?;
                    Ok(Ok(()))
                }
            },
            Op::TimerDue {
                due_ms,
                tenant,
                invocation,
            } => {
                self.rows.remove_timer(*due_ms, *invocation)?;
                let now = self.now_ms.max(*due_ms);
                // Every timer due by now falls due, and their rows go with them.
                let mut fell_due = Vec::new();
                self.update_wait(tenant, *invocation, |w| {
                    fell_due = w.time_reached(now);
                    !fell_due.is_empty()
                })?;
                for due in fell_due {
                    self.rows.remove_timer(due, *invocation)?;
                }
                Ok(Ok(()))
            }
            Op::Signal {
                tenant,
                invocation,
                name,
                payload,
            } => self.signal(tenant, *invocation, name, payload, None),
            Op::Cancel { tenant, invocation } => match self.rows.record(tenant, *invocation)? {
                None => refuse(WriteError::NoSuchInvocation(invocation.to_string())),
                Some(r) if r.state.is_terminal() => {
                    refuse(WriteError::InvocationFinished(invocation.to_string()))
                }
                Some(r) if r.state == InvocationState::Moved => {
                    self.refuse_moved(tenant, *invocation)
                }
                Some(record) => {
                    self.cancel_tree(record, "cancelled".to_string())?;
                    Ok(Ok(()))
                }
            },
            Op::Deploy {
                deployment,
                component,
            } => self.deploy(&deployment.clone().into(), component),
            Op::DeployV2 {
                deployment,
                component,
            } => self.deploy(deployment, component),
            Op::PauseExhausted { record, seq } => self.pause_exhausted(record, *seq),
            Op::Leave {
                tenant,
                invocation,
                move_id,
                to,
            } => self.leave(tenant, *invocation, *move_id, to),
            Op::Depart {
                tenant,
                invocation,
                move_id,
            } => self.depart(tenant, *invocation, *move_id),
            Op::StayHome {
                tenant,
                invocation,
                move_id,
            } => self.stay_home(tenant, *invocation, *move_id),
            Op::Import { bundle } => self.import(bundle, &Default::default()),
            Op::RefuseArrival {
                move_id,
                tenant,
                invocation,
            } => self.refuse_arrival(*move_id, tenant, *invocation),
            Op::CreateTenant { tenant } => {
                if self.rows.tenant(&tenant.name)?.is_some() {
                    return refuse(WriteError::TenantExists(tenant.name.to_string()));
                }
                self.rows.put_tenant(tenant)?;
                Ok(Ok(()))
            }
            Op::CreateKey { key } => {
                if self.rows.key(&key.hash)?.is_some() {
                    return refuse(WriteError::KeyExists(key.id()));
                }
                if let KeyRole::Tenant(tenant) = &key.role
                    && self.rows.tenant(tenant)?.is_none()
                {
                    return refuse(WriteError::NoSuchTenant(tenant.to_string()));
                }
                self.rows.put_key(key)?;
                Ok(Ok(()))
            }
            Op::RevokeKey { hash } => match self.rows.key(hash)? {
                Some(mut key) if key.revoked_at_ms.is_none() => {
                    key.revoked_at_ms = Some(self.now_ms);
                    self.rows.put_key(&key)?;
                    Ok(Ok(()))
                }
                _ => refuse(WriteError::NoSuchKey(super::access::key_id(hash))),
            },
            Op::SetQuotasV1 { tenant, quotas } => self.set_quotas(tenant, &quotas.clone().into()),
            Op::SetQuotas { tenant, quotas } => self.set_quotas(tenant, quotas),
            Op::SetEgress {
                tenant,
                deployment,
                rules,
            } => {
                if self.rows.tenant(tenant)?.is_none() {
                    return refuse(WriteError::NoSuchTenant(tenant.to_string()));
                }
                if let Some(name) = deployment
                    && self.rows.deployment(tenant, name)?.is_none()
                {
                    return refuse(WriteError::NoSuchDeployment(name.clone()));
                }
                self.rows
                    .put_egress(tenant, deployment.as_deref(), rules.as_ref())?;
                Ok(Ok(()))
            }
            Op::CreateInvocation {
                record,
                key,
                start_at_ms,
            } => self.create(record, key.as_ref(), *start_at_ms),
            Op::SignalOnce {
                tenant,
                invocation,
                name,
                payload,
                key,
            } => self.signal(tenant, *invocation, name, payload, Some(key)),
            Op::Forget {
                tenant,
                invocations,
                keys,
                before_ms,
            } => {
                self.forget(tenant, invocations, keys, *before_ms)?;
                Ok(Ok(()))
            }
            Op::Pause { tenant, invocation } => self.pause(tenant, *invocation),
            Op::Resume { tenant, invocation } => self.resume(tenant, *invocation),
            Op::PutSchedule { schedule } => self.put_schedule(schedule),
            Op::RemoveSchedule { tenant, name } => {
                if self.rows.schedule(tenant, name)?.is_none() {
                    return refuse(WriteError::NoSuchSchedule(name.clone()));
                }
                self.rows.remove_schedule(tenant, name)?;
                Ok(Ok(()))
            }
            Op::Rewind {
                tenant,
                invocation,
                plan,
            } => self.rewind(tenant, *invocation, plan),
            Op::Fork {
                record,
                from,
                from_component,
                steps,
            } => self.fork(record, *from, from_component, steps),
            Op::Upgrade {
                tenant,
                invocation,
                plan,
            } => self.upgrade(tenant, *invocation, plan),
            Op::DropVersions { tenant, name } => self.drop_versions(tenant, name.as_deref()),
            Op::ChildEnded { record } => self.child_ended(record),
            Op::Delivered { node, messages } => self.delivered(node, messages),
            Op::Arrive { bundle, family } => self.import(bundle, family),
            Op::PutOutput {
                tenant,
                invocation,
                lines,
            } => self.put_output(tenant, *invocation, lines),
        }
    }

    /// Rewinds finished or paused `id` to its first `plan.to_step` steps, onto the plan's
    /// component and deployment: the later steps move to its history (with its end, if it
    /// had one), the unfinished attached children they dispatched are cancelled, and it is
    /// pending again. Refused unless it is as it was checked.
    fn rewind(&mut self, tenant: &TenantId, id: InvocationId, plan: &RewindPlan) -> Applied {
        let (checked, component, deployment) = (plan, &plan.component, plan.deployment.as_str());
        let Some(mut record) = self.rows.record(tenant, id)? else {
            return refuse(WriteError::NoSuchInvocation(id.to_string()));
        };
        let from_state = record.state;
        if !(from_state.is_terminal() || from_state == InvocationState::Paused) {
            return refuse(WriteError::NotRewindable {
                invocation: id.to_string(),
                state: from_state.as_str(),
            });
        }
        let events = self.rows.history(id)?.len() as u32;
        if from_state != checked.state || events != checked.history {
            return refuse(WriteError::InvocationChanged(id.to_string()));
        }
        // A finished child's end may have been counted by its parent; a paused one's not.
        if from_state.is_terminal()
            && !record.detached
            && self.parent_unfinished(tenant, &record)?
        {
            return refuse(WriteError::ParentUnfinished {
                invocation: id.to_string(),
                parent: record.parent.map(|p| p.to_string()).unwrap_or_default(),
            });
        }
        if !self.rows.has_component(component)? {
            return refuse(WriteError::NoSuchComponent(component.to_string()));
        }
        let to_step = checked.to_step;
        let dropped = self.rows.steps_from(id, to_step)?;
        if to_step > 0 && !self.rows.step_exists(id, to_step - 1)? {
            return refuse(WriteError::NoSuchStep {
                invocation: id.to_string(),
                step: to_step,
                steps: checked.steps,
            });
        }
        if to_step as usize + dropped.len() != checked.steps as usize {
            return refuse(WriteError::InvocationChanged(id.to_string()));
        }
        // What the dropped steps started goes with them: their children are unlinked, and
        // cancelled unless detached (a detached child outlives its parent anyway).
        let mut cancelled = Vec::new();
        for step in &dropped {
            let Ok(StepEntry {
                outcome: Outcome::Dispatched(Ok(child)),
                ..
            }) = decode::<StepEntry>("journal entry", &step.entry)
            else {
                continue;
            };
            self.rows.remove_children(tenant, id, Some(child))?;
            self.rows.take_awaited(tenant, child)?;
            if let Some(child) = self.rows.record(tenant, child)?
                && !child.state.is_terminal()
                && !child.detached
            {
                let why = format!("cancelled: the step of {id} that dispatched it was rewound");
                cancelled.extend(self.cancel_tree(child, why)?);
            }
        }
        // A wait it was paused in is over: the rerun takes its steps again.
        for (child, _) in self.rows.children_of(tenant, id)? {
            self.rows.take_awaited(tenant, child)?;
        }
        self.remove_wait(tenant, id)?;
        self.rows.set_paused(tenant, id, None)?;
        self.rows.remove_retries(id)?;
        self.rows.remove_steps(id, to_step)?;
        // What it wrote after the kept steps is written again (or not) by the rerun.
        let output = self.rows.remove_output(id, Some(to_step))?;
        self.release_stored(tenant, output)?;
        if let Some(finished_at) = record.finished_at_ms.filter(|_| from_state.is_terminal()) {
            self.rows.set_finished(tenant, finished_at, id, false)?;
        }
        let event = HistoryEvent::Rewound(Box::new(Rewound {
            at_ms: self.now_ms,
            to_step,
            from_state,
            from_component: record.component,
            from_deployment: record.deployment.clone(),
            to_component: *component,
            to_deployment: deployment.to_string(),
            failure: record.failure.take(),
            output: record.output.take(),
            dropped,
            cancelled,
        }));
        self.rows.put_history(id, events, &encode(&event))?;
        record.component = *component;
        record.deployment = deployment.to_string();
        record.state = InvocationState::Pending;
        record.retries = 0;
        record.finished_at_ms = None;
        record.updated_at_ms = self.now_ms;
        self.put_record(&record, Some(from_state))?;
        self.effects.woken.push((tenant.clone(), id));
        Ok(Ok(()))
    }

    /// Creates pending `record` as a fork of `from` with `steps` (its first steps), and the
    /// history event that says so.
    fn fork(
        &mut self,
        record: &InvocationRecord,
        from: InvocationId,
        from_component: &ComponentHash,
        steps: &[StoredStep],
    ) -> Applied {
        let (tenant, id) = (&record.tenant, record.id);
        match self.rows.record(tenant, from)? {
            None => return refuse(WriteError::NoSuchInvocation(from.to_string())),
            Some(r) if r.state == InvocationState::Moved => return self.refuse_moved(tenant, from),
            Some(_) => {}
        }
        if self.rows.record(tenant, id)?.is_some() {
            return refuse(WriteError::InvocationExists(id.to_string()));
        }
        if record.state != InvocationState::Pending
            || steps.iter().enumerate().any(|(i, s)| s.seq as usize != i)
        {
            return refuse(WriteError::NotAllowed {
                invocation: id.to_string(),
                why: "a fork is created pending, with its first steps in order",
            });
        }
        let bytes = record.input.len() + steps.iter().map(|s| s.entry.len()).sum::<usize>();
        if let Err(over) = self.check_stored(tenant, bytes)? {
            return refuse(over);
        }
        self.add_stored(tenant, bytes)?;
        self.put_record(record, None)?;
        for step in steps {
            self.rows.put_step(id, step.seq, &step.entry)?;
        }
        let event = HistoryEvent::Forked {
            at_ms: self.now_ms,
            from,
            at_step: steps.len() as u32,
            from_component: *from_component,
        };
        self.rows.put_history(id, 0, &encode(&event))?;
        self.effects.woken.push((tenant.clone(), id));
        Ok(Ok(()))
    }

    /// Writes `schedule` if it is new (revision 0, name free, tenant exists) or the next
    /// revision of the stored one.
    fn put_schedule(&mut self, schedule: &Schedule) -> Applied {
        let (tenant, name) = (&schedule.tenant, &schedule.name);
        let stored = self.rows.schedule(tenant, name)?;
        match (stored, schedule.revision) {
            (Some(_), 0) => return refuse(WriteError::ScheduleExists(name.clone())),
            (None, 0) => {
                if self.rows.tenant(tenant)?.is_none() {
                    return refuse(WriteError::NoSuchTenant(tenant.to_string()));
                }
            }
            (None, _) => return refuse(WriteError::NoSuchSchedule(name.clone())),
            (Some(old), revision) if old.revision + 1 != revision => {
                return refuse(WriteError::ScheduleChanged(name.clone()));
            }
            (Some(_), _) => {}
        }
        self.rows.put_schedule(schedule)?;
        Ok(Ok(()))
    }

    /// Removes the invocations that finished by `before_ms`, with their journals and
    /// children rows (their bytes no longer count as stored), and the keys that no longer
    /// hold (their window is over, or their invocation is gone).
    fn forget(
        &mut self,
        tenant: &TenantId,
        invocations: &[InvocationId],
        keys: &[(String, String)],
        before_ms: u64,
    ) -> RowResult<()> {
        let mut freed = 0u64;
        for &id in invocations {
            let Some(record) = self.rows.record(tenant, id)? else {
                continue;
            };
            let Some(finished_at) = record.finished_at_ms.filter(|_| record.state.is_terminal())
            else {
                continue;
            };
            // A parent that has not finished may still read its child's end (its wait is
            // taken again when it wakes): the child stays until the parent has finished.
            if finished_at > before_ms || self.parent_unfinished(tenant, &record)? {
                continue;
            }
            freed += self.drop_journal(id)?;
            freed += record.own_bytes() as u64;
            self.rows.remove_children(tenant, id, None)?;
            if let Some(parent) = record.parent {
                self.rows.remove_children(tenant, parent, Some(id))?;
            }
            self.rows.set_finished(tenant, finished_at, id, false)?;
            self.rows.remove_record(tenant, id)?;
            self.rows.set_listed(tenant, record.state, id, false)?;
            let n = self.rows.count(tenant, record.state)?;
            self.rows
                .set_count(tenant, record.state, n.saturating_sub(1))?;
        }
        for (scope, key) in keys {
            if let Some(row) = self.rows.keyed(tenant, scope, key)?
                && !self.key_holds(tenant, &row)?
            {
                self.rows.remove_keyed(tenant, scope, key)?;
            }
        }
        self.release_stored(tenant, freed)
    }

    /// Removes the journal, the history and the output of `id`; returns the bytes they held.
    fn drop_journal(&mut self, id: InvocationId) -> RowResult<u64> {
        let steps = self.rows.remove_journal(id)? + self.rows.remove_output(id, None)?;
        let history: u64 = self
            .rows
            .remove_history(id)?
            .iter()
            .map(|event| history_bytes(event))
            .sum();
        Ok(steps + history)
    }

    /// Whether `record` has a parent that has not finished.
    fn parent_unfinished(&self, tenant: &TenantId, record: &InvocationRecord) -> RowResult<bool> {
        let Some(parent) = record.parent else {
            return Ok(false);
        };
        Ok(self
            .rows
            .record(tenant, parent)?
            .is_some_and(|p| !p.state.is_terminal()))
    }

    /// Counts `bytes` fewer stored by `tenant` (removed data).
    fn release_stored(&mut self, tenant: &TenantId, bytes: u64) -> RowResult<()> {
        if bytes == 0 {
            return Ok(());
        }
        let used = self.rows.stored_bytes(tenant)?;
        self.rows
            .set_stored_bytes(tenant, used.saturating_sub(bytes))
    }

    /// Whether a key's `row` still holds: within its window, and its invocation kept.
    fn key_holds(&mut self, tenant: &TenantId, row: &KeyedRequest) -> RowResult<bool> {
        Ok(row.holds_at(self.now_ms) && self.rows.record(tenant, row.invocation)?.is_some())
    }

    /// Pauses unfinished `id`: it keeps its wait (if any), which goes on counting what
    /// arrives, but neither runs nor wakes until resumed. Pausing a paused one changes
    /// nothing.
    fn pause(&mut self, tenant: &TenantId, id: InvocationId) -> Applied {
        let Some(mut record) = self.rows.record(tenant, id)? else {
            return refuse(WriteError::NoSuchInvocation(id.to_string()));
        };
        let from = record.state;
        if from.is_terminal() {
            return refuse(WriteError::InvocationFinished(id.to_string()));
        }
        if from == InvocationState::Moved {
            return self.refuse_moved(tenant, id);
        }
        if from == InvocationState::Paused {
            return Ok(Ok(()));
        }
        self.rows.set_paused(tenant, id, Some(from))?;
        record.state = InvocationState::Paused;
        record.updated_at_ms = self.now_ms;
        self.put_record(&record, Some(from))?;
        self.effects.paused.push((tenant.clone(), id));
        Ok(Ok(()))
    }

    /// Resumes paused `id` in the state it was paused in — or pending, if its wait ended
    /// meanwhile.
    fn resume(&mut self, tenant: &TenantId, id: InvocationId) -> Applied {
        let Some(mut record) = self.rows.record(tenant, id)? else {
            return refuse(WriteError::NoSuchInvocation(id.to_string()));
        };
        if record.state.is_terminal() {
            return refuse(WriteError::InvocationFinished(id.to_string()));
        }
        if record.state == InvocationState::Moved {
            return self.refuse_moved(tenant, id);
        }
        if record.state != InvocationState::Paused {
            return refuse(WriteError::NotPaused(id.to_string()));
        }
        let from = self.rows.paused(tenant, id)?;
        self.rows.set_paused(tenant, id, None)?;
        // Why attempts ran out no longer holds: the resume gives them a fresh start.
        if record
            .failure
            .as_ref()
            .is_some_and(|f| f.kind == FailureKind::Exhausted)
        {
            record.failure = None;
        }
        let waiting = self.rows.wait(tenant, id)?.is_some();
        record.state = match from {
            Some(state) if state.is_waiting() && waiting => state,
            _ => InvocationState::Pending,
        };
        self.put_back(&mut record, InvocationState::Paused)?;
        Ok(Ok(()))
    }

    /// Writes `record`, which was held in state `from` (paused, moved), in the state it is
    /// given, now; starts it if that is pending.
    fn put_back(&mut self, record: &mut InvocationRecord, from: InvocationState) -> RowResult<()> {
        record.updated_at_ms = self.now_ms;
        self.put_record(record, Some(from))?;
        if record.state == InvocationState::Pending {
            self.effects.woken.push((record.tenant.clone(), record.id));
        }
        Ok(())
    }

    /// Delivers signal `name` to unfinished `invocation`, under idempotency `key` if given.
    fn signal(
        &mut self,
        tenant: &TenantId,
        invocation: InvocationId,
        name: &str,
        payload: &[u8],
        key: Option<&IdempotencyKey>,
    ) -> Applied {
        let Some(record) = self.rows.record(tenant, invocation)? else {
            return refuse(WriteError::NoSuchInvocation(invocation.to_string()));
        };
        // A repeat is a repeat even once the invocation has finished.
        if let Some(key) = key
            && let Err(used) = self.check_key(tenant, key)?
        {
            return refuse(used);
        }
        if record.state.is_terminal() {
            return refuse(WriteError::InvocationFinished(invocation.to_string()));
        }
        if record.state == InvocationState::Moved {
            return self.refuse_moved(tenant, invocation);
        }
        if let Err(over) = self.check_stored(tenant, payload.len())? {
            return refuse(over);
        }
        self.add_stored(tenant, payload.len())?;
        let next = self.rows.next_signal(tenant, invocation, name)?;
        self.rows
            .put_signal(tenant, invocation, name, next, payload)?;
        self.update_wait(tenant, invocation, |w| w.signal_arrived(name))?;
        self.keep_key(tenant, key, invocation)?;
        Ok(Ok(()))
    }

    /// Creates pending `record`, under idempotency `key` if given; with `start_at_ms` still
    /// to come, it is scheduled: it waits on a timer for its start.
    fn create(
        &mut self,
        record: &InvocationRecord,
        key: Option<&IdempotencyKey>,
        start_at_ms: Option<u64>,
    ) -> Applied {
        let (tenant, id) = (&record.tenant, record.id);
        if self.rows.record(tenant, id)?.is_some() {
            return refuse(WriteError::InvocationExists(id.to_string()));
        }
        if record.state != InvocationState::Pending {
            return refuse(WriteError::NotAllowed {
                invocation: id.to_string(),
                why: "a new invocation is created pending",
            });
        }
        if let Some(key) = key
            && let Err(used) = self.check_key(tenant, key)?
        {
            return refuse(used);
        }
        if let Err(over) = self.check_stored(tenant, record.input.len())? {
            return refuse(over);
        }
        self.add_stored(tenant, record.input.len())?;
        match start_at_ms.filter(|at| *at > self.now_ms) {
            Some(due_ms) => {
                // Not a step of its journal: like a rerun's wait, at no step.
                let start = [Awaitable::Timer { due_ms }];
                let scheduled = InvocationState::Scheduled;
                self.suspend(record, None, u32::MAX, AwaitMode::All, &start, scheduled)?;
            }
            None => self.put_record(record, None)?,
        }
        self.keep_key(tenant, key, id)?;
        Ok(Ok(()))
    }

    /// `Err` if `key` holds already: a duplicate of the request it came with, or a reuse for
    /// another.
    fn check_key(
        &mut self,
        tenant: &TenantId,
        key: &IdempotencyKey,
    ) -> RowResult<Result<(), WriteError>> {
        let row = match self.rows.keyed(tenant, &key.scope, &key.key)? {
            Some(row) if self.key_holds(tenant, &row)? => Some(row),
            _ => None,
        };
        Ok(match row {
            Some(row) => {
                let (name, invocation) = (key.key.clone(), row.invocation);
                Err(if row.digest == key.digest {
                    WriteError::Duplicate {
                        key: name,
                        invocation,
                    }
                } else {
                    WriteError::KeyReused {
                        key: name,
                        invocation,
                    }
                })
            }
            None => Ok(()),
        })
    }

    /// Records that `key` (if any) made or reached `invocation`, now.
    fn keep_key(
        &mut self,
        tenant: &TenantId,
        key: Option<&IdempotencyKey>,
        invocation: InvocationId,
    ) -> RowResult<()> {
        let Some(key) = key else {
            return Ok(());
        };
        let row = KeyedRequest {
            invocation,
            digest: key.digest,
            created_at_ms: self.now_ms,
        };
        self.rows.put_keyed(tenant, key, &row)
    }

    /// `Err` naming the quota if storing `bytes` more would take `tenant` over
    /// `stored_bytes`.
    fn check_stored(
        &mut self,
        tenant: &TenantId,
        bytes: usize,
    ) -> RowResult<Result<(), WriteError>> {
        let used = self.rows.stored_bytes(tenant)?;
        let limits = Limits::DEFAULT.with(&self.rows.quotas(tenant)?);
        Ok(limits
            .check_stored(used, bytes as u64)
            .map_err(WriteError::OverQuota))
    }

    /// Counts `bytes` more stored by `tenant`.
    fn add_stored(&mut self, tenant: &TenantId, bytes: usize) -> RowResult<()> {
        if bytes == 0 {
            return Ok(());
        }
        let used = self.rows.stored_bytes(tenant)?;
        self.rows
            .set_stored_bytes(tenant, used.saturating_add(bytes as u64))
    }

    /// Sets the quotas of existing `tenant`.
    fn set_quotas(&mut self, tenant: &TenantId, quotas: &Quotas) -> Applied {
        if self.rows.tenant(tenant)?.is_none() {
            return refuse(WriteError::NoSuchTenant(tenant.to_string()));
        }
        self.rows.put_quotas(tenant, quotas)?;
        Ok(Ok(()))
    }

    /// Creates (`create`) or updates a record that is not suspending.
    fn put_invocation(&mut self, record: &InvocationRecord, create: bool) -> Applied {
        let old = self.rows.record(&record.tenant, record.id)?;
        match (old, create) {
            (Some(_), true) => refuse(WriteError::InvocationExists(record.id.to_string())),
            (None, false) => refuse(WriteError::NoSuchInvocation(record.id.to_string())),
            (Some(old), false) if old.state.is_terminal() => {
                refuse(WriteError::InvocationFinished(record.id.to_string()))
            }
            // The wait rows follow the state: only a suspension makes an invocation suspended,
            // and only its wait (or its end) makes it anything else.
            _ if record.state.is_waiting()
                || matches!(
                    record.state,
                    InvocationState::Paused | InvocationState::Moved
                ) =>
            {
                refuse(WriteError::NotAllowed {
                    invocation: record.id.to_string(),
                    why: "only a suspension, a start time, a pause or a move makes an invocation wait",
                })
            }
            (Some(old), false) if old.state == InvocationState::Moved => {
                self.refuse_moved(&record.tenant, record.id)
            }
            (Some(old), false)
                if old.state == InvocationState::Paused && !record.state.is_terminal() =>
            {
                refuse(WriteError::NotAllowed {
                    invocation: record.id.to_string(),
                    why: "a paused invocation goes on only when it is resumed",
                })
            }
            (Some(old), false) if old.state.is_waiting() && !record.state.is_terminal() => {
                refuse(WriteError::NotAllowed {
                    invocation: record.id.to_string(),
                    why: "a suspended invocation is woken only by its wait",
                })
            }
            (old, _) => {
                let created = old.is_none();
                // A new invocation may be refused; its end never is.
                if created
                    && !record.state.is_terminal()
                    && let Err(over) = self.check_stored(&record.tenant, record.input.len())?
                {
                    return refuse(over);
                }
                let mut bytes = if created { record.input.len() } else { 0 };
                if record.state.is_terminal() {
                    bytes += record.output.as_ref().map_or(0, Vec::len);
                }
                self.add_stored(&record.tenant, bytes)?;
                self.put_record(record, old.map(|o| o.state))?;
                Ok(Ok(()))
            }
        }
    }

    /// Appends step `seq` of `invocation` with what it entails, first creating the invocation
    /// from `create` if given. Everything that could refuse the op is checked before anything
    /// is written: a refused op writes nothing.
    fn append_step(
        &mut self,
        tenant: &TenantId,
        invocation: InvocationId,
        seq: u32,
        entry: &[u8],
        effect: &StepEffect,
        create: Option<&InvocationRecord>,
    ) -> Applied {
        match create {
            Some(record) => {
                let id = record.id.to_string();
                if record.tenant != *tenant || record.id != invocation {
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
                if self.rows.record(tenant, invocation)?.is_some() {
                    return refuse(WriteError::InvocationExists(id));
                }
            }
            // Only a pending or running invocation takes steps: a cancelled one never takes
            // another.
            None if !self.rows.is_runnable(tenant, invocation)? => {
                return refuse(WriteError::NotRunning(invocation.to_string()));
            }
            None => {}
        }
        if self.rows.step_exists(invocation, seq)? {
            return refuse(WriteError::StepTaken {
                invocation: invocation.to_string(),
                seq,
            });
        }
        if let StepEffect::CreateChild(child) = effect
            && (child.id == invocation || self.rows.record(&child.tenant, child.id)?.is_some())
        {
            return refuse(WriteError::InvocationExists(child.id.to_string()));
        }
        let inputs = |record: Option<&InvocationRecord>| record.map_or(0, |r| r.input.len());
        let child = match effect {
            StepEffect::CreateChild(child) => Some(&**child),
            _ => None,
        };
        let bytes = entry.len() + inputs(create) + inputs(child);
        if let Err(over) = self.check_stored(tenant, bytes)? {
            return refuse(over);
        }
        self.add_stored(tenant, bytes)?;
        if let Some(record) = create {
            self.put_record(record, None)?;
        }
        match effect {
            StepEffect::None => {}
            StepEffect::CreateChild(child) => {
                self.put_record(child, None)?;
                self.rows
                    .add_child(tenant, invocation, child.id, child.detached)?;
            }
            StepEffect::ConsumeSignals(consumed) => {
                let mut freed = 0;
                for (name, n) in consumed {
                    freed += self.rows.remove_signal(tenant, invocation, name, *n)?;
                }
                self.release_stored(tenant, freed)?;
            }
            StepEffect::EndRetries => self.rows.remove_retry(invocation, seq)?,
        }
        self.rows.put_step(invocation, seq, entry)?;
        Ok(Ok(()))
    }

    /// Writes `record` (which was in state `old`) and the rows that follow its state;
    /// finishing resolves its parent's wait.
    fn put_record(
        &mut self,
        record: &InvocationRecord,
        old: Option<InvocationState>,
    ) -> RowResult<()> {
        let tenant = &record.tenant;
        if old != Some(record.state) {
            if let Some(old) = old {
                let n = self.rows.count(tenant, old)?;
                self.rows.set_count(tenant, old, n.saturating_sub(1))?;
            }
            let n = self.rows.count(tenant, record.state)?;
            self.rows.set_count(tenant, record.state, n + 1)?;
        }
        let group = |state: InvocationState| state.listed_group();
        if old.map(group) != Some(group(record.state)) {
            if let Some(old) = old {
                self.rows.set_listed(tenant, old, record.id, false)?;
            }
            self.rows
                .set_listed(tenant, record.state, record.id, true)?;
        }
        self.rows.put_record(record)?;
        if record.state.is_terminal()
            && old.is_none_or(|old| !old.is_terminal())
            && let Some(finished_at) = record.finished_at_ms
        {
            self.rows
                .set_finished(tenant, finished_at, record.id, true)?;
        }
        let runnable = matches!(
            record.state,
            InvocationState::Pending | InvocationState::Running
        );
        self.rows.set_runnable(tenant, record.id, runnable)?;
        if record.state.is_terminal() {
            self.finished(record)?;
        }
        Ok(())
    }

    /// What follows from `record` finishing: its own wait, attempts and signals go, its
    /// parent may wake.
    fn finished(&mut self, record: &InvocationRecord) -> RowResult<()> {
        let (tenant, id) = (&record.tenant, record.id);
        self.remove_wait(tenant, id)?;
        self.rows.set_paused(tenant, id, None)?;
        self.rows.remove_retries(id)?;
        let freed = self.rows.remove_signals(tenant, id)?;
        self.release_stored(tenant, freed)?;
        let Some(parent) = record.parent else {
            return Ok(());
        };
        let Some((parent_id, seq)) = self.rows.take_awaited(tenant, id)? else {
            // Its parent may live on another node.
            return self.report_end(record);
        };
        debug_assert_eq!(parent_id, parent);
        if self
            .rows
            .departure(tenant, parent_id)?
            .is_some_and(|d| d.phase == Phase::Leaving)
        {
            // Its parent is moving, its wait kept in the departure: the move's decision
            // counts this end (where the parent then is), by the awaited row kept.
            return self.rows.put_awaited(tenant, id, parent_id, seq);
        }
        let ok = record.state == InvocationState::Completed;
        self.count_child_end(tenant, parent_id, seq, ok)
    }

    /// Counts the end of a child (`ok`: it completed) into the wait at step `seq` of
    /// `parent`, if it is suspended there; wakes it when satisfied.
    fn count_child_end(
        &mut self,
        tenant: &TenantId,
        parent: InvocationId,
        seq: u32,
        ok: bool,
    ) -> RowResult<()> {
        self.update_wait(tenant, parent, |w| {
            w.seq == seq && {
                w.child_finished(ok);
                true
            }
        })
    }

    /// Applies `event` to the wait of `id`, if it is suspended; wakes it when satisfied.
    /// `event` returns whether it changed the wait.
    fn update_wait(
        &mut self,
        tenant: &TenantId,
        id: InvocationId,
        event: impl FnOnce(&mut WaitState) -> bool,
    ) -> RowResult<()> {
        let Some(mut wait) = self.rows.wait(tenant, id)? else {
            return Ok(());
        };
        if !event(&mut wait) {
            return Ok(());
        }
        if wait.satisfied() {
            self.wake(tenant, id)
        } else {
            self.rows.put_wait(tenant, id, &wait)
        }
    }

    /// Removes the wait of `id` and its timer rows.
    fn remove_wait(&mut self, tenant: &TenantId, id: InvocationId) -> RowResult<()> {
        if let Some(wait) = self.rows.wait(tenant, id)? {
            self.rows.remove_wait(tenant, id)?;
            for due in &wait.timers {
                self.rows.remove_timer(*due, id)?;
            }
        }
        Ok(())
    }

    /// Makes suspended invocation `id` pending again.
    fn wake(&mut self, tenant: &TenantId, id: InvocationId) -> RowResult<()> {
        self.remove_wait(tenant, id)?;
        let Some(mut record) = self.rows.record(tenant, id)? else {
            return Ok(());
        };
        let old = record.state;
        if !old.is_waiting() {
            return Ok(());
        }
        record.state = InvocationState::Pending;
        record.updated_at_ms = self.now_ms;
        self.put_record(&record, Some(old))?;
        self.effects.woken.push((record.tenant, record.id));
        Ok(())
    }

    /// Suspends `record` (in state `old`, if it exists) on `items`, in state `waiting`
    /// (suspended, or scheduled), counting what has already happened; if that satisfies the
    /// wait the invocation becomes pending instead (and is reported woken).
    fn suspend(
        &mut self,
        record: &InvocationRecord,
        old: Option<InvocationState>,
        seq: u32,
        mode: AwaitMode,
        items: &[Awaitable],
        waiting: InvocationState,
    ) -> RowResult<()> {
        let (tenant, id) = (&record.tenant, record.id);
        let now = self.now_ms;
        let resolved = {
            let rows = &*self.rows;
            // A child counts by its record's state (a missing one as failed), the k-th signal
            // item of a name by the k-th kept signal of that name: the journal's one set of
            // rules.
            let child = |child: InvocationId| -> RowResult<Resolution<()>> {
                let state = rows
                    .record(tenant, child)?
                    .map_or(InvocationState::Failed, |r| r.state);
                Ok(match state {
                    InvocationState::Completed => Some(Ok(())),
                    state if state.is_terminal() => Some(Err(())),
                    _ => None,
                })
            };
            let signal = |name: &str, k: usize| -> RowResult<Option<()>> {
                Ok(rows.has_signal(tenant, id, name, k)?.then_some(()))
            };
            waits::resolve(items, now, child, signal, || ())?
        };
        let wait = WaitState::new(seq, mode, items, &resolved);
        let pending_children: Vec<InvocationId> = items
            .iter()
            .zip(&resolved)
            .filter_map(|(item, resolution)| match (item, resolution) {
                (Awaitable::Child(child), None) => Some(*child),
                _ => None,
            })
            .collect();
        let mut record = record.clone();
        record.updated_at_ms = now;
        if wait.satisfied() {
            record.state = InvocationState::Pending;
            self.put_record(&record, old)?;
            self.effects.woken.push((record.tenant.clone(), record.id));
            return Ok(());
        }
        record.state = waiting;
        self.put_record(&record, old)?;
        for child in pending_children {
            self.rows.put_awaited(tenant, child, id, seq)?;
        }
        for due in &wait.timers {
            self.rows.put_timer(*due, id, tenant)?;
        }
        self.rows.put_wait(tenant, id, &wait)
    }

    /// Cancels `root` (saying `why`) and, depth first, every unfinished child it did not
    /// detach; returns their ids.
    fn cancel_tree(&mut self, root: InvocationRecord, why: String) -> RowResult<Vec<InvocationId>> {
        let now = self.now_ms;
        let root_id = root.id;
        let mut stack = vec![root];
        let mut cancelled = Vec::new();
        while let Some(mut record) = stack.pop() {
            let message = if record.id == root_id {
                why.clone()
            } else {
                format!("cancelled with its parent {root_id}")
            };
            record.failure = Some(Failure {
                kind: FailureKind::Cancelled,
                message,
            });
            let old = record.state;
            record.finish(InvocationState::Cancelled, now);
            self.put_record(&record, Some(old))?;
            self.effects
                .cancelled
                .push((record.tenant.clone(), record.id));
            cancelled.push(record.id);
            let tenant = &record.tenant;
            for (child, detached) in self.rows.children_of(tenant, record.id)? {
                match self.rows.record(tenant, child)? {
                    Some(child) if detached || child.state.is_terminal() => {}
                    // Moved to another node: cancelled there.
                    Some(child) if child.state == InvocationState::Moved => {
                        self.cancel_away(&child)?;
                    }
                    Some(child) => stack.push(child),
                    None => {}
                }
            }
        }
        Ok(cancelled)
    }

    /// Stores the component (if new, and within the tenant's `stored_bytes`) and writes
    /// `deployment` as the next version of its name.
    fn deploy(&mut self, deployment: &Deployment, component: &[u8]) -> Applied {
        if let Err(over) = self.check_stored(&deployment.tenant, component.len())? {
            return refuse(over);
        }
        self.add_stored(&deployment.tenant, component.len())?;
        let hash = &deployment.component;
        if !self.rows.has_component(hash)? {
            self.rows.put_component(hash, component)?;
        }
        // A stored deployment that no longer decodes is replaced, as if it were not there.
        let previous = match self.rows.deployment(&deployment.tenant, &deployment.name) {
            Ok(previous) => previous,
            Err(StorageFailure::Corrupt(_)) => None,
            Err(e) => return Err(e),
        };
        // Written before versions were kept, the one replaced is kept as a version now.
        if let Some(previous) = &previous {
            self.keep_version(previous)?;
        }
        let previous = previous.map_or(0, |d| d.version);
        self.put_version(&Deployment {
            version: previous + 1,
            ..deployment.clone()
        })?;
        Ok(Ok(()))
    }

    /// Pauses pending or running `record`'s invocation as `record` says (its reason in
    /// `failure`), dropping the kept attempts of step `seq` if given.
    fn pause_exhausted(&mut self, record: &InvocationRecord, seq: Option<u32>) -> Applied {
        let (tenant, id) = (&record.tenant, record.id);
        let Some(old) = self.rows.record(tenant, id)? else {
            return refuse(WriteError::NoSuchInvocation(id.to_string()));
        };
        if old.state.is_terminal() {
            return refuse(WriteError::InvocationFinished(id.to_string()));
        }
        if !matches!(
            old.state,
            InvocationState::Pending | InvocationState::Running
        ) {
            return refuse(WriteError::NotRunning(id.to_string()));
        }
        if let Some(seq) = seq {
            self.rows.remove_retry(id, seq)?;
        }
        self.rows.set_paused(tenant, id, Some(old.state))?;
        let mut record = record.clone();
        record.state = InvocationState::Paused;
        record.updated_at_ms = self.now_ms;
        self.put_record(&record, Some(old.state))?;
        self.effects.paused.push((tenant.clone(), id));
        Ok(Ok(()))
    }
}
