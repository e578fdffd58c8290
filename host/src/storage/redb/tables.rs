//! The rows of one redb write transaction: every table a write may touch, opened once per
//! batch, and the log-only staging of journal entries.

use std::collections::HashMap;

use redb::{ReadableTable, Table, WriteTransaction};

use super::recent::{Recent, Staged, StepKey};
use super::schema::{ARRIVALS, BY_STATE, DEPARTURES, OUTBOX, OUTPUT, PARENT_NODES, VERSIONS};
use super::schema::{
    AWAITED, CHILDREN, COMPONENTS, COUNTS, DEPLOYMENTS, HISTORY, INVOCATIONS, JOURNAL, RETRIES,
    RUNNABLE, SIGNALS, TIMERS, WAITS,
};
use super::schema::{
    EGRESS, FINISHED, KEYED, KEYS, KEYS_BY_AGE, PAUSED, QUOTAS, SCHEDULES, TENANTS, USAGE,
};
use super::versions;
use crate::ids::{ComponentHash, InvocationId, TenantId};
use crate::journal::codec::{decode, encode};
use crate::journal::rows::{
    AccessRows, DeploymentRows, InvocationRows, MoveRows, OutboxRows, OutputRows, RowResult,
    ScheduleRows, SignalRows, StepRows, VersionRows, WaitRows,
};
use crate::journal::{Arrival, Departure, Message};
use crate::journal::{
    Deployment, IdempotencyKey, InvocationRecord, InvocationState, KeyedRequest, RetryState,
    Schedule, StoredStep, WaitState, decode_deployment, encode_deployment,
};
use crate::journal::{EgressRules, KeyRecord, Quotas, TenantRecord, decode_quotas, encode_quotas};

/// Every table a write may touch, opened once per batch.
pub(super) struct Tables<'txn> {
    components: Table<'txn, &'static [u8], &'static [u8]>,
    deployments: Table<'txn, (&'static str, &'static str), &'static [u8]>,
    invocations: Table<'txn, (&'static str, u128), &'static [u8]>,
    runnable: Table<'txn, (&'static str, u128), ()>,
    journal: Table<'txn, (u128, u32), &'static [u8]>,
    history: Table<'txn, (u128, u32), &'static [u8]>,
    timers: Table<'txn, (u64, u128), &'static str>,
    waits: Table<'txn, (&'static str, u128), &'static [u8]>,
    awaited: Table<'txn, (&'static str, u128), (u128, u32)>,
    children: Table<'txn, (&'static str, u128, u128), bool>,
    signals: Table<'txn, (&'static str, u128, &'static str, u64), &'static [u8]>,
    counts: Table<'txn, (&'static str, &'static str), u64>,
    retries: Table<'txn, (u128, u32), (u32, u64)>,
    tenants: Table<'txn, &'static str, &'static [u8]>,
    keys: Table<'txn, &'static [u8], &'static [u8]>,
    quotas: Table<'txn, &'static str, &'static [u8]>,
    egress: Table<'txn, (&'static str, &'static str), &'static [u8]>,
    usage: Table<'txn, &'static str, u64>,
    keyed: Table<'txn, (&'static str, &'static str, &'static str), &'static [u8]>,
    keys_by_age: Table<'txn, (&'static str, u64, &'static str, &'static str), ()>,
    paused: Table<'txn, (&'static str, u128), &'static [u8]>,
    finished: Table<'txn, (&'static str, u64, u128), ()>,
    schedules: Table<'txn, (&'static str, &'static str), &'static [u8]>,
    departures: Table<'txn, (&'static str, u128), &'static [u8]>,
    arrivals: Table<'txn, u128, &'static [u8]>,
    /// Opened on first use: only deploys and `gc` touch it.
    versions: Lazy<'txn, (&'static str, &'static str, u32), &'static [u8]>,
    /// Opened on first use: only what concerns parents and children apart touches them.
    outbox: Lazy<'txn, (&'static str, &'static str, u128, u8), &'static [u8]>,
    parent_nodes: Lazy<'txn, (&'static str, u128), &'static str>,
    /// Opened on first use: only what changes an invocation's state touches it.
    by_state: Lazy<'txn, (&'static str, u8, u128), ()>,
    /// Opened on first use: only guests' output, and what removes it, touches it.
    output: Lazy<'txn, (u128, u32, u32), &'static [u8]>,
    txn: &'txn WriteTransaction,
    /// Per tenant, within this batch: its quotas as read, and its stored bytes (written to
    /// the usage table by [`Tables::flush`]).
    tenants_seen: HashMap<String, TenantSeen>,
    /// Where journal entries go: kept aside until the batch is durable (then to [`Recent`]),
    /// or, when `None`, into the journal table.
    staged: Option<Staged>,
    /// Durable entries not yet in the journal table, when staging.
    recent: Option<&'txn Recent>,
}

