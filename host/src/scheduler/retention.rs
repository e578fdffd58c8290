//! The retention sweep: removes each tenant's invocations that finished longer ago than its
//! `retention_secs`, with their journals, and the idempotency keys that no longer hold.
//!
//! It reads the `finished` index (oldest first) and hands the writer small batches, so a
//! sweep never holds the writer for long; a child whose parent has not finished is left for
//! a later sweep. Removed data frees its pages in the database file for reuse and no longer
//! counts towards `stored_bytes`.

use std::time::Duration;

use super::Scheduler;
use crate::ids::TenantId;
use crate::journal::StoreError;

/// Invocations removed per write.
const BATCH: usize = 256;
/// Idempotency keys removed per write.
const KEYS_BATCH: usize = 1024;

/// What a sweep of one tenant removed, or (dry) would remove.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Swept {
    /// Finished invocations (with their journals).
    pub invocations: u64,
    /// Idempotency keys.
    pub keys: u64,
    /// The finishing time before which invocations went (ms since the Unix epoch).
    pub before_ms: u64,
}

/// Sweeps every tenant every `every`, until the process ends.
pub(super) async fn run(scheduler: Scheduler, every: Duration) {
    loop {
        tokio::time::sleep(every).await;
        let tenants = match scheduler.inner.store.tenants() {
            Ok(tenants) => tenants,
            Err(err) => {
                tracing::error!("retention sweep: {err}");
                continue;
            }
        };
        for tenant in tenants {
            match sweep(&scheduler, &tenant.name, false).await {
                Ok(swept) if swept.invocations + swept.keys > 0 => {
                    tracing::info!(tenant = %tenant.name, invocations = swept.invocations,
                        keys = swept.keys, "retention sweep removed finished work");
                }
                Ok(_) => {}
                Err(err) => tracing::error!(tenant = %tenant.name, "retention sweep: {err}"),
            }
        }
    }
}

/// Removes (or, `dry_run`, counts) what `tenant`'s retention lets go now.
pub(super) async fn sweep(
    scheduler: &Scheduler,
    tenant: &TenantId,
    dry_run: bool,
) -> Result<Swept, StoreError> {
    let store = &scheduler.inner.store;
    let limits = scheduler.inner.limits(tenant)?;
    let now = crate::clock::now_ms();
    let before_ms = now.saturating_sub(limits.retention_secs.saturating_mul(1000));
    let invocations = drain(
        BATCH,
        dry_run,
        |limit| store.finished_before(tenant, before_ms, limit),
        |due| store.forget(tenant, due, Vec::new(), before_ms),
    )
    .await?;
    let keys = drain(
        KEYS_BATCH,
        dry_run,
        |limit| store.expired_keys(tenant, now, limit),
        |expired| store.forget(tenant, Vec::new(), expired, before_ms),
    )
    .await?;
    Ok(Swept {
        invocations,
        keys,
        before_ms,
    })
}

/// Removes what `due(limit)` names, `batch` at a time, with `forget`, until nothing is left
/// or the last write removed nothing (the next sweep retries); or, `dry_run`, only counts
/// it. Returns how many.
async fn drain<T: PartialEq + Clone, F: Future<Output = Result<(), StoreError>>>(
    batch: usize,
    dry_run: bool,
    due: impl Fn(usize) -> Result<Vec<T>, StoreError>,
    forget: impl Fn(Vec<T>) -> F,
) -> Result<u64, StoreError> {
    if dry_run {
        return Ok(due(usize::MAX)?.len() as u64);
    }
    let (mut count, mut previous) = (0, Vec::new());
    loop {
        let next = due(batch)?;
        if next.is_empty() || next == previous {
            return Ok(count);
        }
        let full = next.len() == batch;
        count += next.len() as u64;
        forget(next.clone()).await?;
        if !full {
            return Ok(count);
        }
        previous = next;
    }
}
