//! The redb store: opening the file and its log, reads, and durable writes through the
//! writer; every storage trait is implemented here.

use std::ops::RangeInclusive;
use std::path::Path;
use std::sync::Arc;

use async_trait::async_trait;
use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};

use super::disk::Disk;
use super::options::StoreOptions;
use super::recent::Recent;
use super::schema::{ARRIVALS, BY_STATE, DEPARTURES, OUTBOX, OUTPUT, PARENT_NODES, VERSIONS};
use super::schema::{
    AWAITED, CHILDREN, COMPONENTS, COUNTS, DEPLOYMENTS, HISTORY, INVOCATIONS, JOURNAL, META,
    RETRIES, RUNNABLE, SIGNALS, TIMERS, WAITS,
};
use super::schema::{
    EGRESS, FINISHED, KEYED, KEYS, KEYS_BY_AGE, PAUSED, QUOTAS, SCHEDULES, TENANTS, USAGE,
};
use super::writer::Writer;
use crate::ids::{ComponentHash, InvocationId, TenantId};
use crate::journal::Recorded;
use crate::journal::Schedule;
use crate::journal::StepEntry;
use crate::journal::codec::{decode, encode};
use crate::journal::{AwaitMode, Awaitable, WaitState};
use crate::journal::{Deployment, InvocationRecord, InvocationState};
use crate::journal::{
    Effects, IdempotencyKey, KEY_RETENTION_MS, KeyName, KeyedRequest, Op, RetryState, StepEffect,
};
use crate::journal::{EgressRules, KeyRecord, Quotas, TenantRecord, decode_quotas};
use crate::journal::{HistoryEvent, RewindPlan, StoredStep, decode_deployment};
use crate::journal::{StorageFailure, StoreError};
use crate::journal::{UpgradePlan, VersionUse, version_uses};
use crate::storage::Page;
use crate::storage::{
    Access, Deployments, Invocations, Journals, Schedules, Signals, Storage, Waits,
};

pub(super) fn storage(e: impl Into<StorageFailure>) -> StoreError {
    StoreError::Storage(e.into())
}

/// The durable state of one node.
#[derive(Clone)]
pub struct Store {
    pub(super) db: Arc<Database>,
    /// Journal entries durable in the write-ahead log but not yet in redb.
    pub(super) recent: Arc<Recent>,
    pub(super) writer: Writer,
}

impl Store {
    /// Opens (or creates) the database at `path` with the default options, and starts its
    /// writer.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        Self::open_with(path, &StoreOptions::default())
    }

    /// Opens (or creates) the database at `path` (and its log, `path` with the extension
    /// `wal`), replays what a crash left in the log, and starts the writer.
    pub fn open_with(path: &Path, options: &StoreOptions) -> Result<Self, StoreError> {
        Self::open_on(&Disk::Files(path.to_path_buf()), options)
    }

    /// Opens (or creates) the database and its log on `disk`, replays what a crash left in
    /// the log, and starts the writer.
    pub(crate) fn open_on(disk: &Disk, options: &StoreOptions) -> Result<Self, StoreError> {
        let open_err = |source: StoreError| StoreError::Open {
            path: disk.describe(),
            source: Box::new(source),
        };
        let mut builder = Database::builder();
        builder.set_cache_size(options.cache_bytes);
        let db = disk.database(&builder).map_err(|e| open_err(e.into()))?;
        let txn = db.begin_write().map_err(|e| open_err(storage(e)))?;
        {
            // Create every table up front so that readers never see a missing one.
            txn.open_table(COMPONENTS).map_err(storage)?;
            txn.open_table(DEPLOYMENTS).map_err(storage)?;
            txn.open_table(INVOCATIONS).map_err(storage)?;
            txn.open_table(RUNNABLE).map_err(storage)?;
            txn.open_table(JOURNAL).map_err(storage)?;
            txn.open_table(HISTORY).map_err(storage)?;
            txn.open_table(TIMERS).map_err(storage)?;
            txn.open_table(WAITS).map_err(storage)?;
            txn.open_table(AWAITED).map_err(storage)?;
            txn.open_table(CHILDREN).map_err(storage)?;
            txn.open_table(SIGNALS).map_err(storage)?;
            txn.open_table(COUNTS).map_err(storage)?;
            txn.open_table(RETRIES).map_err(storage)?;
            txn.open_table(META).map_err(storage)?;
            txn.open_table(TENANTS).map_err(storage)?;
            txn.open_table(KEYS).map_err(storage)?;
            txn.open_table(QUOTAS).map_err(storage)?;
            txn.open_table(EGRESS).map_err(storage)?;
            txn.open_table(USAGE).map_err(storage)?;
            txn.open_table(KEYED).map_err(storage)?;
            txn.open_table(KEYS_BY_AGE).map_err(storage)?;
            txn.open_table(PAUSED).map_err(storage)?;
            txn.open_table(DEPARTURES).map_err(storage)?;
            txn.open_table(ARRIVALS).map_err(storage)?;
            txn.open_table(VERSIONS).map_err(storage)?;
            txn.open_table(OUTBOX).map_err(storage)?;
            txn.open_table(PARENT_NODES).map_err(storage)?;
            txn.open_table(OUTPUT).map_err(storage)?;
            txn.open_table(BY_STATE).map_err(storage)?;
            txn.open_table(FINISHED).map_err(storage)?;
            txn.open_table(SCHEDULES).map_err(storage)?;
            index_finished(&txn).map_err(|e| open_err(storage(e)))?;
            index_by_state(&txn).map_err(|e| open_err(storage(e)))?;
            count_usage(&txn).map_err(|e| open_err(storage(e)))?;
            index_keys_by_age(&txn).map_err(|e| open_err(storage(e)))?;
        }
        txn.commit().map_err(storage)?;
        let db = Arc::new(db);
        let recent = Arc::new(Recent::default());
        // A log is replayed even when it will not be used: a crash may have left writes there.
        let log = disk.log(options.log).map_err(|e| open_err(storage(e)))?;
        let writer = Writer::start(db.clone(), log, options, recent.clone())
            .map_err(|e| open_err(e.into()))?;
        Ok(Store { db, recent, writer })
    }

    /// Whether invocation `id` of `tenant` has a parent that has not finished.
    fn parent_unfinished(
        &self,
        invocations: &redb::ReadOnlyTable<(&'static str, u128), &'static [u8]>,
        tenant: &str,
        id: u128,
    ) -> Result<bool, StoreError> {
        let record: Option<InvocationRecord> = decoded(invocations, (tenant, id), "invocation")?;
        let Some(parent) = record.and_then(|r| r.parent) else {
            return Ok(false);
        };
        let parent: Option<InvocationRecord> =
            decoded(invocations, (tenant, parent.0), "invocation")?;
        Ok(parent.is_some_and(|p| !p.state.is_terminal()))
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

    /// The value under `key` in `table`, decoded as a `what`.
    fn get<'k, K: redb::Key + 'static, T: serde::de::DeserializeOwned>(
        &self,
        table: TableDefinition<K, &'static [u8]>,
        key: impl std::borrow::Borrow<K::SelfType<'k>>,
        what: &'static str,
    ) -> Result<Option<T>, StoreError> {
        self.read(table, |t| decoded(&t, key, what))
    }
}

/// How many invocations of `tenant` are in each state, as `txn` sees them.
fn tenant_counts(
    txn: &redb::ReadTransaction,
    tenant: &TenantId,
) -> Result<Vec<(InvocationState, u64)>, StoreError> {
    let counts = txn.open_table(COUNTS).map_err(storage)?;
    let mut out = Vec::new();
    for row in counts.range((tenant.as_str(), "")..).map_err(storage)? {
        let (key, value) = row.map_err(storage)?;
        let (owner, state) = key.value();
        if owner != tenant.as_str() {
            break;
        }
        if let Some(state) = InvocationState::parse(state)
            && value.value() > 0
        {
            out.push((state, value.value()));
        }
    }
    Ok(out)
}

/// The key in `meta` that says the `finished` index is complete.
const FINISHED_INDEXED: &str = "finished indexed";

/// Adds every finished invocation to the `finished` index (see [`index_records`]).
fn index_finished(txn: &redb::WriteTransaction) -> Result<(), StorageFailure> {
    let mut finished = txn.open_table(FINISHED)?;
    index_records(txn, FINISHED_INDEXED, |tenant, id, record| {
        if let Some(at) = record.finished_at_ms.filter(|_| record.state.is_terminal()) {
            finished.insert((tenant, at, id), ())?;
        }
        Ok(())
    })
}

/// The key in `meta` that says the `invocations_by_state` index is complete.
const BY_STATE_INDEXED: &str = "invocations indexed by state";

/// Adds every invocation to the `invocations_by_state` index (see [`index_records`]).
fn index_by_state(txn: &redb::WriteTransaction) -> Result<(), StorageFailure> {
    let mut by_state = txn.open_table(BY_STATE)?;
    index_records(txn, BY_STATE_INDEXED, |tenant, id, record| {
        by_state.insert((tenant, record.state.listed_group(), id), ())?;
        Ok(())
    })
}

/// Passes every invocation record to `index` (tenant, id, record), once: a database written
/// before an index existed gets it at its first open by this version, and `mark` in `meta`
/// says it has.
fn index_records(
    txn: &redb::WriteTransaction,
    mark: &str,
    mut index: impl FnMut(&str, u128, &InvocationRecord) -> Result<(), StorageFailure>,
) -> Result<(), StorageFailure> {
    let mut meta = txn.open_table(META)?;
    if meta.get(mark)?.is_some() {
        return Ok(());
    }
    for row in txn.open_table(INVOCATIONS)?.iter()? {
        let (key, value) = row?;
        let (tenant, id) = key.value();
        // A record that does not decode is left to the readers that report it.
        if let Ok(record) = decode::<InvocationRecord>("invocation", value.value()) {
            index(tenant, id, &record)?;
        }
    }
    meta.insert(mark, 1)?;
    Ok(())
}

/// The key in `meta` that says the key rows are indexed by age.
const KEYS_INDEXED: &str = "keys indexed by age";

/// Indexes every idempotency key row by its age, once (a database written before the index).
fn index_keys_by_age(txn: &redb::WriteTransaction) -> Result<(), StorageFailure> {
    let mut meta = txn.open_table(META)?;
    if meta.get(KEYS_INDEXED)?.is_some() {
        return Ok(());
    }
    let keyed = txn.open_table(KEYED)?;
    let mut by_age = txn.open_table(KEYS_BY_AGE)?;
    for row in keyed.iter()? {
        let (key, value) = row?;
        let (tenant, scope, name) = key.value();
        if let Ok(row) = decode::<KeyedRequest>("idempotency key", value.value()) {
            by_age.insert((tenant, row.created_at_ms, scope, name), ())?;
        }
    }
    meta.insert(KEYS_INDEXED, 1)?;
    Ok(())
}

/// The key in `meta` that says the `usage` rows count everything stored.
const USAGE_COUNTED: &str = "usage counted";

/// Counts what each tenant stores (deployed components, inputs, outputs, journal entries,
/// kept signals) into `usage`, once: a database written before usage was counted gets its
/// rows at its first open by this version; later, every op keeps them.
fn count_usage(txn: &redb::WriteTransaction) -> Result<(), StorageFailure> {
    let mut meta = txn.open_table(META)?;
    if meta.get(USAGE_COUNTED)?.is_some() {
        return Ok(());
    }
    let mut usage: std::collections::BTreeMap<String, u64> = Default::default();
    let mut owner: std::collections::HashMap<u128, String> = Default::default();
    for row in txn.open_table(INVOCATIONS)?.iter()? {
        let (key, value) = row?;
        let (tenant, id) = key.value();
        let Ok(record) = decode::<InvocationRecord>("invocation", value.value()) else {
            continue;
        };
        let bytes = record.own_bytes();
        *usage.entry(tenant.to_string()).or_default() += bytes as u64;
        owner.insert(id, tenant.to_string());
    }
    for row in txn.open_table(JOURNAL)?.iter()? {
        let (key, value) = row?;
        if let Some(tenant) = owner.get(&key.value().0) {
            *usage.entry(tenant.clone()).or_default() += value.value().len() as u64;
        }
    }
    for row in txn.open_table(HISTORY)?.iter()? {
        let (key, value) = row?;
        if let Some(tenant) = owner.get(&key.value().0)
            && let Ok(event) = decode::<HistoryEvent>("history event", value.value())
        {
            *usage.entry(tenant.clone()).or_default() += event.stored_bytes();
        }
    }
    for row in txn.open_table(SIGNALS)?.iter()? {
        let (key, value) = row?;
        *usage.entry(key.value().0.to_string()).or_default() += value.value().len() as u64;
    }
    for row in txn.open_table(DEPLOYMENTS)?.iter()? {
        let (key, value) = row?;
        if let Ok(deployment) = decode_deployment(value.value()) {
            *usage.entry(key.value().0.to_string()).or_default() += deployment.size;
        }
    }
    let mut table = txn.open_table(USAGE)?;
    for (tenant, bytes) in usage {
        table.insert(tenant.as_str(), bytes)?;
    }
    meta.insert(USAGE_COUNTED, 1)?;
    Ok(())
}

/// The records of `rows` (newest first; `None` for an index row whose record is gone) that
/// `keep` accepts, at most `page.limit`, looking at most at `page.budget`; and, when the
/// budget ran out first, the last id looked at, where the next page goes on.
fn page_of(
    rows: impl Iterator<Item = Result<(InvocationId, Option<InvocationRecord>), StoreError>>,
    keep: &(dyn Fn(&InvocationRecord) -> bool + Sync),
    page: Page,
) -> Result<(Vec<InvocationRecord>, Option<InvocationId>), StoreError> {
    let mut out = Vec::new();
    let mut last = None;
    for (looked, row) in rows.enumerate() {
        if looked == page.budget {
            return Ok((out, last));
        }
        let (id, record) = row?;
        last = Some(id);
        if let Some(record) = record.filter(|r| keep(r)) {
            out.push(record);
            if out.len() >= page.limit {
                break;
            }
        }
    }
    Ok((out, None))
}

/// Every value of `table`, in key order, decoded as `what`s.
fn all_decoded<K: redb::Key + 'static, T: serde::de::DeserializeOwned>(
    table: &redb::ReadOnlyTable<K, &'static [u8]>,
    what: &'static str,
) -> Result<Vec<T>, StoreError> {
    table
        .iter()
        .map_err(storage)?
        .map(|row| {
            let (_, v) = row.map_err(storage)?;
            Ok(decode(what, v.value())?)
        })
        .collect()
}