impl<'txn> Tables<'txn> {
    /// Opens every table in `txn`; journal entries are written to the journal table.
    pub fn open(txn: &'txn WriteTransaction) -> RowResult<Self> {
        Self::open_with(txn, None)
    }

    /// Opens every table in `txn`; journal entries are kept aside (see [`Tables::take_staged`])
    /// and checked against `recent` as well as the journal table.
    pub fn staging(txn: &'txn WriteTransaction, recent: &'txn Recent) -> RowResult<Self> {
        Self::open_with(txn, Some(recent))
    }

    /// Writes what this batch changed of the tenants' stored bytes; call once all its ops
    /// are applied, before the transaction commits.
    pub fn flush(&mut self) -> RowResult<()> {
        for (tenant, seen) in &mut self.tenants_seen {
            if let Some(bytes) = seen.stored.filter(|_| seen.dirty) {
                self.usage.insert(tenant.as_str(), bytes)?;
                seen.dirty = false;
            }
        }
        Ok(())
    }

    /// What this batch has seen of `tenant`.
    fn seen(&mut self, tenant: &TenantId) -> &mut TenantSeen {
        self.tenants_seen
            .entry(tenant.as_str().to_string())
            .or_default()
    }

    /// Whether an earlier op of this batch removed the step at `key` (so an entry still in
    /// [`Recent`] there is gone).
    fn hidden(&self, key: StepKey) -> bool {
        self.staged.as_ref().is_some_and(|s| s.hides(key))
    }

    /// The journal entries kept aside by the ops applied so far.
    pub fn take_staged(&mut self) -> Staged {
        self.staged.as_mut().map(std::mem::take).unwrap_or_default()
    }

    /// Writes the entries of `recent` (durable in the log until now) to the journal table.
    pub fn write_recent(&mut self, recent: &Recent) -> RowResult<()> {
        recent.write_all(|key, entry| self.journal.insert(key, entry).map(drop))?;
        Ok(())
    }

    fn open_with(txn: &'txn WriteTransaction, recent: Option<&'txn Recent>) -> RowResult<Self> {
        Ok(Tables {
            components: txn.open_table(COMPONENTS)?,
            deployments: txn.open_table(DEPLOYMENTS)?,
            invocations: txn.open_table(INVOCATIONS)?,
            runnable: txn.open_table(RUNNABLE)?,
            journal: txn.open_table(JOURNAL)?,
            history: txn.open_table(HISTORY)?,
            timers: txn.open_table(TIMERS)?,
            waits: txn.open_table(WAITS)?,
            awaited: txn.open_table(AWAITED)?,
            children: txn.open_table(CHILDREN)?,
            signals: txn.open_table(SIGNALS)?,
            counts: txn.open_table(COUNTS)?,
            retries: txn.open_table(RETRIES)?,
            tenants: txn.open_table(TENANTS)?,
            keys: txn.open_table(KEYS)?,
            quotas: txn.open_table(QUOTAS)?,
            egress: txn.open_table(EGRESS)?,
            usage: txn.open_table(USAGE)?,
            keyed: txn.open_table(KEYED)?,
            keys_by_age: txn.open_table(KEYS_BY_AGE)?,
            paused: txn.open_table(PAUSED)?,
            departures: txn.open_table(DEPARTURES)?,
            arrivals: txn.open_table(ARRIVALS)?,
            finished: txn.open_table(FINISHED)?,
            schedules: txn.open_table(SCHEDULES)?,
            versions: Lazy::new(VERSIONS),
            outbox: Lazy::new(OUTBOX),
            parent_nodes: Lazy::new(PARENT_NODES),
            output: Lazy::new(OUTPUT),
            by_state: Lazy::new(BY_STATE),
            txn,
            tenants_seen: HashMap::new(),
            staged: recent.map(|_| Staged::default()),
            recent,
        })
    }
}

