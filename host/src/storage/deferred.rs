//! Deferred creation: an invocation whose caller waits for its result is written with its
//! first durable write (its first step, or how it ended), not in a write of its own before it
//! runs. Until then it exists only in the process running it, which is as if the request had
//! not arrived: a crash loses it, and its caller sees the request fail. Anything with an
//! effect outside (an HTTP request), a suspension, or a caller that stops waiting makes it
//! durable first.

use tokio::sync::Mutex;

use super::Invocations;
use crate::journal::{InvocationRecord, StoreError};

/// An invocation record whose creation rides on its first durable write.
#[derive(Debug)]
pub struct Deferred {
    record: InvocationRecord,
    created: Mutex<bool>,
}

impl Deferred {
    /// `record`, not written yet.
    pub fn new(record: InvocationRecord) -> Self {
        Deferred {
            record,
            created: Mutex::new(false),
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
