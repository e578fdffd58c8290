//! Deferred creation: an invocation whose caller waits for its result is written with its
//! first durable write (its first step, or how it ended), not in a write of its own before it
//! runs. Until then it exists only in the process running it, which is as if the request had
//! not arrived: a crash loses it, and its caller sees the request fail. Anything with an
//! effect outside (an HTTP request), a suspension, or a caller that stops waiting makes it
//! durable first.
//!
//! While it is not durable it is counted in a counter of its own (its tenant's, for the
//! `max_waiting` quota, which the store's counts cannot see yet): once, until it is written
//! or dropped.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use tokio::sync::Mutex;

use super::Invocations;
use crate::ids::TenantId;
use crate::journal::{InvocationRecord, StoreError};

/// Per tenant, how many of its deferred invocations are not durable yet.
#[derive(Debug, Default)]
pub struct NotDurable(std::sync::Mutex<HashMap<TenantId, Arc<AtomicU64>>>);

impl NotDurable {
    /// The counter of `tenant`.
    pub fn counter(&self, tenant: &TenantId) -> Arc<AtomicU64> {
        match self.0.lock() {
            Ok(mut all) => all.entry(tenant.clone()).or_default().clone(),
            // Poisoned: count nothing rather than refuse everything.
            Err(_) => Arc::default(),
        }
    }

    /// How many of `tenant`'s are not durable now.
    pub fn count(&self, tenant: &TenantId) -> u64 {
        self.0
            .lock()
            .ok()
            .and_then(|all| all.get(tenant).map(|c| c.load(Ordering::Relaxed)))
            .unwrap_or(0)
    }
}

/// An invocation record whose creation rides on its first durable write.
#[derive(Debug)]
pub struct Deferred {
    record: InvocationRecord,
    created: Mutex<bool>,
    /// Counts this record while it is not durable.
    not_durable: Arc<AtomicU64>,
    /// Whether it is still counted there.
    counted: AtomicBool,
}

impl Deferred {
    /// `record`, not written yet, counted in `not_durable` until it is.
    pub fn new(record: InvocationRecord, not_durable: Arc<AtomicU64>) -> Self {
        not_durable.fetch_add(1, Ordering::Relaxed);
        Deferred {
            record,
            created: Mutex::new(false),
            not_durable,
            counted: AtomicBool::new(true),
        }
    }

    /// Stops counting it (once).
    fn uncount(&self) {
        if self.counted.swap(false, Ordering::Relaxed) {
            self.not_durable.fetch_sub(1, Ordering::Relaxed);
        }
    }

    /// The record as it will be created.
    pub fn record(&self) -> &InvocationRecord {
        &self.record
    }

    /// Runs `write`, passing the record to create in the same transaction if it is not
    /// durable yet; once `write` succeeds it is.
    pub async fn write_with<T, E>(
        &self,
        write: impl AsyncFnOnce(Option<&InvocationRecord>) -> Result<T, E>,
    ) -> Result<T, E> {
        let mut created = self.created.lock().await;
        let result = write((!*created).then_some(&self.record)).await;
        if result.is_ok() {
            *created = true;
            self.uncount();
        }
        result
    }

    /// Makes the record durable on its own if nothing has yet.
    pub async fn ensure<S: Invocations + ?Sized>(&self, store: &S) -> Result<(), StoreError> {
        self.write_with(async |create| match create {
            Some(record) => store.create_invocation(record).await,
            None => Ok(()),
        })
        .await
    }
}

impl Drop for Deferred {
    fn drop(&mut self) {
        self.uncount();
    }
}