/// What one batch has read or changed of a tenant.
#[derive(Default)]
struct TenantSeen {
    quotas: Option<Quotas>,
    stored: Option<u64>,
    /// Whether `stored` changed since it was read or flushed.
    dirty: bool,
}

/// Decodes a stored value; one that does not decode aborts the batch as corrupt.
fn decode_stored<T: serde::de::DeserializeOwned>(what: &'static str, bytes: &[u8]) -> RowResult<T> {
    Ok(decode(what, bytes)?)
}

impl InvocationRows for Tables<'_> {
    fn record(&self, tenant: &TenantId, id: InvocationId) -> RowResult<Option<InvocationRecord>> {
        let (tenant, id) = (tenant.as_str(), id.0);
        let value = self.invocations.get((tenant, id))?;
        value
            .map(|v| decode_stored("invocation", v.value()))
            .transpose()
    }

    fn put_record(&mut self, record: &InvocationRecord) -> RowResult<()> {
        let key = (record.tenant.as_str(), record.id.0);
        self.invocations.insert(key, encode(record).as_slice())?;
        Ok(())
    }

    fn remove_record(&mut self, tenant: &TenantId, id: InvocationId) -> RowResult<()> {
        self.invocations.remove((tenant.as_str(), id.0))?;
        Ok(())
    }

    fn set_listed(
        &mut self,
        tenant: &TenantId,
        state: InvocationState,
        id: InvocationId,
        listed: bool,
    ) -> RowResult<()> {
        let key = (tenant.as_str(), state.listed_group(), id.0);
        let table = self.by_state.get_mut(self.txn)?;
        if listed {
            table.insert(key, ())?;
        } else {
            table.remove(key)?;
        }
        Ok(())
    }

    fn set_finished(
        &mut self,
        tenant: &TenantId,
        finished_at_ms: u64,
        id: InvocationId,
        finished: bool,
    ) -> RowResult<()> {
        let key = (tenant.as_str(), finished_at_ms, id.0);
        if finished {
            self.finished.insert(key, ())?;
        } else {
            self.finished.remove(key)?;
        }
        Ok(())
    }

    fn remove_children(
        &mut self,
        tenant: &TenantId,
        parent: InvocationId,
        child: Option<InvocationId>,
    ) -> RowResult<()> {
        let (tenant, parent) = (tenant.as_str(), parent.0);
        match child {
            Some(child) => {
                self.children.remove((tenant, parent, child.0))?;
            }
            None => {
                let all = (tenant, parent, 0u128)..=(tenant, parent, u128::MAX);
                self.children.retain_in(all, |_, _| false)?;
            }
        }
        Ok(())
    }

    fn is_runnable(&self, tenant: &TenantId, id: InvocationId) -> RowResult<bool> {
        let (tenant, id) = (tenant.as_str(), id.0);
        Ok(self.runnable.get((tenant, id))?.is_some())
    }

    fn set_runnable(
        &mut self,
        tenant: &TenantId,
        id: InvocationId,
        runnable: bool,
    ) -> RowResult<()> {
        let (tenant, id) = (tenant.as_str(), id.0);
        if runnable {
            self.runnable.insert((tenant, id), ())?;
        } else {
            self.runnable.remove((tenant, id))?;
        }
        Ok(())
    }

    fn count(&self, tenant: &TenantId, state: InvocationState) -> RowResult<u64> {
        let tenant = tenant.as_str();
        let value = self.counts.get((tenant, state.as_str()))?;
        Ok(value.map_or(0, |v| v.value()))
    }

    fn set_count(&mut self, tenant: &TenantId, state: InvocationState, n: u64) -> RowResult<()> {
        let tenant = tenant.as_str();
        self.counts.insert((tenant, state.as_str()), n)?;
        Ok(())
    }

    fn add_child(
        &mut self,
        tenant: &TenantId,
        parent: InvocationId,
        child: InvocationId,
        detached: bool,
    ) -> RowResult<()> {
        let (tenant, parent, child) = (tenant.as_str(), parent.0, child.0);
        self.children.insert((tenant, parent, child), detached)?;
        Ok(())
    }

    fn children_of(
        &self,
        tenant: &TenantId,
        parent: InvocationId,
    ) -> RowResult<Vec<(InvocationId, bool)>> {
        let (tenant, parent) = (tenant.as_str(), parent.0);
        let mut out = Vec::new();
        for row in self
            .children
            .range((tenant, parent, 0u128)..=(tenant, parent, u128::MAX))?
        {
            let (key, detached) = row?;
            out.push((InvocationId(key.value().2), detached.value()));
        }
        Ok(out)
    }

    fn paused(&self, tenant: &TenantId, id: InvocationId) -> RowResult<Option<InvocationState>> {
        let value = self.paused.get((tenant.as_str(), id.0))?;
        value
            .map(|v| decode_stored("paused state", v.value()))
            .transpose()
    }

    fn set_paused(
        &mut self,
        tenant: &TenantId,
        id: InvocationId,
        from: Option<InvocationState>,
    ) -> RowResult<()> {
        let key = (tenant.as_str(), id.0);
        match from {
            Some(state) => self.paused.insert(key, encode(&state).as_slice())?,
            None => self.paused.remove(key)?,
        };
        Ok(())
    }

    fn keyed(&self, tenant: &TenantId, scope: &str, key: &str) -> RowResult<Option<KeyedRequest>> {
        let value = self.keyed.get((tenant.as_str(), scope, key))?;
        value
            .map(|v| decode_stored("idempotency key", v.value()))
            .transpose()
    }

    fn remove_keyed(&mut self, tenant: &TenantId, scope: &str, key: &str) -> RowResult<()> {
        let t = tenant.as_str();
        let removed = self.keyed.remove((t, scope, key))?;
        if let Some(old) = removed {
            let old: KeyedRequest = decode_stored("idempotency key", old.value())?;
            self.keys_by_age
                .remove((t, old.created_at_ms, scope, key))?;
        }
        Ok(())
    }

    fn put_keyed(
        &mut self,
        tenant: &TenantId,
        key: &IdempotencyKey,
        row: &KeyedRequest,
    ) -> RowResult<()> {
        let (t, scope, name) = (tenant.as_str(), key.scope.as_str(), key.key.as_str());
        // A row written again (its key no longer held) is indexed at its new age only.
        self.remove_keyed(tenant, scope, name)?;
        self.keyed
            .insert((t, scope, name), encode(row).as_slice())?;
        self.keys_by_age
            .insert((t, row.created_at_ms, scope, name), ())?;
        Ok(())
    }
}

