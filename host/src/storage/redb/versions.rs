//! The embedded backend's reads of versions and of what is pinned to them, shared by the
//! writer's transaction (`Tables`) and the store's read transactions: the same scans whoever
//! asks.
//!
//! The unfinished invocations are found through the indexes that hold exactly them —
//! runnable (pending, running), waits (suspended, scheduled), paused, and the departures of
//! those leaving — so the cost follows the unfinished work, not every invocation kept.

use std::collections::BTreeSet;

use redb::{ReadableTable, TableDefinition};

use super::schema::{DEPARTURES, DEPLOYMENTS, INVOCATIONS, PAUSED, RUNNABLE, VERSIONS, WAITS};
use crate::ids::TenantId;
use crate::journal::codec::decode;
use crate::journal::rows::RowResult;
use crate::journal::{Departure, Deployment, InvocationRecord, Phase, decode_deployment};

/// The range of `tenant`'s keys in a table keyed by tenant first (every key if `None`).
fn of(tenant: Option<&TenantId>) -> (&str, Option<&str>) {
    match tenant {
        Some(t) => (t.as_str(), Some(t.as_str())),
        None => ("", None),
    }
}

/// The kept versions of `tenant` (of every tenant if `None`) in `table`.
pub(super) fn versions(
    table: &impl ReadableTable<(&'static str, &'static str, u32), &'static [u8]>,
    tenant: Option<&TenantId>,
) -> RowResult<Vec<Deployment>> {
    let (from, only) = of(tenant);
    let mut out = Vec::new();
    for row in table.range((from, "", 0)..)? {
        let (k, v) = row?;
        if only.is_some_and(|t| t != k.value().0) {
            break;
        }
        out.push(decode_deployment(v.value())?);
    }
    Ok(out)
}

/// The deployments of `tenant` (of every tenant if `None`) in `table`.
pub(super) fn deployments(
    table: &impl ReadableTable<(&'static str, &'static str), &'static [u8]>,
    tenant: Option<&TenantId>,
) -> RowResult<Vec<Deployment>> {
    let (from, only) = of(tenant);
    let mut out = Vec::new();
    for row in table.range((from, "")..)? {
        let (k, v) = row?;
        if only.is_some_and(|t| t != k.value().0) {
            break;
        }
        // A deployment that no longer decodes points at nothing it can be told.
        if let Ok(d) = decode_deployment(v.value()) {
            out.push(d);
        }
    }
    Ok(out)
}

/// The keys of `tenant` (of every tenant if `None`) in a table keyed by (tenant, id).
fn ids<V: redb::Value + 'static>(
    table: &impl ReadableTable<(&'static str, u128), V>,
    tenant: Option<&TenantId>,
    keep: impl Fn(V::SelfType<'_>) -> RowResult<bool>,
    into: &mut BTreeSet<(String, u128)>,
) -> RowResult<()> {
    let (from, only) = of(tenant);
    for row in table.range((from, 0u128)..)? {
        let (k, v) = row?;
        let (t, id) = k.value();
        if only.is_some_and(|only| only != t) {
            break;
        }
        if keep(v.value())? {
            into.insert((t.to_string(), id));
        }
    }
    Ok(())
}

/// The tables [`unfinished`] reads.
pub(super) struct Indexes<'t, R, W, P, D, I> {
    pub runnable: &'t R,
    pub waits: &'t W,
    pub paused: &'t P,
    pub departures: &'t D,
    pub invocations: &'t I,
}

/// The records of the unfinished or leaving invocations of `tenant` (every tenant's if `None`).
pub(super) fn unfinished<R, W, P, D, I>(
    tables: Indexes<'_, R, W, P, D, I>,
    tenant: Option<&TenantId>,
) -> RowResult<Vec<InvocationRecord>>
where
    R: ReadableTable<(&'static str, u128), ()>,
    W: ReadableTable<(&'static str, u128), &'static [u8]>,
    P: ReadableTable<(&'static str, u128), &'static [u8]>,
    D: ReadableTable<(&'static str, u128), &'static [u8]>,
    I: ReadableTable<(&'static str, u128), &'static [u8]>,
{
    let mut keys = BTreeSet::new();
    ids(tables.runnable, tenant, |_| Ok(true), &mut keys)?;
    ids(tables.waits, tenant, |_| Ok(true), &mut keys)?;
    ids(tables.paused, tenant, |_| Ok(true), &mut keys)?;
    ids(
        tables.departures,
        tenant,
        |v| Ok(decode::<Departure>("departure", v)?.phase == Phase::Leaving),
        &mut keys,
    )?;
    let mut out = Vec::with_capacity(keys.len());
    for (tenant, id) in keys {
        let Some(value) = tables.invocations.get((tenant.as_str(), id))? else {
            continue;
        };
        let record: InvocationRecord = decode("invocation", value.value())?;
        if !record.state.is_terminal() {
            out.push(record);
        }
    }
    Ok(out)
}

/// Opens what [`unfinished`] reads in read transaction `txn`, and reads it.
pub(super) fn unfinished_in(
    txn: &redb::ReadTransaction,
    tenant: Option<&TenantId>,
) -> RowResult<Vec<InvocationRecord>> {
    let open = |t: TableDefinition<(&'static str, u128), &'static [u8]>| txn.open_table(t);
    unfinished(
        Indexes {
            runnable: &txn.open_table(RUNNABLE)?,
            waits: &open(WAITS)?,
            paused: &open(PAUSED)?,
            departures: &open(DEPARTURES)?,
            invocations: &open(INVOCATIONS)?,
        },
        tenant,
    )
}

/// Opens the versions and deployments in read transaction `txn`, and reads `tenant`'s.
pub(super) fn kept_in(
    txn: &redb::ReadTransaction,
    tenant: Option<&TenantId>,
) -> RowResult<(Vec<Deployment>, Vec<Deployment>)> {
    Ok((
        versions(&txn.open_table(VERSIONS)?, tenant)?,
        deployments(&txn.open_table(DEPLOYMENTS)?, tenant)?,
    ))
}
