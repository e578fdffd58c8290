//! The timer service: wakes suspended invocations whose timers are due.
//!
//! Timers live only in redb (`timers`, ordered by due time); the service keeps nothing per
//! timer in memory. It reads the due ones in batches and hands each to the writer, which
//! removes the row and, if that ends the invocation's wait, makes it pending (the service
//! then starts it); then it sleeps until the earliest remaining timer, or until a new timer
//! may be earlier.

use std::time::Duration;

use super::Scheduler;
use crate::ids::{InvocationId, TenantId};
use crate::journal::StoreError;

/// Timers woken per round.
const BATCH: usize = 1024;
/// Longest sleep between two looks at the timers table.
const MAX_IDLE: Duration = Duration::from_secs(1);

/// Runs the service until the process ends.
pub(super) async fn run(scheduler: Scheduler) {
    loop {
        // Before reading the timers: a skip while they are read wakes the sleep below.
        let mut skips = crate::clock::skips();
        let next = match wake_due(&scheduler).await {
            Ok(next) => next,
            Err(err) => {
                tracing::error!("timer service: {err}");
                Some(Duration::from_millis(100))
            }
        };
        let Some(wait) = next else { continue };
        tokio::select! {
            _ = tokio::time::sleep(wait.min(MAX_IDLE)) => {}
            _ = scheduler.inner.timers_changed.notified() => {}
            _ = skips.changed() => {}
        }
    }
}

/// Wakes one batch of due timers; returns how long to sleep, or `None` to go on at once.
async fn wake_due(scheduler: &Scheduler) -> Result<Option<Duration>, StoreError> {
    let now = crate::clock::now_ms();
    let due = scheduler.inner.store.due_timers(now, BATCH)?;
    let full = due.len() == BATCH;
    let wakes: Vec<_> = due
        .into_iter()
        .map(|(due_ms, tenant, id)| {
            let scheduler = scheduler.clone();
            tokio::spawn(async move { wake(&scheduler, due_ms, tenant, id).await })
        })
        .collect();
    for wake in wakes {
        match wake.await {
            Ok(Err(err)) => tracing::error!("cannot wake an invocation: {err}"),
            Err(err) => tracing::error!("wake task failed: {err}"),
            Ok(Ok(())) => {}
        }
    }
    if full {
        return Ok(None);
    }
    let now = crate::clock::now_ms();
    Ok(Some(match scheduler.inner.store.next_timer()? {
        Some(due) => Duration::from_millis(due.saturating_sub(now)),
        None => MAX_IDLE,
    }))
}

/// Durably handles one due timer row; starts the invocation if that ends its wait.
async fn wake(
    scheduler: &Scheduler,
    due_ms: u64,
    tenant: TenantId,
    id: InvocationId,
) -> Result<(), StoreError> {
    let effects = scheduler.inner.store.timer_due(due_ms, &tenant, id).await?;
    scheduler.inner.apply(effects);
    Ok(())
}
