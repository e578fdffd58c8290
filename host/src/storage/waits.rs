//! Waits of suspended invocations and the durable timers that end them.

use async_trait::async_trait;

use crate::ids::{InvocationId, TenantId};
use crate::journal::{
    AwaitMode, Awaitable, Effects, InvocationRecord, RetryState, StoreError, WaitState,
};

/// Stores waits and timers.
#[async_trait]
pub trait Waits: Send + Sync {
    /// The wait of suspended invocation `id` of `tenant`.
    fn wait_state(
        &self,
        tenant: &TenantId,
        id: InvocationId,
    ) -> Result<Option<WaitState>, StoreError>;

    /// Timers due at or before `now_ms`, earliest first: (due, tenant, id), at most `limit`.
    fn due_timers(
        &self,
        now_ms: u64,
        limit: usize,
    ) -> Result<Vec<(u64, TenantId, InvocationId)>, StoreError>;

    /// When the earliest timer is due (ms since the Unix epoch).
    fn next_timer(&self) -> Result<Option<u64>, StoreError>;

    /// Durably suspends `record` on `items` (its wait step is `seq`; `retry` keeps the
    /// attempts of an HTTP step waiting to be retried); if they already satisfy the wait it
    /// becomes pending instead and is among the woken.
    async fn suspend(
        &self,
        record: &InvocationRecord,
        seq: u32,
        mode: AwaitMode,
        items: &[Awaitable],
        retry: Option<RetryState>,
    ) -> Result<Effects, StoreError>;

    /// Durably handles the timer (`due_ms`, `id`) falling due.
    async fn timer_due(
        &self,
        due_ms: u64,
        tenant: &TenantId,
        id: InvocationId,
    ) -> Result<Effects, StoreError>;
}
