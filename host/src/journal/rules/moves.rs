//! What moving an invocation between nodes writes at each end (`journal::departure` states
//! the ownership invariant these keep).
//!
//! Leaving takes an invocation out of every index that could run or wake it — runnable, its
//! wait and timers (the wait is kept in the departure) — in the one op that records the
//! departure; its other rows stay until the move is decided. Arriving writes every row of the
//! bundle and the arrival in one op, so a node owns all of an invocation or none of it.

use super::super::bundle::{Bundle, ChildCopy, Family};
use super::super::departure::{Arrival, Departure, Phase};
use super::super::error::WriteError;
use super::super::outbox::Message;
use super::super::records::{InvocationRecord, InvocationState};
use super::super::rows::{RowResult, Rows};
use super::{Applied, Txn, history_bytes, refuse};
use crate::ids::{InvocationId, TenantId};

impl<R: Rows + ?Sized> Txn<'_, R> {
    /// Refuses a write to `id`, which has moved (or is moving) away.
    pub(super) fn refuse_moved(&self, tenant: &TenantId, id: InvocationId) -> Applied {
        let to = self.rows.departure(tenant, id)?.map(|d| d.to);
        refuse(WriteError::Moved {
            invocation: id.to_string(),
            to: to.unwrap_or_default(),
        })
    }

    /// Starts moving unfinished `id` out as move `move_id` (to `to`): it is neither run nor
    /// woken here from now on.
    pub(super) fn leave(
        &mut self,
        tenant: &TenantId,
        id: InvocationId,
        move_id: u128,
        to: &str,
    ) -> Applied {
        let Some(mut record) = self.rows.record(tenant, id)? else {
            return refuse(WriteError::NoSuchInvocation(id.to_string()));
        };
        let from = record.state;
        if from == InvocationState::Moved {
            return self.refuse_moved(tenant, id);
        }
        if from.is_terminal() {
            return refuse(WriteError::InvocationFinished(id.to_string()));
        }
        let linked = |why: String| {
            refuse(WriteError::Linked {
                invocation: id.to_string(),
                why,
            })
        };
        // A child leaves its unfinished parent's node only for another node (which reports
        // its end back), and comes back only there.
        if let Some(parent) = record.parent {
            let parent_here = self.rows.record(tenant, parent)?;
            let home = self.rows.parent_node(tenant, id)?;
            match (&parent_here, home) {
                (Some(p), _) if p.state.is_terminal() => {}
                (Some(p), _) if p.state != InvocationState::Moved && !to.is_empty() => {}
                (_, Some(home)) if home == to => {}
                (_, Some(home)) => {
                    return linked(format!(
                        "its parent {parent} lives on {home}: it can only move back there"
                    ));
                }
                (Some(_), None) if to.is_empty() => {
                    return linked(format!(
                        "its parent {parent} has not finished: move it with `reprise migrate`, not as a bundle file"
                    ));
                }
                (Some(_), None) => {
                    return linked(format!("its parent {parent} has moved away"));
                }
                (None, None) => {}
            }
        }
        // Its unfinished children stay where they run, and report their ends to the node it
        // goes to: only a live move knows that node.
        for (child, _) in self.rows.children_of(tenant, id)? {
            if self
                .rows
                .record(tenant, child)?
                .is_none_or(|c| c.state.is_terminal())
            {
                continue;
            }
            if to.is_empty() {
                return linked(format!(
                    "its child {child} has not finished: move it with `reprise migrate`, not as a bundle file"
                ));
            }
            if self
                .rows
                .departure(tenant, child)?
                .is_some_and(|d| d.phase == Phase::Leaving)
            {
                return linked(format!("its child {child} is moving"));
            }
        }
        let wait = self.rows.wait(tenant, id)?;
        self.remove_wait(tenant, id)?;
        let departure = Departure {
            move_id,
            to: to.to_string(),
            at_ms: self.now_ms,
            from,
            phase: Phase::Leaving,
            wait,
        };
        self.rows.put_departure(tenant, id, &departure)?;
        record.state = InvocationState::Moved;
        record.updated_at_ms = self.now_ms;
        self.put_record(&record, Some(from))?;
        // A run in this process stops at once, as for a pause.
        self.effects.paused.push((tenant.clone(), id));
        Ok(Ok(()))
    }

    /// The departure of `id` if it is leaving as move `move_id`, else the refusal.
    fn leaving(
        &self,
        tenant: &TenantId,
        id: InvocationId,
        move_id: u128,
    ) -> RowResult<Result<Departure, WriteError>> {
        Ok(match self.rows.departure(tenant, id)? {
            Some(d) if d.move_id == move_id && d.phase == Phase::Leaving => Ok(d),
            _ => Err(WriteError::NoSuchMove {
                invocation: id.to_string(),
                move_id,
            }),
        })
    }

    /// The other end has `id`: its rows here go, its record stays to say where it went.
    pub(super) fn depart(&mut self, tenant: &TenantId, id: InvocationId, move_id: u128) -> Applied {
        if let Some(d) = self.rows.departure(tenant, id)?
            && d.move_id == move_id
            && d.phase == Phase::Left
        {
            return Ok(Ok(()));
        }
        let mut departure = match self.leaving(tenant, id, move_id)? {
            Ok(d) => d,
            Err(err) => return refuse(err),
        };
        // Its children stay: their ends go to its new node from now on, and those that ended
        // while it was leaving (their awaited rows kept) are sent there, counted there once.
        for (child, _) in self.rows.children_of(tenant, id)? {
            let awaited = self.rows.take_awaited(tenant, child)?;
            let Some(c) = self.rows.record(tenant, child)? else {
                continue;
            };
            if !c.state.is_terminal() {
                self.rows
                    .set_parent_node(tenant, child, Some(&departure.to))?;
            } else if awaited.is_some() {
                let end = Message::ChildEnded(Box::new(c));
                self.rows.put_message(&departure.to, &end)?;
                self.effects.outbox = true;
            }
        }
        let freed = self.drop_rows(tenant, id)?;
        self.release_stored(tenant, freed)?;
        departure.phase = Phase::Left;
        departure.wait = None;
        self.rows.put_departure(tenant, id, &departure)?;
        Ok(Ok(()))
    }

    /// The other end refused the move: `id` is owned here again, in the state it left.
    pub(super) fn stay_home(
        &mut self,
        tenant: &TenantId,
        id: InvocationId,
        move_id: u128,
    ) -> Applied {
        let departure = match self.leaving(tenant, id, move_id)? {
            Ok(d) => d,
            Err(err) => return refuse(err),
        };
        let Some(mut record) = self.rows.record(tenant, id)? else {
            return refuse(WriteError::NoSuchInvocation(id.to_string()));
        };
        self.rows.remove_departure(tenant, id)?;
        record.state = match departure.from {
            InvocationState::Running => InvocationState::Pending,
            state => state,
        };
        self.put_back(&mut record, InvocationState::Moved)?;
        if let Some(wait) = &departure.wait {
            self.put_wait_rows(tenant, id, wait)?;
        }
        // Its children that ended while it was leaving count now.
        for (child, _) in self.rows.children_of(tenant, id)? {
            if let Some(c) = self.rows.record(tenant, child)?
                && c.state.is_terminal()
                && let Some((_, seq)) = self.rows.take_awaited(tenant, child)?
            {
                self.count_child_end(tenant, id, seq, c.state == InvocationState::Completed)?;
            }
        }
        Ok(Ok(()))
    }

    /// Writes `wait` of `id` and its timers.
    fn put_wait_rows(
        &mut self,
        tenant: &TenantId,
        id: InvocationId,
        wait: &super::WaitState,
    ) -> RowResult<()> {
        for due in &wait.timers {
            self.rows.put_timer(*due, id, tenant)?;
        }
        self.rows.put_wait(tenant, id, wait)
    }

    /// Removes the rows of `id` a move carries besides its record (journal, history, kept
    /// signals and attempts, pause, children); returns the bytes they held.
    fn drop_rows(&mut self, tenant: &TenantId, id: InvocationId) -> RowResult<u64> {
        let mut freed = self.drop_journal(id)?;
        freed += self.rows.remove_signals(tenant, id)?;
        self.rows.remove_retries(id)?;
        self.rows.set_paused(tenant, id, None)?;
        self.rows.remove_children(tenant, id, None)?;
        self.rows.set_parent_node(tenant, id, None)?;
        Ok(freed)
    }

    /// Owns the invocation in `bundle` from now on: every row of it, and the arrival.
    pub(super) fn import(&mut self, bundle: &Bundle, family: &Family) -> Applied {
        let record = &bundle.record;
        let (tenant, id, move_id) = (&record.tenant, record.id, bundle.move_id);
        match self.rows.arrival(move_id)? {
            Some(a) if a.arrived => return refuse(WriteError::Arrived(move_id)),
            Some(_) => return refuse(WriteError::ArrivalRefused(move_id)),
            None => {}
        }
        if self.rows.tenant(tenant)?.is_none() {
            return refuse(WriteError::NoSuchTenant(tenant.to_string()));
        }
        if bundle.check_rows().is_err() || bundle.check_family(family).is_err() {
            return refuse(WriteError::NotAllowed {
                invocation: id.to_string(),
                why: "its bundle does not hold together",
            });
        }
        if bundle.component.is_empty() && !self.rows.has_component(&record.component)? {
            return refuse(WriteError::NoSuchComponent(record.component.to_string()));
        }
        let old = self.rows.record(tenant, id)?;
        if old
            .as_ref()
            .is_some_and(|o| o.state != InvocationState::Moved)
        {
            return refuse(WriteError::InvocationExists(id.to_string()));
        }
        // A deployment this node lacks comes with it, and counts like a deploy.
        let deployment = match &bundle.deployment {
            Some(d) => match self.rows.deployment(tenant, &d.name) {
                Ok(None) => Some(d),
                Ok(Some(_)) => None,
                Err(super::StorageFailure::Corrupt(_)) => None,
                Err(e) => return Err(e),
            },
            None => None,
        };
        // Its children this node has no record of come with it; those it has stay.
        let (mut copies, mut held) = (Vec::new(), Vec::new());
        for copy in &family.children {
            match self.rows.record(tenant, copy.record.id)? {
                None => copies.push(copy),
                Some(_) => held.push(copy.record.id),
            }
        }
        let mut bytes = bundle.stored_bytes(history_bytes) as usize;
        bytes += copies.iter().map(|c| c.record.own_bytes()).sum::<usize>();
        if deployment.is_some() {
            bytes += bundle.component.len();
        }
        if let Err(over) = self.check_stored(tenant, bytes)? {
            return refuse(over);
        }
        if let Some(old) = &old {
            // Back where it left from: what is left of it here goes first.
            let freed = self.drop_rows(tenant, id)? + old.own_bytes() as u64;
            self.release_stored(tenant, freed)?;
            self.rows.remove_departure(tenant, id)?;
        }
        self.add_stored(tenant, bytes)?;
        if !self.rows.has_component(&record.component)? {
            self.rows
                .put_component(&record.component, &bundle.component)?;
        }
        if let Some(d) = deployment {
            self.put_version(d)?;
        }
        // Its unfinished parent stayed where it came from: its end is reported there.
        if let Some(parent) = record.parent
            && self.rows.record(tenant, parent)?.is_none()
            && !bundle.from_node.is_empty()
        {
            self.rows
                .set_parent_node(tenant, id, Some(&bundle.from_node))?;
        }
        let mut record = record.clone();
        if record.state == InvocationState::Running {
            record.state = InvocationState::Pending;
        }
        self.put_record(&record, old.map(|o| o.state))?;
        if let Some(wait) = &bundle.wait {
            self.put_wait_rows(tenant, id, wait)?;
        }
        if let Some(from) = bundle.paused_from {
            self.rows.set_paused(tenant, id, Some(from))?;
        }
        for step in &bundle.steps {
            self.rows.put_step(id, step.seq, &step.entry)?;
        }
        for (n, event) in bundle.history.iter().enumerate() {
            self.rows.put_history(id, n as u32, &event.0)?;
        }
        for s in &bundle.signals {
            self.rows.put_signal(tenant, id, &s.name, s.n, &s.payload)?;
        }
        for (seq, retry) in &bundle.retries {
            self.rows.put_retry(id, *seq, *retry)?;
        }
        for (child, detached) in &bundle.children {
            self.rows.add_child(tenant, id, *child, *detached)?;
        }
        self.adopt(bundle, &family.awaited, &copies, &held)?;
        let arrival = Arrival {
            tenant: tenant.clone(),
            invocation: id,
            arrived: true,
            at_ms: self.now_ms,
        };
        self.rows.put_arrival(move_id, &arrival)?;
        if record.state == InvocationState::Pending {
            self.effects.woken.push((tenant.clone(), id));
        }
        Ok(Ok(()))
    }

    /// Writes what the bundle says of the children of `bundle`'s invocation, which has just
    /// arrived: `copies` (those this node had no record of) as finished records or as
    /// forwarding records to the node each runs on, the parent's wait counting the `awaited`
    /// children that have ended, and awaited rows for the others. A child `held` here
    /// already no longer reports its end away: its parent is here now.
    fn adopt(
        &mut self,
        bundle: &Bundle,
        awaited: &[(InvocationId, u32)],
        copies: &[&ChildCopy],
        held: &[InvocationId],
    ) -> RowResult<()> {
        let (tenant, id) = (&bundle.record.tenant, bundle.record.id);
        for child in held {
            self.rows.set_parent_node(tenant, *child, None)?;
        }
        for ChildCopy { record, node } in copies {
            if record.state.is_terminal() {
                self.put_record(record, None)?;
                continue;
            }
            let departure = Departure {
                move_id: bundle.move_id,
                to: node.clone(),
                at_ms: self.now_ms,
                from: record.state,
                phase: Phase::Left,
                wait: None,
            };
            self.rows.put_departure(tenant, record.id, &departure)?;
            let forwarding = InvocationRecord {
                state: InvocationState::Moved,
                ..record.clone()
            };
            self.put_record(&forwarding, None)?;
        }
        for (child, seq) in awaited {
            match self.rows.record(tenant, *child)? {
                Some(c) if c.state.is_terminal() => {
                    self.count_child_end(tenant, id, *seq, c.state == InvocationState::Completed)?
                }
                _ => self.rows.put_awaited(tenant, *child, id, *seq)?,
            }
        }
        Ok(())
    }

    /// Refuses move `move_id` before it arrives, so that it never does.
    pub(super) fn refuse_arrival(
        &mut self,
        move_id: u128,
        tenant: &TenantId,
        id: InvocationId,
    ) -> Applied {
        match self.rows.arrival(move_id)? {
            Some(a) if a.arrived => refuse(WriteError::Arrived(move_id)),
            Some(_) => Ok(Ok(())),
            None => {
                let refusal = Arrival {
                    tenant: tenant.clone(),
                    invocation: id,
                    arrived: false,
                    at_ms: self.now_ms,
                };
                self.rows.put_arrival(move_id, &refusal)?;
                Ok(Ok(()))
            }
        }
    }
}
