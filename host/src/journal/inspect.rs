//! Test views of a whole store: every table as text, and a check that every index agrees
//! with the records it is derived from.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Debug;

use redb::{ReadTransaction, ReadableDatabase, ReadableTable, TableDefinition};

use super::codec::decode;
use super::records::{InvocationRecord, InvocationState};
use super::schema::{
    AWAITED, CHILDREN, COMPONENTS, COUNTS, DEPLOYMENTS, INVOCATIONS, JOURNAL, RETRIES, RUNNABLE,
    SIGNALS, TIMERS, WAITS,
};
use super::store::Store;
use super::waits::WaitState;

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
    let table = txn.open_table(table).expect("open a table");
    table
        .iter()
        .expect("iterate a table")
        .map(|row| {
            let (k, v) = row.expect("read a row");
            format!("{:?} = {:?}", k.value(), v.value())
        })
        .collect()
}

impl Store {
    /// Every table as text, the journal entries kept in memory merged into the journal.
    pub(crate) fn dump(&self) -> Dump {
        let recent = self.recent.all();
        let txn = self.db.begin_read().expect("a read transaction");
        let mut journal: BTreeMap<(u128, u32), Vec<u8>> = BTreeMap::new();
        let table = txn.open_table(JOURNAL).expect("journal");
        for row in table.iter().expect("iterate") {
            let (k, v) = row.expect("row");
            journal.insert(k.value(), v.value().to_vec());
        }
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
        let fail = |what: String| Err::<(), String>(what);
        let mut records: BTreeMap<(String, u128), InvocationRecord> = BTreeMap::new();
        for row in txn
            .open_table(INVOCATIONS)
            .map_err(|e| e.to_string())?
            .iter()
            .map_err(|e| e.to_string())?
        {
            let (k, v) = row.map_err(|e| e.to_string())?;
            let (tenant, id) = k.value();
            let record: InvocationRecord =
                decode("invocation", v.value()).map_err(|e| e.to_string())?;
            if record.tenant != tenant || record.id.0 != id {
                return fail(format!("record {id} is stored under another key"));
            }
            records.insert((tenant.to_string(), id), record);
        }
        let state =
            |tenant: &str, id: u128| records.get(&(tenant.to_string(), id)).map(|r| r.state);
        // runnable: exactly the pending and running records.
        let runnable: BTreeSet<(String, u128)> = txn
            .open_table(RUNNABLE)
            .map_err(|e| e.to_string())?
            .iter()
            .map_err(|e| e.to_string())?
            .map(|row| row.map(|(k, _)| (k.value().0.to_string(), k.value().1)))
            .collect::<Result<_, _>>()
            .map_err(|e| e.to_string())?;
        let expected: BTreeSet<(String, u128)> = records
            .iter()
            .filter(|(_, r)| matches!(r.state, InvocationState::Pending | InvocationState::Running))
            .map(|(k, _)| k.clone())
            .collect();
        if runnable != expected {
            return fail(format!(
                "runnable {runnable:?} but pending or running {expected:?}"
            ));
        }
        // counts: the tally of the records' states.
        let mut tally: BTreeMap<(String, &'static str), u64> = BTreeMap::new();
        for r in records.values() {
            *tally
                .entry((r.tenant.clone(), r.state.as_str()))
                .or_default() += 1;
        }
        for row in txn
            .open_table(COUNTS)
            .map_err(|e| e.to_string())?
            .iter()
            .map_err(|e| e.to_string())?
        {
            let (k, v) = row.map_err(|e| e.to_string())?;
            let (tenant, name) = k.value();
            let want = tally
                .remove(&(
                    tenant.to_string(),
                    InvocationState::parse(name).map_or("?", |s| s.as_str()),
                ))
                .unwrap_or(0);
            if v.value() != want {
                return fail(format!(
                    "count of {tenant} {name} is {} but {want} records",
                    v.value()
                ));
            }
        }
        if let Some((key, n)) = tally.into_iter().find(|(_, n)| *n > 0) {
            return fail(format!("no count row for {key:?} ({n} records)"));
        }
        // waits: exactly the suspended records; their timers have rows and no other rows exist.
        let mut waits: BTreeMap<(String, u128), WaitState> = BTreeMap::new();
        for row in txn
            .open_table(WAITS)
            .map_err(|e| e.to_string())?
            .iter()
            .map_err(|e| e.to_string())?
        {
            let (k, v) = row.map_err(|e| e.to_string())?;
            let wait: WaitState = decode("wait", v.value()).map_err(|e| e.to_string())?;
            if wait.satisfied() {
                return fail(format!("the wait of {} is satisfied but kept", k.value().1));
            }
            waits.insert((k.value().0.to_string(), k.value().1), wait);
        }
        for ((tenant, id), r) in &records {
            let suspended = r.state == InvocationState::Suspended;
            if suspended != waits.contains_key(&(tenant.clone(), *id)) {
                return fail(format!(
                    "{id} is {:?} but its wait row is {}",
                    r.state,
                    if suspended { "missing" } else { "there" }
                ));
            }
        }
        let mut timer_rows = BTreeSet::new();
        for row in txn
            .open_table(TIMERS)
            .map_err(|e| e.to_string())?
            .iter()
            .map_err(|e| e.to_string())?
        {
            let (k, v) = row.map_err(|e| e.to_string())?;
            let (due, id) = k.value();
            let tenant = v.value().to_string();
            match waits.get(&(tenant.clone(), id)) {
                Some(w) if w.timers.contains(&due) => {}
                _ => return fail(format!("timer row ({due}, {id}) without a wait for it")),
            }
            timer_rows.insert((tenant, id, due));
        }
        for ((tenant, id), w) in &waits {
            for due in &w.timers {
                if !timer_rows.contains(&(tenant.clone(), *id, *due)) {
                    return fail(format!("the wait of {id} has timer {due} without a row"));
                }
            }
        }
        // awaited: an unfinished child of that parent. The row counts only while the parent
        // waits at that step: a wait that ended early (another item woke it, or the parent
        // finished) leaves its rows until their children finish, and they are ignored then.
        for row in txn
            .open_table(AWAITED)
            .map_err(|e| e.to_string())?
            .iter()
            .map_err(|e| e.to_string())?
        {
            let (k, v) = row.map_err(|e| e.to_string())?;
            let (tenant, child) = k.value();
            let (parent, seq) = v.value();
            let child_ok = records
                .get(&(tenant.to_string(), child))
                .is_some_and(|c| !c.state.is_terminal() && c.parent.map(|p| p.0) == Some(parent));
            if !child_ok {
                return fail(format!("awaited row {child} → ({parent}, {seq}) disagrees"));
            }
        }
        // children: every row names a record whose parent it is.
        for row in txn
            .open_table(CHILDREN)
            .map_err(|e| e.to_string())?
            .iter()
            .map_err(|e| e.to_string())?
        {
            let (k, v) = row.map_err(|e| e.to_string())?;
            let (tenant, parent, child) = k.value();
            let ok = records
                .get(&(tenant.to_string(), child))
                .is_some_and(|c| c.parent.map(|p| p.0) == Some(parent) && c.detached == v.value());
            if !ok {
                return fail(format!("children row ({parent}, {child}) disagrees"));
            }
        }
        // signals and kept attempts: only for unfinished invocations.
        for row in txn
            .open_table(SIGNALS)
            .map_err(|e| e.to_string())?
            .iter()
            .map_err(|e| e.to_string())?
        {
            let (k, _) = row.map_err(|e| e.to_string())?;
            let (tenant, id, name, _) = k.value();
            if state(tenant, id).is_none_or(|s| s.is_terminal()) {
                return fail(format!(
                    "signal `{name}` kept for {id}, which is finished or missing"
                ));
            }
        }
        for row in txn
            .open_table(RETRIES)
            .map_err(|e| e.to_string())?
            .iter()
            .map_err(|e| e.to_string())?
        {
            let (k, _) = row.map_err(|e| e.to_string())?;
            let (id, seq) = k.value();
            if !records
                .values()
                .any(|r| r.id.0 == id && !r.state.is_terminal())
            {
                return fail(format!(
                    "retry row ({id}, {seq}) of a finished or missing invocation"
                ));
            }
        }
        // journal: each invocation's steps are numbered from 0 without a gap.
        let mut next: BTreeMap<u128, u32> = BTreeMap::new();
        let stored = txn.open_table(JOURNAL).map_err(|e| e.to_string())?;
        let mut keys: Vec<(u128, u32)> = stored
            .iter()
            .map_err(|e| e.to_string())?
            .map(|row| row.map(|(k, _)| k.value()))
            .collect::<Result<_, _>>()
            .map_err(|e| e.to_string())?;
        keys.extend(self.recent.all().into_keys());
        keys.sort_unstable();
        keys.dedup();
        for (id, seq) in keys {
            let expected = next.entry(id).or_default();
            if seq != *expected {
                return fail(format!(
                    "the journal of {id} has step {seq} where {expected} was due"
                ));
            }
            *expected += 1;
            if !records.values().any(|r| r.id.0 == id) {
                return fail(format!("a journal for {id}, which has no record"));
            }
        }
        Ok(())
    }
}
