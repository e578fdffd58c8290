//! Test views of a whole store: every table as text, and a check that every index agrees
//! with the records it is derived from.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Debug;

use redb::{ReadTransaction, ReadableDatabase, ReadableTable, TableDefinition};

use super::schema::{ARRIVALS, BY_STATE, DEPARTURES, OUTBOX, OUTPUT, PARENT_NODES, VERSIONS};
use super::schema::{
    AWAITED, CHILDREN, COMPONENTS, COUNTS, DEPLOYMENTS, HISTORY, INVOCATIONS, JOURNAL, RETRIES,
    RUNNABLE, SIGNALS, TIMERS, WAITS,
};
use super::schema::{
    EGRESS, FINISHED, KEYED, KEYS, KEYS_BY_AGE, PAUSED, QUOTAS, SCHEDULES, TENANTS, USAGE,
};
use super::store::Store;
use crate::journal::WaitState;
use crate::journal::codec::decode;
use crate::journal::{InvocationRecord, InvocationState};

/// Every table's rows as text, by table name (the log position in `meta` left out: it is
/// the log's bookkeeping, not state).
pub(crate) type Dump = BTreeMap<&'static str, Vec<String>>;

fn rows<K, V>(txn: &ReadTransaction, table: TableDefinition<K, V>) -> Vec<String>
where
    K: redb::Key + 'static,
    V: redb::Value + 'static,
    for<'a> K::SelfType<'a>: Debug,
    for<'a> V::SelfType<'a>: Debug,
{
    let mut out = Vec::new();
    each(txn, table, |k, v| {
        out.push(format!("{k:?} = {v:?}"));
        Ok(())
    })
    .expect("read a table");
    out
}

impl Store {
    /// Every table as text, the journal entries kept in memory merged into the journal.
    pub(crate) fn dump(&self) -> Dump {
        let recent = self.recent.all();
        let txn = self.db.begin_read().expect("a read transaction");
        let mut journal: BTreeMap<(u128, u32), Vec<u8>> = BTreeMap::new();
        each(&txn, JOURNAL, |key, entry| {
            journal.insert(key, entry.to_vec());
            Ok(())
        })
        .expect("read the journal");
        journal.extend(recent);
        let mut dump = Dump::new();
        dump.insert("components", rows(&txn, COMPONENTS));
        dump.insert("deployments", rows(&txn, DEPLOYMENTS));
        dump.insert("invocations", rows(&txn, INVOCATIONS));
        dump.insert("runnable", rows(&txn, RUNNABLE));
        dump.insert("timers", rows(&txn, TIMERS));
        dump.insert("waits", rows(&txn, WAITS));
        dump.insert("awaited", rows(&txn, AWAITED));
        dump.insert("children", rows(&txn, CHILDREN));
        dump.insert("signals", rows(&txn, SIGNALS));
        dump.insert("counts", rows(&txn, COUNTS));
        dump.insert("retries", rows(&txn, RETRIES));
        dump.insert("history", rows(&txn, HISTORY));
        dump.insert("tenants", rows(&txn, TENANTS));
        dump.insert("keys", rows(&txn, KEYS));
        dump.insert("quotas", rows(&txn, QUOTAS));
        dump.insert("egress", rows(&txn, EGRESS));
        dump.insert("usage", rows(&txn, USAGE));
        dump.insert("idempotency", rows(&txn, KEYED));
        dump.insert("paused", rows(&txn, PAUSED));
        dump.insert("departures", rows(&txn, DEPARTURES));
        dump.insert("arrivals", rows(&txn, ARRIVALS));
        dump.insert("versions", rows(&txn, VERSIONS));
        dump.insert("outbox", rows(&txn, OUTBOX));
        dump.insert("parent_nodes", rows(&txn, PARENT_NODES));
        dump.insert("output", rows(&txn, OUTPUT));
        dump.insert("invocations_by_state", rows(&txn, BY_STATE));
        dump.insert("finished", rows(&txn, FINISHED));
        dump.insert("schedules", rows(&txn, SCHEDULES));
        dump.insert("idempotency_by_age", rows(&txn, KEYS_BY_AGE));
        dump.insert(
            "journal",
            journal
                .iter()
                .map(|(k, v)| format!("{k:?} = {:?}", v.as_slice()))
                .collect(),
        );
        dump
    }

