//! Signals sent to invocations and kept until they receive them.

use async_trait::async_trait;

use crate::ids::{InvocationId, TenantId};
use crate::journal::{Effects, IdempotencyKey, StoreError};

/// Stores signals.
#[async_trait]
pub trait Signals: Send + Sync {
    /// The first `limit` signals named `name` that `id` has not received yet, in arrival
    /// order: (arrival number, payload).
    fn signals(
        &self,
        tenant: &TenantId,
        id: InvocationId,
        name: &str,
        limit: usize,
    ) -> Result<Vec<(u64, Vec<u8>)>, StoreError>;

    /// Durably delivers signal `name` with `payload` to unfinished invocation `id`, under
    /// idempotency `key` if given (a repeat is refused with `WriteError::Duplicate`).
    async fn signal(
        &self,
        tenant: &TenantId,
        id: InvocationId,
        name: &str,
        payload: Vec<u8>,
        key: Option<IdempotencyKey>,
    ) -> Result<Effects, StoreError>;
}