/// Every value of `tenant` in `table` (keyed by tenant, then a name), decoded by `decode`.
fn of_tenant<T>(
    table: &redb::ReadOnlyTable<(&'static str, &'static str), &'static [u8]>,
    tenant: &TenantId,
    decode: impl Fn(&[u8]) -> Result<T, crate::journal::DecodeError>,
) -> Result<Vec<T>, StoreError> {
    table
        .range((tenant.as_str(), "")..)
        .map_err(storage)?
        .map_while(|row| match row {
            Ok((k, v)) if k.value().0 == tenant.as_str() => Some(Ok(v.value().to_vec())),
            Ok(_) => None,
            Err(e) => Some(Err(storage(e))),
        })
        .map(|bytes| Ok(decode(&bytes?)?))
        .collect()
}

/// The value under `key` in `table`, decoded as a `what`.
pub(super) fn decoded<'k, K: redb::Key + 'static, T: serde::de::DeserializeOwned>(
    table: &redb::ReadOnlyTable<K, &'static [u8]>,
    key: impl std::borrow::Borrow<K::SelfType<'k>>,
    what: &'static str,
) -> Result<Option<T>, StoreError> {
    table
        .get(key)
        .map_err(storage)?
        .map(|v| decode(what, v.value()).map_err(StoreError::from))
        .transpose()
}

#[async_trait]
impl Deployments for Store {
    fn deployment(&self, tenant: &TenantId, name: &str) -> Result<Option<Deployment>, StoreError> {
        self.read(DEPLOYMENTS, |t| {
            let value = t.get((tenant.as_str(), name)).map_err(storage)?;
            Ok(value.map(|v| decode_deployment(v.value())).transpose()?)
        })
    }

    fn deployments(&self, tenant: &TenantId) -> Result<Vec<Deployment>, StoreError> {
        self.read(DEPLOYMENTS, |t| of_tenant(&t, tenant, decode_deployment))
    }

    fn component(&self, hash: &ComponentHash) -> Result<Option<Vec<u8>>, StoreError> {
        self.read(COMPONENTS, |t| {
            Ok(t.get(hash.0.as_slice())
                .map_err(storage)?
                .map(|v| v.value().to_vec()))
        })
    }

    async fn deploy(
        &self,
        deployment: Deployment,
        component: Vec<u8>,
    ) -> Result<Deployment, StoreError> {
        let (tenant, name) = (deployment.tenant.clone(), deployment.name.clone());
        self.writer
            .submit(Op::DeployV2 {
                deployment,
                component,
            })
            .await?;
        self.deployment(&tenant, &name)?
            .ok_or(StoreError::DeploymentVanished(name))
    }

    fn versions(&self, tenant: &TenantId) -> Result<Vec<VersionUse>, StoreError> {
        let txn = self.db.begin_read().map_err(storage)?;
        let (kept, current) = super::versions::kept_in(&txn, Some(tenant))?;
        let unfinished = super::versions::unfinished_in(&txn, Some(tenant))?;
        Ok(version_uses(kept, &current, &unfinished))
    }

    async fn upgrade(
        &self,
        tenant: &TenantId,
        id: InvocationId,
        plan: UpgradePlan,
    ) -> Result<(), StoreError> {
        let op = Op::Upgrade {
            tenant: tenant.clone(),
            invocation: id,
            plan,
        };
        self.writer.submit(op).await?;
        Ok(())
    }

    async fn drop_versions(
        &self,
        tenant: &TenantId,
        name: Option<String>,
    ) -> Result<(), StoreError> {
        let op = Op::DropVersions {
            tenant: tenant.clone(),
            name,
        };
        self.writer.submit(op).await?;
        Ok(())
    }
}

#[async_trait]
impl Invocations for Store {
    fn invocation(
        &self,
        tenant: &TenantId,
        id: InvocationId,
    ) -> Result<Option<InvocationRecord>, StoreError> {
        self.get(INVOCATIONS, (tenant.as_str(), id.0), "invocation")
    }

    fn invocations_by_id(
        &self,
        tenant: &TenantId,
        ids: &[InvocationId],
    ) -> Result<Vec<Option<InvocationRecord>>, StoreError> {
        self.read(INVOCATIONS, |t| {
            ids.iter()
                .map(|id| decoded(&t, (tenant.as_str(), id.0), "invocation"))
                .collect()
        })
    }

    fn invocations_page(
        &self,
        tenant: &TenantId,
        keep: &(dyn Fn(&InvocationRecord) -> bool + Sync),
        page: Page,
    ) -> Result<(Vec<InvocationRecord>, Option<InvocationId>), StoreError> {
        let end = page.before.map_or(u128::MAX, |b| b.0.saturating_sub(1));
        let start = page.from.map_or(0, |f| f.0);
        if page.before.is_some_and(|b| b.0 == 0) || start > end {
            return Ok((Vec::new(), None));
        }
        let txn = self.db.begin_read().map_err(storage)?;
        let invocations = txn.open_table(INVOCATIONS).map_err(storage)?;
        let tenant = tenant.as_str();
        match page.state {
            // Every invocation, newest first.
            None => {
                let rows = invocations
                    .range((tenant, start)..=(tenant, end))
                    .map_err(storage)?
                    .rev()
                    .map(|row| {
                        let (k, v) = row.map_err(storage)?;
                        Ok((
                            InvocationId(k.value().1),
                            Some(decode("invocation", v.value())?),
                        ))
                    });
                page_of(rows, keep, page)
            }
            // Only the group of that state, from its index, each record read by its key.
            Some(state) => {
                let by_state = txn.open_table(BY_STATE).map_err(storage)?;
                let group = state.listed_group();
                let rows = by_state
                    .range((tenant, group, start)..=(tenant, group, end))
                    .map_err(storage)?
                    .rev()
                    .map(|row| {
                        let id = row.map_err(storage)?.0.value().2;
                        Ok((
                            InvocationId(id),
                            decoded(&invocations, (tenant, id), "invocation")?,
                        ))
                    });
                page_of(rows, keep, page)
            }
        }
    }

    fn children(
        &self,
        tenant: &TenantId,
        parent: InvocationId,
        limit: usize,
    ) -> Result<Vec<InvocationRecord>, StoreError> {
        let txn = self.db.begin_read().map_err(storage)?;
        let children = txn.open_table(CHILDREN).map_err(storage)?;
        let invocations = txn.open_table(INVOCATIONS).map_err(storage)?;
        let mut out = Vec::new();
        for row in children
            .range((tenant.as_str(), parent.0, 0u128)..=(tenant.as_str(), parent.0, u128::MAX))
            .map_err(storage)?
            .rev()
            .take(limit)
        {
            let (key, _) = row.map_err(storage)?;
            if let Some(v) = invocations
                .get((tenant.as_str(), key.value().2))
                .map_err(storage)?
            {
                out.push(decode("invocation", v.value())?);
            }
        }
        Ok(out)
    }

    fn counts(&self, tenant: &TenantId) -> Result<Vec<(InvocationState, u64)>, StoreError> {
        let txn = self.db.begin_read().map_err(storage)?;
        tenant_counts(&txn, tenant)
    }

    fn all_counts(&self) -> Result<Vec<(TenantId, InvocationState, u64)>, StoreError> {
        let txn = self.db.begin_read().map_err(storage)?;
        let counts = txn.open_table(COUNTS).map_err(storage)?;
        let mut out = Vec::new();
        for row in counts.iter().map_err(storage)? {
            let (key, value) = row.map_err(storage)?;
            let (tenant, state) = key.value();
            if let Some(state) = InvocationState::parse(state) {
                out.push((TenantId::new(tenant), state, value.value()));
            }
        }
        Ok(out)
    }