impl StepRows for Tables<'_> {
    fn step_exists(&self, id: InvocationId, seq: u32) -> RowResult<bool> {
        let id = id.0;
        let key: StepKey = (id, seq);
        if self.staged.as_ref().is_some_and(|s| s.contains_key(&key))
            || (self.recent.is_some_and(|r| r.contains(key)) && !self.hidden(key))
        {
            return Ok(true);
        }
        Ok(self.journal.get(key)?.is_some())
    }

    fn put_step(&mut self, id: InvocationId, seq: u32, entry: &[u8]) -> RowResult<()> {
        let id = id.0;
        match &mut self.staged {
            Some(staged) => {
                staged.insert((id, seq), entry.to_vec());
            }
            None => {
                self.journal.insert((id, seq), entry)?;
            }
        }
        Ok(())
    }

    fn steps_from(&self, id: InvocationId, from: u32) -> RowResult<Vec<StoredStep>> {
        let id = id.0;
        let mut steps = std::collections::BTreeMap::new();
        for row in self.journal.range((id, from)..=(id, u32::MAX))? {
            let (key, entry) = row?;
            steps.insert(key.value().1, entry.value().to_vec());
        }
        if let Some(recent) = self.recent {
            let live = recent.of(id, from..=u32::MAX).into_iter();
            steps.extend(live.filter(|(seq, _)| !self.hidden((id, *seq))));
        }
        if let Some(staged) = &self.staged {
            steps.extend(staged.of(id, from).map(|(seq, e)| (seq, e.to_vec())));
        }
        Ok(steps
            .into_iter()
            .map(|(seq, entry)| StoredStep { seq, entry })
            .collect())
    }

    fn remove_steps(&mut self, id: InvocationId, from: u32) -> RowResult<u64> {
        let id = id.0;
        let mut bytes = 0u64;
        // Its entries still waiting for a checkpoint go too, once this batch is durable.
        if self.staged.is_some() {
            let recent = self.recent.map(|r| r.of(id, from..=u32::MAX));
            bytes += recent
                .into_iter()
                .flatten()
                .filter(|(seq, _)| !self.hidden((id, *seq)))
                .map(|(_, e)| e.len() as u64)
                .sum::<u64>();
        }
        if let Some(staged) = &mut self.staged {
            bytes += staged
                .of(id, from)
                .map(|(_, e)| e.len() as u64)
                .sum::<u64>();
            staged.forget(id, from);
        }
        self.journal
            .retain_in((id, from)..=(id, u32::MAX), |_, entry| {
                bytes += entry.len() as u64;
                false
            })?;
        Ok(bytes)
    }

    fn history(&self, id: InvocationId) -> RowResult<Vec<Vec<u8>>> {
        let id = id.0;
        let mut events = Vec::new();
        for row in self.history.range((id, 0u32)..=(id, u32::MAX))? {
            events.push(row?.1.value().to_vec());
        }
        Ok(events)
    }

    fn put_history(&mut self, id: InvocationId, n: u32, event: &[u8]) -> RowResult<()> {
        self.history.insert((id.0, n), event)?;
        Ok(())
    }

    fn remove_history(&mut self, id: InvocationId) -> RowResult<Vec<Vec<u8>>> {
        let id = id.0;
        let mut events = Vec::new();
        self.history
            .retain_in((id, 0u32)..=(id, u32::MAX), |_, event| {
                events.push(event.to_vec());
                false
            })?;
        Ok(events)
    }

    fn put_retry(&mut self, id: InvocationId, seq: u32, retry: RetryState) -> RowResult<()> {
        let id = id.0;
        self.retries
            .insert((id, seq), (retry.attempts, retry.first_ms))?;
        Ok(())
    }

    fn remove_retry(&mut self, id: InvocationId, seq: u32) -> RowResult<()> {
        let id = id.0;
        self.retries.remove((id, seq))?;
        Ok(())
    }

    fn remove_retries(&mut self, id: InvocationId) -> RowResult<()> {
        let id = id.0;
        self.retries
            .retain_in((id, 0u32)..=(id, u32::MAX), |_, _| false)?;
        Ok(())
    }
}

