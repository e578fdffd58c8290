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
    let mut swept = Swept {
        before_ms,
        ..Swept::default()
    };
    if dry_run {
        swept.invocations = store.finished_before(tenant, before_ms, usize::MAX)?.len() as u64;
    } else {
        let mut previous = Vec::new();
        loop {
            let due = store.finished_before(tenant, before_ms, BATCH)?;
            // Nothing left, or nothing the last write could remove: the next sweep retries.
            if due.is_empty() || due == previous {
                break;
            }
            let full = due.len() == BATCH;
            swept.invocations += due.len() as u64;
            store
                .forget(tenant, due.clone(), Vec::new(), before_ms)
                .await?;
            if !full {
                break;
            }
            previous = due;
        }
    }
    if dry_run {
        swept.keys = store.expired_keys(tenant, now, usize::MAX)?.len() as u64;
        return Ok(swept);
    }
    let mut previous = Vec::new();
    loop {
        let expired = store.expired_keys(tenant, now, KEYS_BATCH)?;
        if expired.is_empty() || expired == previous {
            break;
        }
        let full = expired.len() == KEYS_BATCH;
        swept.keys += expired.len() as u64;
        store
            .forget(tenant, Vec::new(), expired.clone(), before_ms)
            .await?;
        if !full {
            break;
        }
        previous = expired;
    }
    Ok(swept)
}