    fn runnable_invocations(&self) -> Result<Vec<(TenantId, InvocationId)>, StoreError> {
        let txn = self.db.begin_read().map_err(storage)?;
        let table = txn.open_table(RUNNABLE).map_err(storage)?;
        table
            .iter()
            .map_err(storage)?
            .map(|row| {
                let (k, _) = row.map_err(storage)?;
                let (tenant, id) = k.value();
                Ok((TenantId::new(tenant), InvocationId(id)))
            })
            .collect()
    }

    async fn put(&self, record: &InvocationRecord, create: bool) -> Result<Effects, StoreError> {
        let op = Op::PutInvocation {
            record: Box::new(record.clone()),
            create,
        };
        Ok(self.writer.submit(op).await?)
    }

    async fn create_invocation_with(
        &self,
        record: &InvocationRecord,
        key: Option<IdempotencyKey>,
        start_at_ms: Option<u64>,
    ) -> Result<(), StoreError> {
        let op = Op::CreateInvocation {
            record: Box::new(record.clone()),
            key,
            start_at_ms,
        };
        self.writer.submit(op).await?;
        Ok(())
    }

    fn idempotency_key(
        &self,
        tenant: &TenantId,
        scope: &str,
        key: &str,
    ) -> Result<Option<KeyedRequest>, StoreError> {
        self.get(KEYED, (tenant.as_str(), scope, key), "idempotency key")
    }

    fn finished_before(
        &self,
        tenant: &TenantId,
        before_ms: u64,
        limit: usize,
    ) -> Result<Vec<InvocationId>, StoreError> {
        let txn = self.db.begin_read().map_err(storage)?;
        let table = txn.open_table(FINISHED).map_err(storage)?;
        let invocations = txn.open_table(INVOCATIONS).map_err(storage)?;
        let t = tenant.as_str();
        let mut out = Vec::new();
        for row in table
            .range((t, 0u64, 0u128)..=(t, before_ms, u128::MAX))
            .map_err(storage)?
        {
            let (key, _) = row.map_err(storage)?;
            let id = key.value().2;
            // A parent that has not finished may still read its child's end: later.
            if !self.parent_unfinished(&invocations, t, id)? {
                out.push(InvocationId(id));
            }
            if out.len() >= limit {
                break;
            }
        }
        Ok(out)
    }

    fn expired_keys(
        &self,
        tenant: &TenantId,
        now_ms: u64,
        limit: usize,
    ) -> Result<Vec<KeyName>, StoreError> {
        let txn = self.db.begin_read().map_err(storage)?;
        let by_age = txn.open_table(KEYS_BY_AGE).map_err(storage)?;
        let t = tenant.as_str();
        let before = now_ms.saturating_sub(KEY_RETENTION_MS);
        by_age
            .range((t, 0u64, "", "")..=(t, before, "\u{10FFFF}", "\u{10FFFF}"))
            .map_err(storage)?
            .take(limit)
            .map(|row| {
                let (key, _) = row.map_err(storage)?;
                let (_, _, scope, name) = key.value();
                Ok((scope.to_string(), name.to_string()))
            })
            .collect()
    }

    async fn forget(
        &self,
        tenant: &TenantId,
        invocations: Vec<InvocationId>,
        keys: Vec<KeyName>,
        before_ms: u64,
    ) -> Result<(), StoreError> {
        let op = Op::Forget {
            tenant: tenant.clone(),
            invocations,
            keys,
            before_ms,
        };
        self.writer.submit(op).await?;
        Ok(())
    }

    async fn pause(&self, tenant: &TenantId, id: InvocationId) -> Result<Effects, StoreError> {
        let op = Op::Pause {
            tenant: tenant.clone(),
            invocation: id,
        };
        Ok(self.writer.submit(op).await?)
    }

    async fn pause_exhausted(
        &self,
        record: &InvocationRecord,
        seq: Option<u32>,
    ) -> Result<Effects, StoreError> {
        let op = Op::PauseExhausted {
            record: Box::new(record.clone()),
            seq,
        };
        Ok(self.writer.submit(op).await?)
    }

    async fn resume(&self, tenant: &TenantId, id: InvocationId) -> Result<Effects, StoreError> {
        let op = Op::Resume {
            tenant: tenant.clone(),
            invocation: id,
        };
        Ok(self.writer.submit(op).await?)
    }

    async fn cancel(&self, tenant: &TenantId, id: InvocationId) -> Result<Effects, StoreError> {
        let op = Op::Cancel {
            tenant: tenant.clone(),
            invocation: id,
        };
        Ok(self.writer.submit(op).await?)
    }
}

#[async_trait]
impl Journals for Store {
    fn recorded_range(
        &self,
        id: InvocationId,
        seqs: RangeInclusive<u32>,
    ) -> Result<Recorded, StoreError> {
        // The recent entries first: a checkpoint that moves them to redb between the two
        // reads leaves them in both (the same entries), never in neither.
        let recent = self.recent.of(id.0, seqs.clone());
        let txn = self.db.begin_read().map_err(storage)?;
        let table = txn.open_table(JOURNAL).map_err(storage)?;
        let range = (id.0, *seqs.start())..=(id.0, *seqs.end());
        // Sequence numbers have no gaps: the last one tells how many there are.
        let mut recorded = match table.range(range.clone()).map_err(storage)?.next_back() {
            Some(row) => {
                let (k, v) = row.map_err(storage)?;
                let count = (k.value().1 - seqs.start()) as usize + 1 + recent.len();
                Recorded::with_capacity(count, v.value().len())
            }
            None => Recorded::with_capacity(recent.len(), 0),
        };
        for row in table.range(range).map_err(storage)? {
            let (k, v) = row.map_err(storage)?;
            recorded.push(k.value().1, v.value());
        }
        let stored = recorded.last_seq();
        for (seq, entry) in recent {
            if stored.is_none_or(|last| seq > last) {
                recorded.push(seq, &entry);
            }
        }
        Ok(recorded)
    }

    fn retry_state(&self, id: InvocationId, seq: u32) -> Result<Option<RetryState>, StoreError> {
        let txn = self.db.begin_read().map_err(storage)?;
        let table = txn.open_table(RETRIES).map_err(storage)?;
        Ok(table.get((id.0, seq)).map_err(storage)?.map(|v| {
            let (attempts, first_ms) = v.value();
            RetryState { attempts, first_ms }
        }))
    }

    async fn append_step(
        &self,
        tenant: &TenantId,
        id: InvocationId,
        seq: u32,
        entry: &StepEntry,
        effect: StepEffect,
        create: Option<&InvocationRecord>,
    ) -> Result<(), StoreError> {
        let op = Op::AppendStep {
            tenant: tenant.clone(),
            invocation: id,
            seq,
            entry: encode(entry),
            effect,
            create: create.map(|r| Box::new(r.clone())),
        };
        self.writer.submit(op).await?;
        Ok(())
    }

    fn history(&self, id: InvocationId) -> Result<Vec<HistoryEvent>, StoreError> {
        let txn = self.db.begin_read().map_err(storage)?;
        let table = txn.open_table(HISTORY).map_err(storage)?;
        let range = (id.0, 0u32)..=(id.0, u32::MAX);
        table
            .range(range)
            .map_err(storage)?
            .map(|row| {
                let (_, event) = row.map_err(storage)?;
                Ok(decode("history event", event.value())?)
            })
            .collect()
    }

    fn history_len(&self, id: InvocationId) -> Result<u32, StoreError> {
        let txn = self.db.begin_read().map_err(storage)?;
        let table = txn.open_table(HISTORY).map_err(storage)?;
        let range = (id.0, 0u32)..=(id.0, u32::MAX);
        Ok(match table.range(range).map_err(storage)?.next_back() {
            Some(row) => row.map_err(storage)?.0.value().1 + 1,
            None => 0,
        })
    }

    async fn rewind(
        &self,
        tenant: &TenantId,
        id: InvocationId,
        plan: RewindPlan,
    ) -> Result<Effects, StoreError> {
        let op = Op::Rewind {
            tenant: tenant.clone(),
            invocation: id,
            plan,
        };
        Ok(self.writer.submit(op).await?)
    }

    async fn fork(
        &self,
        record: &InvocationRecord,
        from: InvocationId,
        from_component: ComponentHash,
        steps: Vec<StoredStep>,
    ) -> Result<Effects, StoreError> {
        let op = Op::Fork {
            record: Box::new(record.clone()),
            from,
            from_component,
            steps,
        };
        Ok(self.writer.submit(op).await?)
    }
}

#[async_trait]
impl Waits for Store {
    fn wait_state(
        &self,
        tenant: &TenantId,
        id: InvocationId,
    ) -> Result<Option<WaitState>, StoreError> {
        self.get(WAITS, (tenant.as_str(), id.0), "wait")
    }

    fn due_timers(
        &self,
        now_ms: u64,
        limit: usize,
    ) -> Result<Vec<(u64, TenantId, InvocationId)>, StoreError> {
        let txn = self.db.begin_read().map_err(storage)?;
        let table = txn.open_table(TIMERS).map_err(storage)?;
        table
            .range((0u64, 0u128)..=(now_ms, u128::MAX))
            .map_err(storage)?
            .take(limit)
            .map(|row| {
                let (k, v) = row.map_err(storage)?;
                let (due, id) = k.value();
                Ok((due, TenantId::new(v.value()), InvocationId(id)))
            })
            .collect()
    }

    fn next_timer(&self) -> Result<Option<u64>, StoreError> {
        let txn = self.db.begin_read().map_err(storage)?;
        let table = txn.open_table(TIMERS).map_err(storage)?;
        Ok(table.first().map_err(storage)?.map(|(k, _)| k.value().0))
    }

    async fn suspend(
        &self,
        record: &InvocationRecord,
        seq: u32,
        mode: AwaitMode,
        items: &[Awaitable],
        retry: Option<RetryState>,
    ) -> Result<Effects, StoreError> {
        let op = Op::Suspend {
            record: Box::new(record.clone()),
            seq,
            mode,
            items: items.to_vec(),
            retry,
        };
        Ok(self.writer.submit(op).await?)
    }

    async fn timer_due(
        &self,
        due_ms: u64,
        tenant: &TenantId,
        id: InvocationId,
    ) -> Result<Effects, StoreError> {
        let op = Op::TimerDue {
            due_ms,
            tenant: tenant.clone(),
            invocation: id,
        };
        Ok(self.writer.submit(op).await?)
    }
}

#[async_trait]
impl Signals for Store {
    fn signals(
        &self,
        tenant: &TenantId,
        id: InvocationId,
        name: &str,
        limit: usize,
    ) -> Result<Vec<(u64, Vec<u8>)>, StoreError> {
        self.read(SIGNALS, |t| {
            t.range((tenant.as_str(), id.0, name, 0u64)..=(tenant.as_str(), id.0, name, u64::MAX))
                .map_err(storage)?
                .take(limit)
                .map(|row| {
                    let (k, v) = row.map_err(storage)?;
                    Ok((k.value().3, v.value().to_vec()))
                })
                .collect()
        })
    }