    /// Checks that every index row agrees with the records; returns what does not.
    pub(crate) fn check_indexes(&self) -> Result<(), String> {
        let txn = self.db.begin_read().map_err(|e| e.to_string())?;
        let mut records: BTreeMap<(String, u128), InvocationRecord> = BTreeMap::new();
        each(&txn, INVOCATIONS, |(tenant, id), value| {
            let record: InvocationRecord =
                decode("invocation", value).map_err(|e| e.to_string())?;
            if record.tenant.as_str() != tenant || record.id.0 != id {
                return Err(format!("record {id} is stored under another key"));
            }
            records.insert((tenant.to_string(), id), record);
            Ok(())
        })?;
        let record = |tenant: &str, id: u128| records.get(&(tenant.to_string(), id));
        // runnable: exactly the pending and running records.
        let mut runnable = BTreeSet::new();
        each(&txn, RUNNABLE, |(tenant, id), ()| {
            runnable.insert((tenant.to_string(), id));
            Ok(())
        })?;
        let expected: BTreeSet<(String, u128)> = records
            .iter()
            .filter(|(_, r)| matches!(r.state, InvocationState::Pending | InvocationState::Running))
            .map(|(k, _)| k.clone())
            .collect();
        if runnable != expected {
            return Err(format!(
                "runnable {runnable:?} but pending or running {expected:?}"
            ));
        }
        // invocations_by_state: exactly each record under its state's group.
        let mut listed = BTreeSet::new();
        each(&txn, BY_STATE, |(tenant, group, id), ()| {
            listed.insert((tenant.to_string(), group, id));
            Ok(())
        })?;
        let expected: BTreeSet<(String, u8, u128)> = records
            .values()
            .map(|r| (r.tenant.to_string(), r.state.listed_group(), r.id.0))
            .collect();
        if listed != expected {
            return Err(format!(
                "invocations_by_state {listed:?} but the records say {expected:?}"
            ));
        }
        // counts: the tally of the records' states (a row may say 0).
        let mut tally: BTreeMap<(String, String), u64> = BTreeMap::new();
        for r in records.values() {
            *tally
                .entry((r.tenant.to_string(), r.state.as_str().to_string()))
                .or_default() += 1;
        }
        each(&txn, COUNTS, |(tenant, state), n| {
            let want = tally
                .remove(&(tenant.to_string(), state.to_string()))
                .unwrap_or(0);
            match n == want {
                true => Ok(()),
                false => Err(format!(
                    "count of {tenant} {state} is {n} but {want} records"
                )),
            }
        })?;
        if let Some((key, n)) = tally.into_iter().find(|(_, n)| *n > 0) {
            return Err(format!("no count row for {key:?} ({n} records)"));
        }
        // waits: exactly the suspended records, none satisfied; a timers row for each of their
        // timers and no other.
        let mut waits: BTreeMap<(String, u128), WaitState> = BTreeMap::new();
        each(&txn, WAITS, |(tenant, id), value| {
            let wait: WaitState = decode("wait", value).map_err(|e| e.to_string())?;
            if wait.satisfied() {
                return Err(format!("the wait of {id} is satisfied but kept"));
            }
            waits.insert((tenant.to_string(), id), wait);
            Ok(())
        })?;
        for ((tenant, id), r) in &records {
            // A paused invocation keeps the wait it had, until that wait is over.
            let has_wait = waits.contains_key(&(tenant.clone(), *id));
            let paused = r.state == InvocationState::Paused;
            if !paused && r.state.is_waiting() != has_wait {
                return Err(format!(
                    "{id} is {:?} but its wait row is not as it",
                    r.state
                ));
            }
        }
        // departures: exactly the moved records; a leaving one keeps its wait in it, a left one
        // has no journal left.
        let mut departed = BTreeSet::new();
        let mut leaving = BTreeSet::new();
        each(&txn, DEPARTURES, |(tenant, id), value| {
            let departure: crate::journal::Departure =
                decode("departure", value).map_err(|e| e.to_string())?;
            if departure.phase == crate::journal::Phase::Left && departure.wait.is_some() {
                return Err(format!("{id} left but its departure keeps a wait"));
            }
            if departure.phase == crate::journal::Phase::Leaving {
                leaving.insert((tenant.to_string(), id));
            }
            departed.insert((tenant.to_string(), id));
            Ok(())
        })?;
        for (key, r) in &records {
            if (r.state == InvocationState::Moved) != departed.contains(key) {
                return Err(format!(
                    "{} is {:?} but its departure row is not as it",
                    key.1, r.state
                ));
            }
        }
        let mut aged = BTreeSet::new();
        each(&txn, KEYS_BY_AGE, |(tenant, at, scope, key), ()| {
            aged.insert((tenant.to_string(), at, scope.to_string(), key.to_string()));
            Ok(())
        })?;
        let mut keys = BTreeSet::new();
        each(&txn, KEYED, |(tenant, scope, key), value| {
            let row: crate::journal::KeyedRequest =
                decode("idempotency key", value).map_err(|e| e.to_string())?;
            keys.insert((
                tenant.to_string(),
                row.created_at_ms,
                scope.to_string(),
                key.to_string(),
            ));
            Ok(())
        })?;
        if aged != keys {
            return Err(format!(
                "the idempotency keys by age are not the key rows: {:?}",
                aged.symmetric_difference(&keys).take(3).collect::<Vec<_>>()
            ));
        }
        let mut finished_rows = BTreeSet::new();
        each(&txn, FINISHED, |(tenant, at, id), ()| {
            finished_rows.insert((tenant.to_string(), at, id));
            Ok(())
        })?;
        let finished: BTreeSet<(String, u64, u128)> = records
            .iter()
            .filter(|(_, r)| r.state.is_terminal())
            .filter_map(|((tenant, id), r)| Some((tenant.clone(), r.finished_at_ms?, *id)))
            .collect();
        if finished != finished_rows {
            return Err(format!(
                "the finished index is not the finished records: {:?} against {:?}",
                finished_rows
                    .symmetric_difference(&finished)
                    .take(3)
                    .collect::<Vec<_>>(),
                finished.len()
            ));
        }
        let mut timer_rows = BTreeSet::new();
        each(&txn, TIMERS, |(due, id), tenant| {
            match waits.get(&(tenant.to_string(), id)) {
                Some(w) if w.timers.contains(&due) => {}
                _ => return Err(format!("timer row ({due}, {id}) without a wait for it")),
            }
            timer_rows.insert((tenant.to_string(), id, due));
            Ok(())
        })?;
        for ((tenant, id), w) in &waits {
            if let Some(due) = w
                .timers
                .iter()
                .find(|due| !timer_rows.contains(&(tenant.clone(), *id, **due)))
            {
                return Err(format!("the wait of {id} has timer {due} without a row"));
            }
        }
        // awaited: an unfinished child of that parent (or a finished one, while the parent is
        // leaving: the move's decision counts it). The row counts only while the parent
        // waits at that step: a wait that ended early (another item woke it, or the parent
        // finished) leaves its rows until their children finish, and they are ignored then.
        each(
            &txn,
            AWAITED,
            |(tenant, child), (parent, seq)| match record(tenant, child) {
                Some(c)
                    if (!c.state.is_terminal()
                        || leaving.contains(&(tenant.to_string(), parent)))
                        && c.parent.map(|p| p.0) == Some(parent) =>
                {
                    Ok(())
                }
                _ => Err(format!(
                    "awaited row {child} -> ({parent}, {seq}) disagrees"
                )),
            },
        )?;
        // children: every row names a record whose parent it is.
        each(
            &txn,
            CHILDREN,
            |(tenant, parent, child), detached| match record(tenant, child) {
                Some(c) if c.parent.map(|p| p.0) == Some(parent) && c.detached == detached => {
                    Ok(())
                }
                _ => Err(format!("children row ({parent}, {child}) disagrees")),
            },
        )?;
        // signals and kept attempts: only for unfinished invocations.
        each(&txn, SIGNALS, |(tenant, id, name, _), _| {
            match record(tenant, id) {
                Some(r) if !r.state.is_terminal() => Ok(()),
                _ => Err(format!(
                    "signal `{name}` kept for {id}, which is finished or missing"
                )),
            }
        })?;
        each(&txn, RETRIES, |(id, seq), _| {
            match records
                .values()
                .any(|r| r.id.0 == id && !r.state.is_terminal())
            {
                true => Ok(()),
                false => Err(format!(
                    "retry row ({id}, {seq}) of a finished or missing invocation"
                )),
            }
        })?;
        // history: only of invocations that are kept, numbered from 0 without a gap.
        let mut events: BTreeMap<u128, u32> = BTreeMap::new();
        each(&txn, HISTORY, |(id, n), _| {
            let expected = events.entry(id).or_default();
            if n != *expected {
                return Err(format!(
                    "history event {n} of {id} where {expected} was due"
                ));
            }
            *expected += 1;
            match records.values().any(|r| r.id.0 == id) {
                true => Ok(()),
                false => Err(format!("a history for {id}, which has no record")),
            }
        })?;
        // journal: each invocation's steps are numbered from 0 without a gap.
        let mut keys: BTreeSet<(u128, u32)> = self.recent.all().into_keys().collect();
        each(&txn, JOURNAL, |key, _| {
            keys.insert(key);
            Ok(())
        })?;
        let mut next: BTreeMap<u128, u32> = BTreeMap::new();
        for (id, seq) in keys {
            let expected = next.entry(id).or_default();
            if seq != *expected {
                return Err(format!(
                    "the journal of {id} has step {seq} where {expected} was due"
                ));
            }
            *expected += 1;
            if !records.values().any(|r| r.id.0 == id) {
                return Err(format!("a journal for {id}, which has no record"));
            }
        }
        // output: only of invocations that are kept.
        each(&txn, OUTPUT, |(id, position, n), _| {
            match records.values().any(|r| r.id.0 == id) {
                true => Ok(()),
                false => Err(format!(
                    "output line {position}.{n} of {id}, which has no record"
                )),
            }
        })?;
        Ok(())
    }
}

/// Passes each row of `table` to `row`, stopping at the first complaint.
fn each<K, V>(
    txn: &ReadTransaction,
    table: TableDefinition<K, V>,
    mut row: impl for<'a> FnMut(K::SelfType<'a>, V::SelfType<'a>) -> Result<(), String>,
) -> Result<(), String>
where
    K: redb::Key + 'static,
    V: redb::Value + 'static,
{
    let table = txn.open_table(table).map_err(|e| e.to_string())?;
    for entry in table.iter().map_err(|e| e.to_string())? {
        let (k, v) = entry.map_err(|e| e.to_string())?;
        row(k.value(), v.value())?;
    }
    Ok(())
}