impl WaitRows for Tables<'_> {
    fn wait(&self, tenant: &TenantId, id: InvocationId) -> RowResult<Option<WaitState>> {
        let (tenant, id) = (tenant.as_str(), id.0);
        let value = self.waits.get((tenant, id))?;
        value.map(|v| decode_stored("wait", v.value())).transpose()
    }

    fn put_wait(&mut self, tenant: &TenantId, id: InvocationId, wait: &WaitState) -> RowResult<()> {
        let (tenant, id) = (tenant.as_str(), id.0);
        self.waits.insert((tenant, id), encode(wait).as_slice())?;
        Ok(())
    }

    fn remove_wait(&mut self, tenant: &TenantId, id: InvocationId) -> RowResult<()> {
        let (tenant, id) = (tenant.as_str(), id.0);
        self.waits.remove((tenant, id))?;
        Ok(())
    }

    fn put_timer(&mut self, due_ms: u64, id: InvocationId, tenant: &TenantId) -> RowResult<()> {
        let (tenant, id) = (tenant.as_str(), id.0);
        self.timers.insert((due_ms, id), tenant)?;
        Ok(())
    }

    fn remove_timer(&mut self, due_ms: u64, id: InvocationId) -> RowResult<()> {
        let id = id.0;
        self.timers.remove((due_ms, id))?;
        Ok(())
    }

    fn put_awaited(
        &mut self,
        tenant: &TenantId,
        child: InvocationId,
        parent: InvocationId,
        seq: u32,
    ) -> RowResult<()> {
        let (tenant, parent, child) = (tenant.as_str(), parent.0, child.0);
        self.awaited.insert((tenant, child), (parent, seq))?;
        Ok(())
    }

    fn take_awaited(
        &mut self,
        tenant: &TenantId,
        child: InvocationId,
    ) -> RowResult<Option<(InvocationId, u32)>> {
        let (tenant, child) = (tenant.as_str(), child.0);
        Ok(self.awaited.remove((tenant, child))?.map(|v| {
            let (parent, seq) = v.value();
            (InvocationId(parent), seq)
        }))
    }
}