    async fn signal(
        &self,
        tenant: &TenantId,
        id: InvocationId,
        name: &str,
        payload: Vec<u8>,
        key: Option<IdempotencyKey>,
    ) -> Result<Effects, StoreError> {
        let (tenant, name) = (tenant.clone(), name.to_string());
        let op = match key {
            Some(key) => Op::SignalOnce {
                tenant,
                invocation: id,
                name,
                payload,
                key,
            },
            None => Op::Signal {
                tenant,
                invocation: id,
                name,
                payload,
            },
        };
        Ok(self.writer.submit(op).await?)
    }
}

#[async_trait]
impl Access for Store {
    fn tenant(&self, name: &TenantId) -> Result<Option<TenantRecord>, StoreError> {
        self.get(TENANTS, name.as_str(), "tenant")
    }

    fn tenants(&self) -> Result<Vec<TenantRecord>, StoreError> {
        self.read(TENANTS, |t| all_decoded(&t, "tenant"))
    }

    fn key(&self, hash: &[u8; 32]) -> Result<Option<KeyRecord>, StoreError> {
        self.get(KEYS, hash.as_slice(), "key")
    }

    fn keys(&self) -> Result<Vec<KeyRecord>, StoreError> {
        self.read(KEYS, |t| all_decoded(&t, "key"))
    }

    async fn create_tenant(&self, tenant: TenantRecord) -> Result<(), StoreError> {
        self.writer.submit(Op::CreateTenant { tenant }).await?;
        Ok(())
    }

    async fn create_key(&self, key: KeyRecord) -> Result<(), StoreError> {
        self.writer.submit(Op::CreateKey { key }).await?;
        Ok(())
    }

    async fn revoke_key(&self, hash: [u8; 32]) -> Result<(), StoreError> {
        self.writer.submit(Op::RevokeKey { hash }).await?;
        Ok(())
    }

    fn quotas(&self, tenant: &TenantId) -> Result<Quotas, StoreError> {
        self.read(QUOTAS, |t| {
            match t.get(tenant.as_str()).map_err(storage)? {
                Some(value) => Ok(decode_quotas(value.value())?),
                None => Ok(Quotas::default()),
            }
        })
    }

    async fn set_quotas(&self, tenant: &TenantId, quotas: Quotas) -> Result<(), StoreError> {
        let tenant = tenant.clone();
        self.writer.submit(Op::SetQuotas { tenant, quotas }).await?;
        Ok(())
    }

    fn stored_bytes(&self, tenant: &TenantId) -> Result<u64, StoreError> {
        let txn = self.db.begin_read().map_err(storage)?;
        let table = txn.open_table(USAGE).map_err(storage)?;
        let bytes = table.get(tenant.as_str()).map_err(storage)?;
        Ok(bytes.map_or(0, |v| v.value()))
    }

    fn egress(
        &self,
        tenant: &TenantId,
        deployment: Option<&str>,
    ) -> Result<Option<EgressRules>, StoreError> {
        let key = (tenant.as_str(), deployment.unwrap_or_default());
        self.get(EGRESS, key, "egress rules")
    }

    fn egress_of(
        &self,
        tenant: &TenantId,
        deployment: &str,
    ) -> Result<(Option<EgressRules>, Option<EgressRules>), StoreError> {
        self.read(EGRESS, |t| {
            let own = decoded(&t, (tenant.as_str(), ""), "egress rules")?;
            let deployment = decoded(&t, (tenant.as_str(), deployment), "egress rules")?;
            Ok((own, deployment))
        })
    }

    async fn set_egress(
        &self,
        tenant: &TenantId,
        deployment: Option<&str>,
        rules: Option<EgressRules>,
    ) -> Result<(), StoreError> {
        let op = Op::SetEgress {
            tenant: tenant.clone(),
            deployment: deployment.map(str::to_string),
            rules,
        };
        self.writer.submit(op).await?;
        Ok(())
    }
}

#[async_trait]
impl Schedules for Store {
    fn schedule(&self, tenant: &TenantId, name: &str) -> Result<Option<Schedule>, StoreError> {
        self.get(SCHEDULES, (tenant.as_str(), name), "schedule")
    }

    fn schedules(&self, tenant: &TenantId) -> Result<Vec<Schedule>, StoreError> {
        self.read(SCHEDULES, |t| {
            of_tenant(&t, tenant, |b| decode("schedule", b))
        })
    }

    fn all_schedules(&self) -> Result<Vec<Schedule>, StoreError> {
        self.read(SCHEDULES, |t| all_decoded(&t, "schedule"))
    }

    async fn put_schedule(&self, schedule: Schedule) -> Result<(), StoreError> {
        let schedule = Box::new(schedule);
        self.writer.submit(Op::PutSchedule { schedule }).await?;
        Ok(())
    }

    async fn remove_schedule(&self, tenant: &TenantId, name: &str) -> Result<(), StoreError> {
        let (tenant, name) = (tenant.clone(), name.to_string());
        self.writer
            .submit(Op::RemoveSchedule { tenant, name })
            .await?;
        Ok(())
    }
}

#[async_trait]
impl Storage for Store {
    async fn halted(&self) -> std::sync::Arc<crate::journal::Halt> {
        self.writer.halted().await
    }

