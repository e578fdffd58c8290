//! The store: opening the redb file, reads, and durable writes through the writer.

use std::path::Path;
use std::sync::Arc;

use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};

use super::codec::{DecodeError, decode, encode};
use super::entry::StepEntry;
use super::records::{Deployment, InvocationRecord, InvocationState};
use super::schema::{COMPONENTS, DEPLOYMENTS, INVOCATIONS, JOURNAL, RUNNABLE, TIMERS};
use super::writer::{Op, WriteError, Writer};
use crate::ids::{ComponentHash, InvocationId};

/// Errors of store reads and writes.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The redb file could not be opened.
    #[error("cannot open database {path}: {message}")]
    Open { path: String, message: String },
    /// redb failed.
    #[error("storage failure: {0}")]
    Storage(String),
    /// A stored value does not decode.
    #[error(transparent)]
    Decode(#[from] DecodeError),
    /// A write was refused or lost.
    #[error(transparent)]
    Write(#[from] WriteError),
}

fn storage(e: impl std::fmt::Display) -> StoreError {
    StoreError::Storage(e.to_string())
}

/// The durable state of one node.
#[derive(Clone)]
pub struct Store {
    db: Arc<Database>,
    writer: Writer,
}

impl Store {
    /// Opens (or creates) the database at `path` and starts its writer.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let open_err = |message: String| StoreError::Open {
            path: path.display().to_string(),
            message,
        };
        let db = Database::builder()
            .create(path)
            .map_err(|e| open_err(e.to_string()))?;
        let txn = db.begin_write().map_err(|e| open_err(e.to_string()))?;
        {
            // Create every table up front so that readers never see a missing one.
            txn.open_table(COMPONENTS).map_err(storage)?;
            txn.open_table(DEPLOYMENTS).map_err(storage)?;
            txn.open_table(INVOCATIONS).map_err(storage)?;
            txn.open_table(RUNNABLE).map_err(storage)?;
            txn.open_table(JOURNAL).map_err(storage)?;
            txn.open_table(TIMERS).map_err(storage)?;
        }
        txn.commit().map_err(storage)?;
        let db = Arc::new(db);
        let writer = Writer::start(db.clone()).map_err(storage)?;
        Ok(Store { db, writer })
    }

    fn read<K: redb::Key + 'static, R>(
        &self,
        table: TableDefinition<K, &'static [u8]>,
        f: impl FnOnce(redb::ReadOnlyTable<K, &'static [u8]>) -> Result<R, StoreError>,
    ) -> Result<R, StoreError> {
        let txn = self.db.begin_read().map_err(storage)?;
        let table = txn.open_table(table).map_err(storage)?;
        f(table)
    }

    /// The deployment `name` of `tenant`.
    pub fn deployment(&self, tenant: &str, name: &str) -> Result<Option<Deployment>, StoreError> {
        self.read(DEPLOYMENTS, |t| {
            t.get((tenant, name))
                .map_err(storage)?
                .map(|v| decode("deployment", v.value()).map_err(StoreError::from))
                .transpose()
        })
    }

    /// Every deployment of `tenant`, by name.
    pub fn deployments(&self, tenant: &str) -> Result<Vec<Deployment>, StoreError> {
        self.read(DEPLOYMENTS, |t| {
            t.range((tenant, "")..)
                .map_err(storage)?
                .map_while(|row| match row {
                    Ok((k, v)) if k.value().0 == tenant => Some(Ok(v.value().to_vec())),
                    Ok(_) => None,
                    Err(e) => Some(Err(storage(e))),
                })
                .map(|bytes| Ok(decode("deployment", &bytes?)?))
                .collect()
        })
    }

    /// The bytes of the component with `hash`.
    pub fn component(&self, hash: &ComponentHash) -> Result<Option<Vec<u8>>, StoreError> {
        self.read(COMPONENTS, |t| {
            Ok(t.get(hash.0.as_slice())
                .map_err(storage)?
                .map(|v| v.value().to_vec()))
        })
    }

    /// The record of invocation `id` of `tenant`.
    pub fn invocation(
        &self,
        tenant: &str,
        id: InvocationId,
    ) -> Result<Option<InvocationRecord>, StoreError> {
        self.read(INVOCATIONS, |t| {
            t.get((tenant, id.0))
                .map_err(storage)?
                .map(|v| decode("invocation", v.value()).map_err(StoreError::from))
                .transpose()
        })
    }

    /// Invocations of `tenant`, newest first, optionally only those in `state`.
    pub fn invocations(
        &self,
        tenant: &str,
        state: Option<InvocationState>,
        limit: usize,
    ) -> Result<Vec<InvocationRecord>, StoreError> {
        self.read(INVOCATIONS, |t| {
            let mut out = Vec::new();
            for row in t
                .range((tenant, 0u128)..=(tenant, u128::MAX))
                .map_err(storage)?
                .rev()
            {
                let (_, v) = row.map_err(storage)?;
                let record: InvocationRecord = decode("invocation", v.value())?;
                if state.is_none_or(|s| s == record.state) {
                    out.push(record);
                    if out.len() >= limit {
                        break;
                    }
                }
            }
            Ok(out)
        })
    }

    /// Timers due at or before `now_ms`, earliest first: (due, tenant, id), at most `limit`.
    pub fn due_timers(
        &self,
        now_ms: u64,
        limit: usize,
    ) -> Result<Vec<(u64, String, InvocationId)>, StoreError> {
        let txn = self.db.begin_read().map_err(storage)?;
        let table = txn.open_table(TIMERS).map_err(storage)?;
        table
            .range((0u64, 0u128)..=(now_ms, u128::MAX))
            .map_err(storage)?
            .take(limit)
            .map(|row| {
                let (k, v) = row.map_err(storage)?;
                let (due, id) = k.value();
                Ok((due, v.value().to_string(), InvocationId(id)))
            })
            .collect()
    }

    /// When the earliest timer is due (ms since the Unix epoch).
    pub fn next_timer(&self) -> Result<Option<u64>, StoreError> {
        let txn = self.db.begin_read().map_err(storage)?;
        let table = txn.open_table(TIMERS).map_err(storage)?;
        Ok(table.first().map_err(storage)?.map(|(k, _)| k.value().0))
    }

    /// (tenant, id) of every pending or running invocation.
    pub fn runnable_invocations(&self) -> Result<Vec<(String, InvocationId)>, StoreError> {
        let txn = self.db.begin_read().map_err(storage)?;
        let table = txn.open_table(RUNNABLE).map_err(storage)?;
        table
            .iter()
            .map_err(storage)?
            .map(|row| {
                let (k, _) = row.map_err(storage)?;
                let (tenant, id) = k.value();
                Ok((tenant.to_string(), InvocationId(id)))
            })
            .collect()
    }

    /// The journal of invocation `id`: (sequence number, entry) in order.
    pub fn steps(&self, id: InvocationId) -> Result<Vec<(u32, StepEntry)>, StoreError> {
        let txn = self.db.begin_read().map_err(storage)?;
        let table = txn.open_table(JOURNAL).map_err(storage)?;
        table
            .range((id.0, 0u32)..=(id.0, u32::MAX))
            .map_err(storage)?
            .map(|row| {
                let (k, v) = row.map_err(storage)?;
                Ok((k.value().1, decode("journal entry", v.value())?))
            })
            .collect()
    }

    /// Durably appends `entry` as step `seq` of `id`; refused if that step exists.
    pub async fn append_step(
        &self,
        id: InvocationId,
        seq: u32,
        entry: &StepEntry,
    ) -> Result<(), StoreError> {
        let op = Op::AppendStep {
            invocation: id.0,
            seq,
            entry: encode(entry),
        };
        Ok(self.writer.submit(op).await?)
    }

    /// Durably creates a new invocation record.
    pub async fn create_invocation(&self, record: &InvocationRecord) -> Result<(), StoreError> {
        self.put(record, true).await
    }

    /// Durably replaces an unfinished invocation record (and its runnable/timer index rows).
    pub async fn update_invocation(&self, record: &InvocationRecord) -> Result<(), StoreError> {
        self.put(record, false).await
    }

    async fn put(&self, record: &InvocationRecord, create: bool) -> Result<(), StoreError> {
        let op = Op::PutInvocation {
            record: Box::new(record.clone()),
            create,
        };
        Ok(self.writer.submit(op).await?)
    }

    /// Durably removes the timer row (`due_ms`, `id`).
    pub async fn remove_timer(&self, due_ms: u64, id: InvocationId) -> Result<(), StoreError> {
        let op = Op::RemoveTimer {
            due_ms,
            invocation: id.0,
        };
        Ok(self.writer.submit(op).await?)
    }

    /// Durably stores `component` and points `deployment` at it; returns the stored deployment.
    pub async fn deploy(
        &self,
        deployment: Deployment,
        component: Vec<u8>,
    ) -> Result<Deployment, StoreError> {
        let (tenant, name) = (deployment.tenant.clone(), deployment.name.clone());
        self.writer
            .submit(Op::Deploy {
                deployment,
                component,
            })
            .await?;
        self.deployment(&tenant, &name)?
            .ok_or_else(|| StoreError::Storage(format!("deployment `{name}` vanished")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::journal::{Outcome, StepKind};

    fn record(state: InvocationState) -> InvocationRecord {
        InvocationRecord {
            tenant: "t".into(),
            id: InvocationId::generate(),
            deployment: "d".into(),
            function: "f".into(),
            component: ComponentHash([7; 32]),
            input: b"{}".to_vec(),
            state,
            attempts: 0,
            created_at_ms: 1,
            updated_at_ms: 1,
            finished_at_ms: None,
            output: None,
            failure: None,
            waiting: None,
        }
    }

    fn entry(n: u64) -> StepEntry {
        StepEntry {
            kind: StepKind::Random,
            digest: [1; 16],
            summary: "u64".into(),
            attempts: 1,
            recorded_at_ms: 5,
            outcome: Outcome::U64(n),
        }
    }

    #[tokio::test]
    async fn journal_entries_are_never_overwritten() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open(&dir.path().join("db")).expect("open");
        let id = InvocationId::generate();
        store.append_step(id, 0, &entry(1)).await.expect("append");
        let again = store.append_step(id, 0, &entry(2)).await;
        assert!(matches!(
            again,
            Err(StoreError::Write(WriteError::StepTaken { seq: 0, .. }))
        ));
        store.append_step(id, 1, &entry(3)).await.expect("append");
        let steps = store.steps(id).expect("steps");
        assert_eq!(steps, vec![(0, entry(1)), (1, entry(3))]);
    }

    #[tokio::test]
    async fn finished_invocations_do_not_change_and_leave_the_runnable_set() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open(&dir.path().join("db")).expect("open");
        let mut rec = record(InvocationState::Pending);
        store.create_invocation(&rec).await.expect("create");
        assert!(store.create_invocation(&rec).await.is_err());
        assert_eq!(store.runnable_invocations().expect("active").len(), 1);
        rec.state = InvocationState::Completed;
        store.update_invocation(&rec).await.expect("complete");
        assert!(store.runnable_invocations().expect("active").is_empty());
        rec.state = InvocationState::Running;
        assert!(matches!(
            store.update_invocation(&rec).await,
            Err(StoreError::Write(WriteError::InvocationFinished(_)))
        ));
        let stored = store
            .invocation("t", rec.id)
            .expect("read")
            .expect("exists");
        assert_eq!(stored.state, InvocationState::Completed);
        // Another tenant does not see it.
        assert!(store.invocation("u", rec.id).expect("read").is_none());
    }

    #[tokio::test]
    async fn the_database_reopens_with_its_contents_once_the_store_is_dropped() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("db");
        let rec = record(InvocationState::Running);
        {
            let store = Store::open(&path).expect("open");
            store.create_invocation(&rec).await.expect("create");
        }
        let store = Store::open(&path).expect("reopen");
        assert_eq!(store.invocation("t", rec.id).expect("read"), Some(rec));
    }
}