impl SignalRows for Tables<'_> {
    fn next_signal(&self, tenant: &TenantId, id: InvocationId, name: &str) -> RowResult<u64> {
        let (tenant, id) = (tenant.as_str(), id.0);
        let range = (tenant, id, name, 0u64)..=(tenant, id, name, u64::MAX);
        Ok(self
            .signals
            .range(range)?
            .next_back()
            .transpose()?
            .map_or(0, |(k, _)| k.value().3 + 1))
    }

    fn put_signal(
        &mut self,
        tenant: &TenantId,
        id: InvocationId,
        name: &str,
        n: u64,
        payload: &[u8],
    ) -> RowResult<()> {
        let (tenant, id) = (tenant.as_str(), id.0);
        self.signals.insert((tenant, id, name, n), payload)?;
        Ok(())
    }

    fn remove_signal(
        &mut self,
        tenant: &TenantId,
        id: InvocationId,
        name: &str,
        n: u64,
    ) -> RowResult<u64> {
        let (tenant, id) = (tenant.as_str(), id.0);
        let removed = self.signals.remove((tenant, id, name, n))?;
        Ok(removed.map_or(0, |payload| payload.value().len() as u64))
    }

    fn remove_signals(&mut self, tenant: &TenantId, id: InvocationId) -> RowResult<u64> {
        let (tenant, id) = (tenant.as_str(), id.0);
        let mut bytes = 0u64;
        self.signals.retain_in(
            (tenant, id, "", 0u64)..=(tenant, id, "\u{10FFFF}", u64::MAX),
            |_, payload| {
                bytes += payload.len() as u64;
                false
            },
        )?;
        Ok(bytes)
    }

    fn has_signal(
        &self,
        tenant: &TenantId,
        id: InvocationId,
        name: &str,
        k: usize,
    ) -> RowResult<bool> {
        let (tenant, id) = (tenant.as_str(), id.0);
        let range = (tenant, id, name, 0u64)..=(tenant, id, name, u64::MAX);
        Ok(self.signals.range(range)?.nth(k).transpose()?.is_some())
    }
}

impl DeploymentRows for Tables<'_> {
    fn has_component(&self, hash: &ComponentHash) -> RowResult<bool> {
        Ok(self.components.get(hash.0.as_slice())?.is_some())
    }

    fn put_component(&mut self, hash: &ComponentHash, bytes: &[u8]) -> RowResult<()> {
        self.components.insert(hash.0.as_slice(), bytes)?;
        Ok(())
    }

    fn deployment(&self, tenant: &TenantId, name: &str) -> RowResult<Option<Deployment>> {
        let tenant = tenant.as_str();
        let value = self.deployments.get((tenant, name))?;
        Ok(value.map(|v| decode_deployment(v.value())).transpose()?)
    }

    fn put_deployment(&mut self, deployment: &Deployment) -> RowResult<()> {
        let key = (deployment.tenant.as_str(), deployment.name.as_str());
        self.deployments
            .insert(key, encode_deployment(deployment).as_slice())?;
        Ok(())
    }
}

/// A table of a write transaction opened on first use.
struct Lazy<'txn, K: redb::Key + 'static, V: redb::Value + 'static> {
    definition: redb::TableDefinition<'static, K, V>,
    table: std::cell::OnceCell<Table<'txn, K, V>>,
}

impl<'txn, K: redb::Key + 'static, V: redb::Value + 'static> Lazy<'txn, K, V> {
    fn new(definition: redb::TableDefinition<'static, K, V>) -> Self {
        Lazy {
            definition,
            table: std::cell::OnceCell::new(),
        }
    }