    fn admission(&self, tenant: &TenantId) -> Result<crate::storage::Admission, StoreError> {
        let txn = self.db.begin_read().map_err(storage)?;
        let usage = txn.open_table(USAGE).map_err(storage)?;
        let stored_bytes = usage
            .get(tenant.as_str())
            .map_err(storage)?
            .map_or(0, |v| v.value());
        Ok(crate::storage::Admission {
            counts: tenant_counts(&txn, tenant)?,
            stored_bytes,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::journal::{Bundle, Failure, FailureKind, Message, Outcome, StepKind, WriteError};

    fn t() -> TenantId {
        TenantId::from("t")
    }

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
            retries: 0,
            created_at_ms: 1,
            updated_at_ms: 1,
            finished_at_ms: None,
            output: None,
            failure: None,
            parent: None,
            detached: false,
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
    async fn a_crash_between_checkpoints_loses_no_acknowledged_write() {
        let dir = tempfile::tempdir().expect("tempdir");
        let options = StoreOptions {
            checkpoint_every: std::time::Duration::from_secs(3600),
            ..StoreOptions::default()
        };
        let store = Store::open_with(&dir.path().join("db"), &options).expect("open");
        let rec = record(InvocationState::Running);
        store.create_invocation(&rec).await.expect("create");
        for seq in 0..50 {
            append(&store, rec.id, seq, seq as u64)
                .await
                .expect("append");
        }
        // What a crash now leaves on disk: the files as they are (the writer is idle).
        let crashed = dir.path().join("crashed");
        std::fs::create_dir(&crashed).expect("mkdir");
        for file in ["db", "db.wal"] {
            std::fs::copy(dir.path().join(file), crashed.join(file)).expect("copy");
        }
        drop(store);

        // redb alone holds none of it: the writes were durable only in the log.
        let without_log = StoreOptions {
            log: false,
            ..StoreOptions::default()
        };
        std::fs::copy(crashed.join("db"), dir.path().join("db-only")).expect("copy");
        let db_only = Store::open_with(&dir.path().join("db-only"), &without_log).expect("open");
        assert_eq!(db_only.invocation(&t(), rec.id).expect("read"), None);
        drop(db_only);

        // Opening replays the log, even when it is not used from then on: every acknowledged
        // write is there, once.
        let copy = dir.path().join("copy");
        std::fs::create_dir(&copy).expect("mkdir");
        for file in ["db", "db.wal"] {
            std::fs::copy(crashed.join(file), copy.join(file)).expect("copy");
        }
        let no_log_now = Store::open_with(&copy.join("db"), &without_log).expect("reopen");
        assert_eq!(no_log_now.steps(rec.id).expect("steps").len(), 50);
        drop(no_log_now);
        let recovered = Store::open_with(&crashed.join("db"), &options).expect("reopen");
        assert_eq!(
            recovered.invocation(&t(), rec.id).expect("read"),
            Some(rec.clone())
        );
        let steps = recovered.steps(rec.id).expect("steps");
        assert_eq!(steps.len(), 50);
        assert_eq!(steps[49], (49, entry(49)));
        assert_eq!(
            recovered.counts(&t()).expect("counts"),
            vec![(InvocationState::Running, 1)]
        );
        // The replay was checkpointed: writing on and reopening again changes nothing else.
        append(&recovered, rec.id, 50, 50).await.expect("append");
        drop(recovered);
        let again = Store::open_with(&crashed.join("db"), &options).expect("reopen");
        assert_eq!(again.steps(rec.id).expect("steps").len(), 51);
        assert_eq!(
            again.counts(&t()).expect("counts"),
            vec![(InvocationState::Running, 1)]
        );
    }

    #[tokio::test]
    async fn a_journal_reads_the_same_before_during_and_after_checkpoints() {
        let dir = tempfile::tempdir().expect("tempdir");
        let options = StoreOptions {
            checkpoint_every: std::time::Duration::from_millis(200),
            ..StoreOptions::default()
        };
        let path = dir.path().join("db");
        let store = Store::open_with(&path, &options).expect("open");
        let rec = record(InvocationState::Running);
        store.create_invocation(&rec).await.expect("create");
        let expected: Vec<(u32, StepEntry)> = (0..60).map(|seq| (seq, entry(seq.into()))).collect();
        for seq in 0..30 {
            append(&store, rec.id, seq, seq.into())
                .await
                .expect("append");
            // Kept in memory until a checkpoint, and read from there.
            assert_eq!(
                store.steps(rec.id).expect("steps"),
                expected[..=seq as usize]
            );
        }
        // Idle for longer than a tenth of `checkpoint_every`: a checkpoint writes them to redb
        // (looked for until it has, for a loaded machine).
        let copy = dir.path().join("copy");
        let without_log = StoreOptions {
            log: false,
            ..StoreOptions::default()
        };
        let mut in_redb = Vec::new();
        for _ in 0..100 {
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            let _ = std::fs::remove_file(&copy);
            std::fs::copy(&path, &copy).expect("copy");
            let db_only = Store::open_with(&copy, &without_log).expect("open the copy");
            in_redb = db_only.steps(rec.id).expect("steps");
            if in_redb.len() == 30 {
                break;
            }
        }
        assert_eq!(in_redb, expected[..30]);
        assert!(matches!(
            append(&store, rec.id, 29, 0).await,
            Err(StoreError::Write(WriteError::StepTaken { seq: 29, .. }))
        ));
        for seq in 30..60 {
            append(&store, rec.id, seq, seq.into())
                .await
                .expect("append");
        }
        assert_eq!(store.steps(rec.id).expect("steps"), expected);
        drop(store);
        let reopened = Store::open_with(&path, &options).expect("reopen");
        assert_eq!(reopened.steps(rec.id).expect("steps"), expected);
    }

    #[tokio::test]
    async fn a_batch_that_fails_to_apply_fails_alone_and_a_crash_after_it_recovers() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("db");
        let options = StoreOptions {
            checkpoint_every: std::time::Duration::from_secs(3600),
            ..StoreOptions::default()
        };
        let broken = record(InvocationState::Running);
        let store = Store::open_with(&path, &options).expect("open");
        store.create_invocation(&broken).await.expect("create");
        drop(store); // checkpoints: the log holds nothing
        // A stored record that no longer decodes: any write that reads it fails to apply.
        {
            let db = Database::create(&path).expect("open redb");
            let txn = db.begin_write().expect("begin");
            txn.open_table(INVOCATIONS)
                .expect("table")
                .insert(("t", broken.id.0), b"not a record".as_slice())
                .expect("insert");
            txn.commit().expect("commit");
        }
        let store = Store::open_with(&path, &options).expect("reopen");
        let mut update = broken.clone();
        update.attempts = 2;
        assert!(matches!(
            store.update_invocation(&update).await,
            Err(StoreError::Write(WriteError::Storage(_)))
        ));
        // A crash now: the failed batch's record was taken back from the log, so the start
        // does not replay it (and fail on the same record every time).
        let crashed = dir.path().join("crashed");
        std::fs::create_dir(&crashed).expect("mkdir");
        for file in ["db", "db.wal"] {
            std::fs::copy(dir.path().join(file), crashed.join(file)).expect("copy");
        }
        // Without a crash the writer goes on: later writes are taken.
        let fine = record(InvocationState::Running);
        store.create_invocation(&fine).await.expect("a later write");
        append(&store, fine.id, 0, 7).await.expect("a later step");
        drop(store);
        let reopened = Store::open_with(&path, &options).expect("reopen");
        assert_eq!(reopened.steps(fine.id).expect("steps").len(), 1);
        drop(reopened);
        let recovered = Store::open_with(&crashed.join("db"), &options).expect("recover");
        assert_eq!(recovered.invocation(&t(), fine.id).expect("read"), None);
    }

    fn open() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open(&dir.path().join("db")).expect("open");
        (dir, store)
    }

    /// A second store that knows the test tenant, as a move's target does.
    async fn open_with_tenant() -> (tempfile::TempDir, Store) {
        let (dir, store) = open();
        let tenant = TenantRecord {
            name: t(),
            created_at_ms: 1,
        };
        store.create_tenant(tenant).await.expect("tenant");
        (dir, store)
    }

    async fn append(store: &Store, id: InvocationId, seq: u32, n: u64) -> Result<(), StoreError> {
        store
            .append_step(&t(), id, seq, &entry(n), StepEffect::None, None)
            .await
    }

    #[tokio::test]
    async fn journal_entries_are_never_overwritten_and_only_runnable_invocations_take_steps() {
        let (_dir, store) = open();
        let mut rec = record(InvocationState::Running);
        let id = rec.id;
        assert!(matches!(
            append(&store, id, 0, 1).await,
            Err(StoreError::Write(WriteError::NotRunning(_)))
        ));
        store.create_invocation(&rec).await.expect("create");
        append(&store, id, 0, 1).await.expect("append");
        assert!(matches!(
            append(&store, id, 0, 2).await,
            Err(StoreError::Write(WriteError::StepTaken { seq: 0, .. }))
        ));
        append(&store, id, 1, 3).await.expect("append");
        let steps = store.steps(id).expect("steps");
        assert_eq!(steps, vec![(0, entry(1)), (1, entry(3))]);
        rec.state = InvocationState::Completed;
        store.update_invocation(&rec).await.expect("complete");
        assert!(append(&store, id, 2, 4).await.is_err());
    }

    /// A running parent with `n` running children.
    async fn family(store: &Store, n: usize) -> (InvocationRecord, Vec<InvocationRecord>) {
        family_of(store, n, record(InvocationState::Running)).await
    }

    /// Deploys `code` as deployment `d` of the test tenant; returns its hash.
    async fn deploy_code(store: &Store, code: &[u8]) -> ComponentHash {
        let component = ComponentHash::of(code);
        let deployment = Deployment {
            tenant: t(),
            name: "d".into(),
            component,
            functions: vec!["f".into()],
            version: 0,
            size: code.len() as u64,
            deployed_at_ms: 1,
            policy: Default::default(),
        };
        store
            .deploy(deployment, code.to_vec())
            .await
            .expect("deploy");
        component
    }

    /// [`family`] with `parent` (running) as the parent; its children share its component.
    async fn family_of(
        store: &Store,
        n: usize,
        parent: InvocationRecord,
    ) -> (InvocationRecord, Vec<InvocationRecord>) {
        store.create_invocation(&parent).await.expect("parent");
        let mut children = Vec::new();
        for seq in 0..n {
            let mut child = record(InvocationState::Pending);
            child.parent = Some(parent.id);
            child.component = parent.component;
            child.detached = seq == n - 1 && n > 2;
            let effect = StepEffect::CreateChild(Box::new(child.clone()));
            let dispatch = StepEntry {
                kind: StepKind::Dispatch,
                outcome: Outcome::Dispatched(Ok(child.id)),
                ..entry(0)
            };
            store
                .append_step(&t(), parent.id, seq as u32, &dispatch, effect, None)
                .await
                .expect("dispatch");
            child.state = InvocationState::Running;
            store.update_invocation(&child).await.expect("run child");
            children.push(child);
        }
        (parent, children)
    }

    fn state(store: &Store, id: InvocationId) -> InvocationState {
        store
            .invocation(&t(), id)
            .expect("read")
            .expect("exists")
            .state
    }

    #[tokio::test]
    async fn a_dispatch_creates_its_child_exactly_once() {
        let (_dir, store) = open();
        let (parent, children) = family(&store, 1).await;
        let effect = StepEffect::CreateChild(Box::new(children[0].clone()));
        let again = store
            .append_step(&t(), parent.id, 1, &entry(0), effect, None)
            .await;
        assert!(matches!(
            again,
            Err(StoreError::Write(WriteError::InvocationExists(_)))
        ));
        assert_eq!(store.steps(parent.id).expect("steps").len(), 1);
    }

    #[tokio::test]
    async fn a_parent_waiting_on_children_is_woken_once_when_the_last_finishes() {
        let (_dir, store) = open();
        let (parent, mut children) = family(&store, 3).await;
        let items: Vec<_> = children.iter().map(|c| Awaitable::Child(c.id)).collect();
        let effects = store
            .suspend(&parent, 3, AwaitMode::All, &items, None)
            .await
            .expect("suspend");
        assert!(effects.woken.is_empty());
        assert_eq!(state(&store, parent.id), InvocationState::Suspended);
        let last = children.len() - 1;
        for (i, child) in children.iter_mut().enumerate() {
            child.finish(InvocationState::Completed, 9);
            let effects = store.update_invocation(child).await.expect("finish");
            let woken: Vec<_> = effects.woken.iter().map(|(_, id)| *id).collect();
            if i == last {
                assert_eq!(woken, vec![parent.id]);
            } else {
                assert!(woken.is_empty(), "woken after child {i}");
                let wait = store
                    .wait_state(&t(), parent.id)
                    .expect("wait")
                    .expect("some");
                assert_eq!(wait.children_pending as usize, last - i);
            }
        }
        assert_eq!(state(&store, parent.id), InvocationState::Pending);
        assert!(store.wait_state(&t(), parent.id).expect("wait").is_none());
    }

    #[tokio::test]
    async fn a_wait_already_satisfied_when_suspending_makes_the_parent_pending() {
        let (_dir, store) = open();
        let (parent, mut children) = family(&store, 2).await;
        children[1].finish(InvocationState::Failed, 9);
        store.update_invocation(&children[1]).await.expect("fail");
        let items: Vec<_> = children.iter().map(|c| Awaitable::Child(c.id)).collect();
        let effects = store
            .suspend(&parent, 2, AwaitMode::All, &items, None)
            .await
            .expect("suspend");
        assert_eq!(effects.woken.len(), 1, "a failure ends an `all` wait");
        assert_eq!(state(&store, parent.id), InvocationState::Pending);
    }

    #[tokio::test]
    async fn signals_are_kept_until_waited_for_and_wake_a_waiting_invocation() {
        let (_dir, store) = open();
        let (rec, _) = family(&store, 0).await;
        store
            .signal(&t(), rec.id, "go", b"1".to_vec(), None)
            .await
            .expect("signal");
        store
            .signal(&t(), rec.id, "go", b"2".to_vec(), None)
            .await
            .expect("signal");
        let kept = store.signals(&t(), rec.id, "go", 10).expect("signals");
        assert_eq!(kept, vec![(0, b"1".to_vec()), (1, b"2".to_vec())]);
        // Two waits on `go` are satisfied by the two kept signals; a third waits.
        let go = Awaitable::Signal("go".into());
        let items = [go.clone(), go.clone(), go];
        let effects = store
            .suspend(&rec, 0, AwaitMode::All, &items, None)
            .await
            .expect("suspend");
        assert!(effects.woken.is_empty());
        let effects = store
            .signal(&t(), rec.id, "go", b"3".to_vec(), None)
            .await
            .expect("signal");
        assert_eq!(effects.woken.len(), 1);
    }

    #[tokio::test]
    async fn cancelling_a_parent_cancels_its_attached_descendants_only() {
        let (_dir, store) = open();
        let (parent, children) = family(&store, 3).await;
        let effects = store.cancel(&t(), parent.id).await.expect("cancel");
        let cancelled: Vec<_> = effects.cancelled.iter().map(|(_, id)| *id).collect();
        assert_eq!(cancelled.len(), 3, "the parent and two attached children");
        assert_eq!(state(&store, parent.id), InvocationState::Cancelled);
        assert_eq!(state(&store, children[0].id), InvocationState::Cancelled);
        assert_eq!(state(&store, children[1].id), InvocationState::Cancelled);
        assert_eq!(
            state(&store, children[2].id),
            InvocationState::Running,
            "detached"
        );
        assert!(matches!(
            store.cancel(&t(), parent.id).await,
            Err(StoreError::Write(WriteError::InvocationFinished(_)))
        ));
        assert!(store.runnable_invocations().expect("runnable").len() == 1);
        let counts = store.counts(&t()).expect("counts");
        assert_eq!(
            counts,
            vec![
                (InvocationState::Cancelled, 3),
                (InvocationState::Running, 1)
            ]
        );
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
            .invocation(&t(), rec.id)
            .expect("read")
            .expect("exists");
        assert_eq!(stored.state, InvocationState::Completed);
        // Another tenant does not see it.
        assert!(
            store
                .invocation(&"u".into(), rec.id)
                .expect("read")
                .is_none()
        );
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
        assert_eq!(store.invocation(&t(), rec.id).expect("read"), Some(rec));
    }

    #[tokio::test]
    async fn usage_is_counted_from_what_an_older_database_stores_at_its_first_open() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("db");
        let counted = {
            let store = Store::open(&path).expect("open");
            let mut rec = record(InvocationState::Running);
            store.create_invocation(&rec).await.expect("create");
            for seq in 0..3 {
                append(&store, rec.id, seq, u64::from(seq))
                    .await
                    .expect("append");
            }
            let waiting = record(InvocationState::Running);
            store.create_invocation(&waiting).await.expect("create");
            store
                .signal(&t(), waiting.id, "go", b"[1,2,3]".to_vec(), None)
                .await
                .expect("signal");
            rec.output = Some(b"\"done\"".to_vec());
            rec.finish(InvocationState::Completed, crate::clock::now_ms());
            store.update_invocation(&rec).await.expect("complete");
            store.stored_bytes(&t()).expect("usage")
        };
        assert!(counted > 0);
        // As an older version left it: no usage rows, no mark that they were counted.
        {
            let db = Database::open(&path).expect("raw open");
            let txn = db.begin_write().expect("write");
            txn.open_table(USAGE)
                .expect("usage")
                .retain(|_, _| false)
                .expect("clear");
            txn.open_table(META)
                .expect("meta")
                .remove(USAGE_COUNTED)
                .expect("unmark");
            txn.commit().expect("commit");
        }
        let store = Store::open(&path).expect("reopen");
        assert_eq!(store.stored_bytes(&t()).expect("usage"), counted);
    }

    #[tokio::test]
    async fn a_finished_child_is_kept_while_its_parent_has_not_finished() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("db");
        let store = Store::open(&path).expect("open");
        let (mut parent, children) = family(&store, 1).await;
        let mut child = children[0].clone();
        child.output = Some(b"1".to_vec());
        child.finish(InvocationState::Completed, 1_000);
        store.update_invocation(&child).await.expect("child ends");
        let later = crate::clock::now_ms() + 1;
        assert!(
            store
                .finished_before(&t(), later, 10)
                .expect("due")
                .is_empty()
        );
        store
            .forget(&t(), vec![child.id], Vec::new(), later)
            .await
            .expect("forget");
        assert!(
            store.invocation(&t(), child.id).expect("read").is_some(),
            "kept"
        );
        // At `later` itself, however long the steps above took on a busy machine.
        parent.finish(InvocationState::Completed, later);
        store.update_invocation(&parent).await.expect("parent ends");
        let due = store.finished_before(&t(), later + 1, 10).expect("due");
        assert_eq!(due, vec![child.id, parent.id]);
        store
            .forget(&t(), due, Vec::new(), later + 1)
            .await
            .expect("forget");
        assert_eq!(store.invocation(&t(), child.id).expect("read"), None);
        assert_eq!(store.invocation(&t(), parent.id).expect("read"), None);
        // Its journal is gone, also the entries that waited for a checkpoint: after one (a
        // clean close) they do not come back.
        assert_eq!(store.steps(parent.id).expect("steps"), Vec::new());
        store.check_indexes().expect("indexes");
        drop(store);
        let store = Store::open(&path).expect("reopen");
        assert_eq!(store.steps(parent.id).expect("steps"), Vec::new());
        store.check_indexes().expect("indexes");
    }

    #[tokio::test]
    async fn a_rewind_moves_the_later_steps_to_the_history_and_refuses_a_stale_plan() {
        let (_dir, store) = open();
        let fixed = deploy_code(&store, b"fixed code").await;
        // Steps 0 and 1 dispatch children (the second detached), step 2 is plain.
        let (mut parent, children) = family(&store, 3).await;
        parent.failure = Some(Failure {
            kind: FailureKind::FunctionError,
            message: "step 2 went wrong".into(),
        });
        parent.finish(InvocationState::Failed, crate::clock::now_ms());
        store.update_invocation(&parent).await.expect("fail");
        let before = store.steps(parent.id).expect("steps");
        let stored = store.stored_bytes(&t()).expect("usage");
        let plan = |to_step, steps, state| RewindPlan {
            to_step,
            steps,
            state,
            history: 0,
            component: fixed,
            deployment: "d".into(),
        };
        let id = parent.id;
        for (stale, why) in [
            (plan(1, 2, InvocationState::Failed), "the journal grew"),
            (plan(1, 3, InvocationState::Paused), "it changed state"),
            (
                RewindPlan {
                    history: 1,
                    ..plan(1, 3, InvocationState::Failed)
                },
                "a rewind was made meanwhile",
            ),
            (plan(4, 3, InvocationState::Failed), "past the journal"),
            (
                RewindPlan {
                    component: ComponentHash([9; 32]),
                    ..plan(1, 3, InvocationState::Failed)
                },
                "an unknown component",
            ),
        ] {
            assert!(
                matches!(
                    store.rewind(&t(), id, stale).await,
                    Err(StoreError::Write(_))
                ),
                "{why}"
            );
        }
        assert_eq!(store.steps(id).expect("steps"), before, "nothing changed");
        assert!(store.history(id).expect("history").is_empty());

        let effects = store
            .rewind(&t(), id, plan(1, 3, InvocationState::Failed))
            .await
            .expect("rewind");
        assert_eq!(effects.woken, vec![(t(), id)]);
        let rewound = store.invocation(&t(), id).expect("read").expect("kept");
        assert_eq!(rewound.state, InvocationState::Pending);
        assert_eq!((rewound.component, rewound.failure), (fixed, None));
        assert_eq!(store.steps(id).expect("steps"), before[..1]);
        // The attached child of a dropped dispatch is cancelled; the detached one is not.
        assert_eq!(state(&store, children[0].id), InvocationState::Running);
        assert_eq!(state(&store, children[1].id), InvocationState::Cancelled);
        assert_eq!(state(&store, children[2].id), InvocationState::Running);
        let history = store.history(id).expect("history");
        let [HistoryEvent::Rewound(event)] = history.as_slice() else {
            panic!("one rewind: {history:?}");
        };
        assert_eq!(event.to_step, 1);
        assert_eq!(event.from_state, InvocationState::Failed);
        assert_eq!(event.cancelled, vec![children[1].id]);
        let dropped: Vec<u32> = event.dropped.iter().map(|s| s.seq).collect();
        assert_eq!(dropped, vec![1, 2]);
        assert_eq!(
            store.stored_bytes(&t()).expect("usage"),
            stored,
            "moved, not freed"
        );
        store.check_indexes().expect("indexes");
        // It takes step 1 again, live; once forgotten, its history goes with it.
        append(&store, id, 1, 9).await.expect("step 1 again");
        let mut done = store.invocation(&t(), id).expect("read").expect("kept");
        done.finish(InvocationState::Completed, crate::clock::now_ms());
        store.update_invocation(&done).await.expect("complete");
        for child in &children {
            let mut child = store
                .invocation(&t(), child.id)
                .expect("read")
                .expect("kept");
            if !child.state.is_terminal() {
                child.finish(InvocationState::Completed, crate::clock::now_ms());
                store.update_invocation(&child).await.expect("child ends");
            }
        }
        // Everything above has ended by now; `later` must come after the last end.
        let later = crate::clock::now_ms() + 1;
        let due = store.finished_before(&t(), later, 10).expect("due");
        store
            .forget(&t(), due, Vec::new(), later)
            .await
            .expect("forget");
        assert!(store.history(id).expect("history").is_empty());
        assert_eq!(
            store.stored_bytes(&t()).expect("usage"),
            b"fixed code".len() as u64
        );
        store.check_indexes().expect("indexes");
    }

    #[tokio::test]
    async fn a_list_page_looks_at_most_at_its_budget_and_says_where_to_go_on() {
        let (_dir, store) = open();
        let mut ids = Vec::new();
        for i in 0..10u64 {
            let mut rec = record(InvocationState::Running);
            rec.id = InvocationId::first_at(1_000 + i);
            rec.input = format!("{{\"n\":{i}}}").into_bytes();
            store.create_invocation(&rec).await.expect("create");
            ids.push(rec.id);
        }
        // Only even inputs kept: a budget of 4 looks at 9, 8, 7, 6, keeps 8 and 6, and says
        // to go on below 6.
        let even = |r: &InvocationRecord| r.input.get(5).is_some_and(|digit| digit % 2 == 0);
        let page = |before, from, budget| Page {
            before,
            from,
            limit: 3,
            budget,
            state: None,
        };
        let (kept, resume) = store
            .invocations_page(&t(), &even, page(None, None, 4))
            .expect("page");
        let kept: Vec<InvocationId> = kept.iter().map(|r| r.id).collect();
        assert_eq!((kept, resume), (vec![ids[8], ids[6]], Some(ids[6])));
        // From there, a full page of 3 ends the search without a cursor of its own.
        let (kept, resume) = store
            .invocations_page(&t(), &even, page(Some(ids[6]), None, 100))
            .expect("page");
        let kept: Vec<InvocationId> = kept.iter().map(|r| r.id).collect();
        assert_eq!((kept, resume), (vec![ids[4], ids[2], ids[0]], None));
        // `from` bounds it below: created at ms 1005 or later.
        let (kept, _) = store
            .invocations_page(
                &t(),
                &|_| true,
                page(None, Some(InvocationId::first_at(1_005)), 100),
            )
            .expect("page");
        let kept: Vec<InvocationId> = kept.iter().map(|r| r.id).collect();
        assert_eq!(kept, vec![ids[9], ids[8], ids[7]]);
    }

    #[tokio::test]
    async fn a_list_by_state_reads_its_index_which_an_older_database_gets_at_open() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("db");
        let store = Store::open(&path).expect("open");
        let mut ids = Vec::new();
        for i in 0..6u64 {
            let mut rec = record(InvocationState::Running);
            rec.id = InvocationId::first_at(1_000 + i);
            store.create_invocation(&rec).await.expect("create");
            if i % 2 == 1 {
                rec.finish(InvocationState::Completed, 2_000 + i);
                store.update_invocation(&rec).await.expect("complete");
            }
            ids.push(rec.id);
        }
        let by_state = |store: &Store, state| {
            let page = Page {
                before: None,
                from: None,
                limit: 10,
                budget: usize::MAX,
                state: Some(state),
            };
            let (kept, _) = store.invocations_page(&t(), &|_| true, page).expect("page");
            kept.iter().map(|r| r.id).collect::<Vec<_>>()
        };
        let completed = vec![ids[5], ids[3], ids[1]];
        let running = vec![ids[4], ids[2], ids[0]];
        assert_eq!(by_state(&store, InvocationState::Completed), completed);
        // Pending and running are one group: which one is shown is the caller's to decide.
        assert_eq!(by_state(&store, InvocationState::Pending), running);
        assert!(by_state(&store, InvocationState::Failed).is_empty());
        store.check_indexes().expect("indexes");
        drop(store);
        // As an older version left it: no index, no mark that it was built.
        {
            let db = Database::open(&path).expect("raw open");
            let txn = db.begin_write().expect("write");
            txn.delete_table(BY_STATE).expect("drop the index");
            txn.open_table(META)
                .expect("meta")
                .remove(BY_STATE_INDEXED)
                .expect("unmark");
            txn.commit().expect("commit");
        }
        let store = Store::open(&path).expect("reopen");
        store.check_indexes().expect("indexes built at open");
        assert_eq!(by_state(&store, InvocationState::Completed), completed);
    }

    #[tokio::test]
    async fn guest_output_is_kept_once_counted_and_goes_with_a_rewind_and_a_forget() {
        use crate::journal::{OutputLine, Stdio};
        use crate::storage::Output;
        let (_dir, store) = open();
        let code = deploy_code(&store, b"code").await;
        let mut rec = record(InvocationState::Running);
        rec.component = code;
        store.create_invocation(&rec).await.expect("create");
        for seq in 0..3 {
            append(&store, rec.id, seq, u64::from(seq))
                .await
                .expect("append");
        }
        let line = |position, text: &str, at_ms| OutputLine {
            position,
            n: 0,
            stream: Stdio::Stdout,
            at_ms,
            text: text.into(),
        };
        let before = store.stored_bytes(&t()).expect("usage");
        let lines: Vec<OutputLine> = (0..4).map(|p| line(p, "a line", 10)).collect();
        store
            .put_output(&t(), rec.id, lines.clone())
            .await
            .expect("keep");
        let kept = store.stored_bytes(&t()).expect("usage");
        assert!(kept > before);
        // A replay writes them again, later: nothing changes.
        let again: Vec<OutputLine> = (0..4).map(|p| line(p, "a line", 99)).collect();
        store.put_output(&t(), rec.id, again).await.expect("again");
        assert_eq!(store.output(rec.id).expect("read"), lines);
        assert_eq!(store.stored_bytes(&t()).expect("usage"), kept);
        // A line a run left unfinished is replaced by its end.
        let ended = line(3, "a line, ended", 20);
        store
            .put_output(&t(), rec.id, vec![ended.clone()])
            .await
            .expect("end it");
        assert_eq!(store.output(rec.id).expect("read")[3], ended);
        let kept = kept + 7;
        assert_eq!(store.stored_bytes(&t()).expect("usage"), kept);
        assert!(matches!(
            store
                .put_output(&t(), InvocationId::generate(), lines.clone())
                .await,
            Err(StoreError::Write(WriteError::NoSuchInvocation(_)))
        ));

        // A rewind to step 1 drops what was written after it.
        let mut failed = store.invocation(&t(), rec.id).expect("read").expect("kept");
        failed.finish(InvocationState::Failed, crate::clock::now_ms());
        store.update_invocation(&failed).await.expect("fail");
        let with_end = store.stored_bytes(&t()).expect("usage");
        let plan = RewindPlan {
            to_step: 1,
            steps: 3,
            state: InvocationState::Failed,
            history: 0,
            component: code,
            deployment: "d".into(),
        };
        store.rewind(&t(), rec.id, plan).await.expect("rewind");
        let positions: Vec<u32> = store
            .output(rec.id)
            .expect("read")
            .iter()
            .map(|l| l.position)
            .collect();
        assert_eq!(positions, [0, 1]);
        let dropped = (encode(&lines[2]).len() + encode(&ended).len()) as u64;
        assert_eq!(store.stored_bytes(&t()).expect("usage"), with_end - dropped);
        store.check_indexes().expect("indexes");

        // Forgotten, it takes its output with it.
        let mut done = store.invocation(&t(), rec.id).expect("read").expect("kept");
        done.finish(InvocationState::Completed, crate::clock::now_ms());
        store.update_invocation(&done).await.expect("complete");
        let later = crate::clock::now_ms() + 1;
        let due = store.finished_before(&t(), later, 10).expect("due");
        store
            .forget(&t(), due, Vec::new(), later)
            .await
            .expect("forget");
        assert!(store.output(rec.id).expect("read").is_empty());
        assert_eq!(store.stored_bytes(&t()).expect("usage"), 4);
        store.check_indexes().expect("indexes");
    }

    #[tokio::test]
    async fn a_fork_copies_the_first_steps_into_a_new_invocation() {
        let (_dir, store) = open();
        let original = record(InvocationState::Running);
        store.create_invocation(&original).await.expect("create");
        for seq in 0..3 {
            append(&store, original.id, seq, u64::from(seq))
                .await
                .expect("append");
        }
        let steps = store
            .recorded(original.id)
            .expect("read")
            .first(2)
            .stored_steps();
        let fork = record(InvocationState::Pending);
        let effects = store
            .fork(&fork, original.id, original.component, steps.clone())
            .await
            .expect("fork");
        assert_eq!(effects.woken, vec![(t(), fork.id)]);
        assert_eq!(
            store.steps(fork.id).expect("steps"),
            store.steps(original.id).expect("steps")[..2]
        );
        assert_eq!(store.steps(original.id).expect("steps").len(), 3);
        assert!(matches!(
            store.history(fork.id).expect("history").as_slice(),
            [HistoryEvent::Forked { at_step: 2, .. }]
        ));
        // A second fork with the same id, or with its steps out of order, is refused.
        assert!(
            store
                .fork(&fork, original.id, original.component, steps.clone())
                .await
                .is_err()
        );
        let other = record(InvocationState::Pending);
        let shuffled: Vec<StoredStep> = steps.into_iter().rev().collect();
        assert!(
            store
                .fork(&other, original.id, original.component, shuffled)
                .await
                .is_err()
        );
        assert!(store.invocation(&t(), other.id).expect("read").is_none());
        store.check_indexes().expect("indexes");
    }

    #[tokio::test]
    async fn an_idempotency_key_goes_when_its_window_is_over_and_not_before() {
        let (_dir, store) = open();
        let key = |name: &str| IdempotencyKey::new("invoke d.f".into(), name.into(), &[b"{}"]);
        let now = crate::clock::now_ms();
        let (old, young) = (
            record(InvocationState::Pending),
            record(InvocationState::Pending),
        );
        for (rec, name, at) in [
            (&old, "old", now - KEY_RETENTION_MS - 1),
            (&young, "young", now),
        ] {
            let op = Op::CreateInvocation {
                record: Box::new(rec.clone()),
                key: Some(key(name)),
                start_at_ms: None,
            };
            store.writer.submit_at(op, at).await.expect("create");
        }
        let expired = store.expired_keys(&t(), now, 10).expect("expired");
        assert_eq!(expired, vec![("invoke d.f".to_string(), "old".to_string())]);
        store
            .forget(&t(), Vec::new(), expired, 0)
            .await
            .expect("forget");
        assert!(
            store
                .expired_keys(&t(), now, 10)
                .expect("expired")
                .is_empty()
        );
        assert!(
            store
                .idempotency_key(&t(), "invoke d.f", "old")
                .expect("read")
                .is_none()
        );
        assert!(
            store
                .idempotency_key(&t(), "invoke d.f", "young")
                .expect("read")
                .is_some()
        );
        store.check_indexes().expect("indexes");
    }

    #[tokio::test]
    async fn a_move_leaves_every_row_to_one_store_and_is_decided_once() {
        use crate::storage::Moves;
        let (_da, a) = open();
        let (_db, b) = open_with_tenant().await;
        let component = b"\0asm component".to_vec();
        let mut rec = record(InvocationState::Running);
        rec.component = ComponentHash::of(&component);
        let id = rec.id;
        let deployment = Deployment {
            tenant: t(),
            name: "d".into(),
            component: rec.component,
            functions: vec!["f".into()],
            version: 0,
            size: component.len() as u64,
            deployed_at_ms: 1,
            policy: Default::default(),
        };
        a.deploy(deployment, component.clone())
            .await
            .expect("deploy");
        a.create_invocation(&rec).await.expect("create");
        append(&a, id, 0, 11).await.expect("step");
        let due = crate::clock::now_ms() + 3_600_000;
        let timer = [
            Awaitable::Timer { due_ms: due },
            Awaitable::Signal("s".into()),
        ];
        a.suspend(&rec, 1, AwaitMode::All, &timer, None)
            .await
            .expect("suspend");
        a.signal(&t(), id, "other", b"1".to_vec(), None)
            .await
            .expect("signal");
        assert_eq!(
            a.bundle(&t(), id, "", 1).expect("read"),
            None,
            "not leaving"
        );

        a.leave(&t(), id, 42, "http://b").await.expect("leave");
        assert_eq!(state(&a, id), InvocationState::Moved);
        assert_eq!(
            a.next_timer().expect("timers"),
            None,
            "nothing wakes it here"
        );
        for refused in [
            a.signal(&t(), id, "s", Vec::new(), None).await.map(drop),
            a.cancel(&t(), id).await.map(drop),
            a.pause(&t(), id).await.map(drop),
            a.leave(&t(), id, 43, "http://c").await.map(drop),
        ] {
            assert!(
                matches!(refused, Err(StoreError::Write(WriteError::Moved { ref to, .. })) if to == "http://b"),
                "{refused:?}"
            );
        }
        let bundle = a
            .bundle(&t(), id, "http://a", 5)
            .expect("read")
            .expect("leaving");
        assert_eq!(bundle.record.state, InvocationState::Suspended);
        assert_eq!(bundle.steps.len(), 1);
        assert_eq!(bundle.signals.len(), 1);
        assert!(bundle.wait.is_some());
        let bytes = bundle.to_bytes();
        assert_eq!(Bundle::from_bytes(&bytes).expect("round trip"), bundle);

        // The target imports it once; a refusal of the same move is then refused.
        b.import(bundle.clone()).await.expect("import");
        assert!(matches!(
            b.import(bundle.clone()).await,
            Err(StoreError::Write(WriteError::Arrived(42)))
        ));
        assert!(matches!(
            b.refuse_arrival(42, &t(), id).await,
            Err(StoreError::Write(WriteError::Arrived(42)))
        ));
        assert_eq!(state(&b, id), InvocationState::Suspended);
        assert_eq!(b.next_timer().expect("timers"), Some(due));
        assert_eq!(b.steps(id).expect("steps"), a.steps(id).expect("steps"));
        assert!(b.deployment(&t(), "d").expect("read").is_some());

        // The source drops its rows once, under that move only.
        assert!(matches!(
            a.depart(&t(), id, 7).await,
            Err(StoreError::Write(WriteError::NoSuchMove { .. }))
        ));
        a.depart(&t(), id, 42).await.expect("depart");
        a.depart(&t(), id, 42).await.expect("again: the same");
        assert!(a.steps(id).expect("steps").is_empty());
        assert_eq!(state(&a, id), InvocationState::Moved);
        assert!(matches!(
            a.stay_home(&t(), id, 42).await,
            Err(StoreError::Write(WriteError::NoSuchMove { .. }))
        ));

        // A refused move arrives never; the source takes it back as it was.
        b.leave(&t(), id, 77, "http://a").await.expect("leave b");
        b.refuse_arrival(77, &t(), id).await.expect("refuse");
        let late = b.bundle(&t(), id, "", 1).expect("read").expect("leaving");
        assert!(matches!(
            b.import(late).await,
            Err(StoreError::Write(WriteError::ArrivalRefused(77)))
        ));
        b.stay_home(&t(), id, 77).await.expect("stay");
        assert_eq!(state(&b, id), InvocationState::Suspended);
        assert_eq!(b.next_timer().expect("timers"), Some(due));

        // A parent with an unfinished child does not move as a bundle file.
        let (parent, _) = family(&a, 1).await;
        assert!(matches!(
            a.leave(&t(), parent.id, 9, "").await,
            Err(StoreError::Write(WriteError::Linked { .. }))
        ));
        a.check_indexes().expect("indexes of a");
        b.check_indexes().expect("indexes of b");
    }

    #[tokio::test]
    async fn a_parent_moves_away_from_its_children_and_takes_each_end_once() {
        use crate::storage::{Moves, Outbox};
        let (_da, a) = open();
        let (_db, b) = open_with_tenant().await;
        let mut parent = record(InvocationState::Running);
        parent.component = deploy_code(&a, b"\0asm family").await;
        let (parent, mut children) = family_of(&a, 2, parent).await;
        let items: Vec<_> = children.iter().map(|c| Awaitable::Child(c.id)).collect();
        a.suspend(&parent, 2, AwaitMode::All, &items, None)
            .await
            .expect("suspend");
        a.leave(&t(), parent.id, 5, "http://b")
            .await
            .expect("leave");
        // A child that ends while its parent is leaving wakes nothing: the move decides.
        children[0].finish(InvocationState::Completed, 9);
        let effects = a.update_invocation(&children[0]).await.expect("finish");
        assert!(effects.woken.is_empty());
        a.check_indexes()
            .expect("its awaited row is kept while it leaves");
        let bundle = a
            .bundle(&t(), parent.id, "http://a", 1)
            .expect("read")
            .expect("leaving");
        let nodes: Vec<_> = bundle
            .family
            .children
            .iter()
            .map(|c| c.node.as_str())
            .collect();
        assert_eq!(nodes, ["", "http://a"]);
        assert_eq!(bundle.family.awaited.len(), 2);
        let bundle = Bundle::from_bytes(&bundle.to_bytes()).expect("round trip");
        b.import(bundle).await.expect("import");
        // The target counted the end it carried, and forwards the other child to its node.
        let wait = b.wait_state(&t(), parent.id).expect("wait").expect("some");
        assert_eq!(wait.children_pending, 1);
        assert_eq!(state(&b, children[0].id), InvocationState::Completed);
        assert_eq!(state(&b, children[1].id), InvocationState::Moved);
        let to = b
            .departure(&t(), children[1].id)
            .expect("read")
            .map(|d| d.to);
        assert_eq!(to.as_deref(), Some("http://a"));
        a.depart(&t(), parent.id, 5).await.expect("depart");
        // The end that came during the move goes there too, and changes nothing there.
        let sent = a.outbox().expect("outbox");
        assert!(
            matches!(&sent[..], [(node, Message::ChildEnded(end))] if node == "http://b" && end.id == children[0].id),
            "{sent:?}"
        );
        b.child_ended(children[0].clone()).await.expect("again");
        let wait = b.wait_state(&t(), parent.id).expect("wait").expect("some");
        assert_eq!(wait.children_pending, 1);
        // The other child's end goes to the parent's new node, and wakes it there once.
        children[1].finish(InvocationState::Completed, 9);
        let effects = a.update_invocation(&children[1]).await.expect("finish");
        assert!(effects.outbox);
        let sent = a.outbox().expect("outbox");
        assert_eq!(sent.len(), 2, "{sent:?}");
        let effects = b.child_ended(children[1].clone()).await.expect("end");
        assert_eq!(effects.woken, vec![(t(), parent.id)]);
        b.child_ended(children[1].clone()).await.expect("again");
        assert_eq!(state(&b, parent.id), InvocationState::Pending);

        // A move the target refuses: the ends that came meanwhile count at home.
        let mut other = record(InvocationState::Running);
        other.component = parent.component;
        let (other, mut kids) = family_of(&a, 1, other).await;
        a.suspend(
            &other,
            1,
            AwaitMode::All,
            &[Awaitable::Child(kids[0].id)],
            None,
        )
        .await
        .expect("suspend");
        a.leave(&t(), other.id, 6, "http://b").await.expect("leave");
        kids[0].finish(InvocationState::Failed, 9);
        a.update_invocation(&kids[0]).await.expect("fail");
        let effects = a.stay_home(&t(), other.id, 6).await.expect("stay");
        assert_eq!(effects.woken, vec![(t(), other.id)]);
        assert_eq!(state(&a, other.id), InvocationState::Pending);
        a.check_indexes().expect("indexes of a");
        b.check_indexes().expect("indexes of b");
    }

    /// Moves `family`'s child (pinned to a deployed component) from `a` to `b` as move `m`.
    async fn move_child(a: &Store, b: &Store, child: &mut InvocationRecord, m: u128) {
        use crate::storage::Moves;
        let component = b"\0asm child".to_vec();
        child.component = ComponentHash::of(&component);
        a.update_invocation(child).await.expect("pin");
        let deployment = Deployment {
            tenant: t(),
            name: "d".into(),
            component: child.component,
            functions: vec!["f".into()],
            version: 0,
            size: component.len() as u64,
            deployed_at_ms: 1,
            policy: Default::default(),
        };
        a.deploy(deployment, component).await.expect("deploy");
        a.leave(&t(), child.id, m, "http://b").await.expect("leave");
        let bundle = a.bundle(&t(), child.id, "http://a", 5).expect("read");
        b.import(bundle.expect("leaving")).await.expect("import");
        a.depart(&t(), child.id, m).await.expect("depart");
    }

    #[tokio::test]
    async fn a_child_apart_from_its_parent_reports_its_end_once_and_takes_its_cancel() {
        use crate::storage::{Moves, Outbox};
        let (_da, a) = open();
        let (_db, b) = open_with_tenant().await;
        let (_parent, kids) = family(&a, 1).await;
        let mut kid = kids[0].clone();
        // Not as a bundle file: nothing would report its end.
        assert!(matches!(
            a.leave(&t(), kid.id, 1, "").await,
            Err(StoreError::Write(WriteError::Linked { .. }))
        ));
        move_child(&a, &b, &mut kid, 42).await;
        assert_eq!(state(&a, kid.id), InvocationState::Moved);
        assert!(a.outbox().expect("outbox").is_empty());

        // It ends on b: the end waits in b's outbox for a.
        kid.state = InvocationState::Running;
        kid.output = Some(b"84".to_vec());
        kid.finish(InvocationState::Completed, 9);
        b.update_invocation(&kid).await.expect("finish");
        let outbox = b.outbox().expect("outbox");
        assert_eq!(outbox.len(), 1);
        assert_eq!(outbox[0].0, "http://a");
        assert!(
            matches!(&outbox[0].1, Message::ChildEnded(end) if end.state == InvocationState::Completed)
        );
        // a takes it once: the forwarding record becomes its end; again changes nothing.
        for _ in 0..2 {
            a.child_ended(kid.clone()).await.expect("taken");
            let here = a.invocation(&t(), kid.id).expect("read").expect("record");
            assert_eq!(
                (here.state, here.output.as_deref()),
                (InvocationState::Completed, Some(&b"84"[..]))
            );
            assert_eq!(a.departure(&t(), kid.id).expect("read"), None);
        }
        b.delivered("http://a", vec![(t(), kid.id, 0)])
            .await
            .expect("delivered");
        assert!(b.outbox().expect("outbox").is_empty());
        // An end of something this node owns is refused.
        let (parent, kids) = family(&a, 1).await;
        let mut own = kids[0].clone();
        own.finish(InvocationState::Completed, 9);
        assert!(matches!(
            a.child_ended(own).await,
            Err(StoreError::Write(WriteError::NotAllowed { .. }))
        ));

        // Cancelling the parent here asks b to cancel the moved child; it stays moved here.
        let mut moved = kids[0].clone();
        move_child(&a, &b, &mut moved, 43).await;
        a.cancel(&t(), parent.id).await.expect("cancel");
        assert_eq!(state(&a, parent.id), InvocationState::Cancelled);
        assert_eq!(state(&a, moved.id), InvocationState::Moved);
        let outbox = a.outbox().expect("outbox");
        assert_eq!(outbox.len(), 1);
        assert_eq!(outbox[0].0, "http://b");
        assert!(
            matches!(&outbox[0].1, Message::Cancel { invocation, .. } if *invocation == moved.id)
        );
        a.check_indexes().expect("indexes of a");
        b.check_indexes().expect("indexes of b");
    }
}