    /// The table, opened in `txn` now if it was not yet.
    fn get(&self, txn: &'txn WriteTransaction) -> RowResult<&Table<'txn, K, V>> {
        if self.table.get().is_none() {
            let _ = self.table.set(txn.open_table(self.definition)?);
        }
        Ok(self.table.get().expect("set just above"))
    }

    /// The table to change, opened in `txn` now if it was not yet.
    fn get_mut(&mut self, txn: &'txn WriteTransaction) -> RowResult<&mut Table<'txn, K, V>> {
        self.get(txn)?;
        Ok(self.table.get_mut().expect("opened just above"))
    }
}

impl VersionRows for Tables<'_> {
    fn put_version(&mut self, deployment: &Deployment) -> RowResult<()> {
        let key = (
            deployment.tenant.as_str(),
            deployment.name.as_str(),
            deployment.version,
        );
        let value = encode_deployment(deployment);
        self.versions
            .get_mut(self.txn)?
            .insert(key, value.as_slice())?;
        Ok(())
    }

    fn remove_version(&mut self, tenant: &TenantId, name: &str, version: u32) -> RowResult<()> {
        self.versions
            .get_mut(self.txn)?
            .remove((tenant.as_str(), name, version))?;
        Ok(())
    }

    fn versions(&self, tenant: Option<&TenantId>) -> RowResult<Vec<Deployment>> {
        versions::versions(self.versions.get(self.txn)?, tenant)
    }

    fn deployments(&self, tenant: Option<&TenantId>) -> RowResult<Vec<Deployment>> {
        versions::deployments(&self.deployments, tenant)
    }

    fn unfinished(&self, tenant: Option<&TenantId>) -> RowResult<Vec<InvocationRecord>> {
        let tables = versions::Indexes {
            runnable: &self.runnable,
            waits: &self.waits,
            paused: &self.paused,
            departures: &self.departures,
            invocations: &self.invocations,
        };
        versions::unfinished(tables, tenant)
    }

    fn remove_component(&mut self, hash: &ComponentHash) -> RowResult<()> {
        self.components.remove(hash.0.as_slice())?;
        Ok(())
    }
}

impl OutputRows for Tables<'_> {
    fn output_line(&self, id: InvocationId, position: u32, n: u32) -> RowResult<Option<Vec<u8>>> {
        let table = self.output.get(self.txn)?;
        Ok(table.get((id.0, position, n))?.map(|v| v.value().to_vec()))
    }

    fn put_output_line(
        &mut self,
        id: InvocationId,
        position: u32,
        n: u32,
        line: &[u8],
    ) -> RowResult<()> {
        self.output
            .get_mut(self.txn)?
            .insert((id.0, position, n), line)?;
        Ok(())
    }

    fn remove_output(&mut self, id: InvocationId, after: Option<u32>) -> RowResult<u64> {
        let from = match after {
            None => (id.0, 0, 0),
            Some(u32::MAX) => return Ok(0),
            Some(after) => (id.0, after + 1, 0),
        };
        let mut bytes = 0u64;
        self.output.get_mut(self.txn)?.retain_in(
            from..=(id.0, u32::MAX, u32::MAX),
            |_, line| {
                bytes += line.len() as u64;
                false
            },
        )?;
        Ok(bytes)
    }
}

impl OutboxRows for Tables<'_> {
    fn put_message(&mut self, node: &str, message: &Message) -> RowResult<()> {
        let (tenant, id, kind) = message.key();
        let value = encode(message);
        self.outbox
            .get_mut(self.txn)?
            .insert((node, tenant.as_str(), id.0, kind), value.as_slice())?;
        Ok(())
    }

    fn remove_message(
        &mut self,
        node: &str,
        tenant: &TenantId,
        id: InvocationId,
        kind: u8,
    ) -> RowResult<()> {
        self.outbox
            .get_mut(self.txn)?
            .remove((node, tenant.as_str(), id.0, kind))?;
        Ok(())
    }

    fn parent_node(&self, tenant: &TenantId, id: InvocationId) -> RowResult<Option<String>> {
        let table = self.parent_nodes.get(self.txn)?;
        Ok(table
            .get((tenant.as_str(), id.0))?
            .map(|v| v.value().to_string()))
    }

    fn set_parent_node(
        &mut self,
        tenant: &TenantId,
        id: InvocationId,
        node: Option<&str>,
    ) -> RowResult<()> {
        let table = self.parent_nodes.get_mut(self.txn)?;
        match node {
            Some(node) => table.insert((tenant.as_str(), id.0), node)?,
            None => table.remove((tenant.as_str(), id.0))?,
        };
        Ok(())
    }
}

impl AccessRows for Tables<'_> {
    fn tenant(&self, name: &TenantId) -> RowResult<Option<TenantRecord>> {
        let value = self.tenants.get(name.as_str())?;
        value
            .map(|v| decode_stored("tenant", v.value()))
            .transpose()
    }

    fn put_tenant(&mut self, tenant: &TenantRecord) -> RowResult<()> {
        self.tenants
            .insert(tenant.name.as_str(), encode(tenant).as_slice())?;
        Ok(())
    }

    fn key(&self, hash: &[u8; 32]) -> RowResult<Option<KeyRecord>> {
        let value = self.keys.get(hash.as_slice())?;
        value.map(|v| decode_stored("key", v.value())).transpose()
    }

    fn put_key(&mut self, key: &KeyRecord) -> RowResult<()> {
        self.keys
            .insert(key.hash.as_slice(), encode(key).as_slice())?;
        Ok(())
    }

    fn quotas(&mut self, tenant: &TenantId) -> RowResult<Quotas> {
        if let Some(quotas) = &self.seen(tenant).quotas {
            return Ok(quotas.clone());
        }
        let quotas = match self.quotas.get(tenant.as_str())? {
            Some(value) => decode_quotas(value.value())?,
            None => Quotas::default(),
        };
        self.seen(tenant).quotas = Some(quotas.clone());
        Ok(quotas)
    }

    fn put_quotas(&mut self, tenant: &TenantId, quotas: &Quotas) -> RowResult<()> {
        self.quotas
            .insert(tenant.as_str(), encode_quotas(quotas).as_slice())?;
        self.seen(tenant).quotas = Some(quotas.clone());
        Ok(())
    }

    fn stored_bytes(&mut self, tenant: &TenantId) -> RowResult<u64> {
        if let Some(bytes) = self.seen(tenant).stored {
            return Ok(bytes);
        }
        let bytes = self.usage.get(tenant.as_str())?.map_or(0, |v| v.value());
        self.seen(tenant).stored = Some(bytes);
        Ok(bytes)
    }

    fn set_stored_bytes(&mut self, tenant: &TenantId, bytes: u64) -> RowResult<()> {
        let seen = self.seen(tenant);
        seen.stored = Some(bytes);
        seen.dirty = true;
        Ok(())
    }

    fn put_egress(
        &mut self,
        tenant: &TenantId,
        deployment: Option<&str>,
        rules: Option<&EgressRules>,
    ) -> RowResult<()> {
        let key = (tenant.as_str(), deployment.unwrap_or_default());
        match rules {
            Some(rules) => self.egress.insert(key, encode(rules).as_slice())?,
            None => self.egress.remove(key)?,
        };
        Ok(())
    }
}

impl ScheduleRows for Tables<'_> {
    fn schedule(&self, tenant: &TenantId, name: &str) -> RowResult<Option<Schedule>> {
        match self.schedules.get((tenant.as_str(), name))? {
            Some(value) => Ok(Some(decode_stored("schedule", value.value())?)),
            None => Ok(None),
        }
    }

    fn put_schedule(&mut self, schedule: &Schedule) -> RowResult<()> {
        let key = (schedule.tenant.as_str(), schedule.name.as_str());
        self.schedules.insert(key, encode(schedule).as_slice())?;
        Ok(())
    }

    fn remove_schedule(&mut self, tenant: &TenantId, name: &str) -> RowResult<()> {
        self.schedules.remove((tenant.as_str(), name))?;
        Ok(())
    }
}

impl MoveRows for Tables<'_> {
    fn departure(&self, tenant: &TenantId, id: InvocationId) -> RowResult<Option<Departure>> {
        match self.departures.get((tenant.as_str(), id.0))? {
            Some(value) => Ok(Some(decode_stored("departure", value.value())?)),
            None => Ok(None),
        }
    }

    fn put_departure(
        &mut self,
        tenant: &TenantId,
        id: InvocationId,
        departure: &Departure,
    ) -> RowResult<()> {
        let key = (tenant.as_str(), id.0);
        self.departures.insert(key, encode(departure).as_slice())?;
        Ok(())
    }

    fn remove_departure(&mut self, tenant: &TenantId, id: InvocationId) -> RowResult<()> {
        self.departures.remove((tenant.as_str(), id.0))?;
        Ok(())
    }

    fn arrival(&self, move_id: u128) -> RowResult<Option<Arrival>> {
        match self.arrivals.get(move_id)? {
            Some(value) => Ok(Some(decode_stored("arrival", value.value())?)),
            None => Ok(None),
        }
    }

    fn put_arrival(&mut self, move_id: u128, arrival: &Arrival) -> RowResult<()> {
        self.arrivals.insert(move_id, encode(arrival).as_slice())?;
        Ok(())
    }
}