#[cfg(test)]
mod version_tests {
    use super::*;
    use crate::journal::{InvocationState, UpgradePlan, WriteError};
    use crate::storage::{Access, Deployments, Invocations, Journals};

    fn t() -> TenantId {
        TenantId::from("t")
    }

    fn deployment(component: &[u8]) -> Deployment {
        Deployment {
            tenant: t(),
            name: "d".into(),
            component: ComponentHash::of(component),
            functions: vec!["f".into()],
            version: 0,
            size: component.len() as u64,
            deployed_at_ms: 1,
            policy: Default::default(),
        }
    }

    /// (version, unfinished, current) of name `d`.
    fn uses(store: &Store) -> Vec<(Option<u32>, u64, bool)> {
        store
            .versions(&t())
            .expect("versions")
            .iter()
            .map(|v| (v.version, v.unfinished, v.current))
            .collect()
    }

    #[tokio::test]
    async fn versions_stay_while_anything_unfinished_runs_on_them_and_upgrades_check_the_journal() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open(&dir.path().join("db")).expect("open");
        let (one, two) = (b"\0asm one".to_vec(), b"\0asm two".to_vec());
        store
            .deploy(deployment(&one), one.clone())
            .await
            .expect("v1");
        let mut rec = InvocationRecord::pending(
            &t(),
            "d",
            ComponentHash::of(&one),
            "f".into(),
            b"{}".to_vec(),
        );
        let id = rec.id;
        store.create_invocation(&rec).await.expect("create");
        store
            .deploy(deployment(&two), two.clone())
            .await
            .expect("v2");
        assert_eq!(uses(&store), [(Some(2), 0, true), (Some(1), 1, false)]);

        // Nothing is removed while the invocation runs on v1.
        store.drop_versions(&t(), None).await.expect("gc");
        assert_eq!(uses(&store).len(), 2);
        assert!(
            store
                .component(&ComponentHash::of(&one))
                .expect("read")
                .is_some()
        );

        // An upgrade checked against another journal, or from other code, is refused.
        let plan = |steps, from: &[u8]| UpgradePlan {
            steps,
            from: ComponentHash::of(from),
            to: ComponentHash::of(&two),
            to_version: 2,
        };
        for wrong in [plan(1, &one), plan(0, &two)] {
            assert!(matches!(
                store.upgrade(&t(), id, wrong).await,
                Err(StoreError::Write(WriteError::InvocationChanged(_)))
            ));
        }
        store
            .upgrade(&t(), id, plan(0, &one))
            .await
            .expect("upgrade");
        let upgraded = store.invocation(&t(), id).expect("read").expect("record");
        assert_eq!(upgraded.component, ComponentHash::of(&two));
        assert_eq!(store.history(id).expect("history").len(), 1);
        assert_eq!(uses(&store), [(Some(2), 1, true), (Some(1), 0, false)]);

        // v1 runs nothing now: it goes, with its bytes and what they counted.
        let stored = store.stored_bytes(&t()).expect("usage");
        store.drop_versions(&t(), None).await.expect("gc");
        assert_eq!(uses(&store), [(Some(2), 1, true)]);
        assert!(
            store
                .component(&ComponentHash::of(&one))
                .expect("read")
                .is_none()
        );
        assert_eq!(
            store.stored_bytes(&t()).expect("usage"),
            stored - one.len() as u64
        );
        // The current version stays even once nothing runs on it.
        rec = upgraded;
        rec.finish(InvocationState::Completed, 5);
        store.update_invocation(&rec).await.expect("finish");
        store.drop_versions(&t(), None).await.expect("gc");
        assert_eq!(uses(&store), [(Some(2), 0, true)]);
        assert!(
            store
                .component(&ComponentHash::of(&two))
                .expect("read")
                .is_some()
        );
        store.check_indexes().expect("indexes");
    }
}
