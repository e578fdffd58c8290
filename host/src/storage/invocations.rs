//! Invocation records, their per-state counts, and the parent-child links between them.

use async_trait::async_trait;

use crate::ids::{InvocationId, TenantId};
use crate::journal::{
    Effects, IdempotencyKey, InvocationRecord, InvocationState, KeyName, KeyedRequest, StoreError,
};

/// Stores invocation records.
#[async_trait]
pub trait Invocations: Send + Sync {
    /// The record of invocation `id` of `tenant`.
    fn invocation(
        &self,
        tenant: &TenantId,
        id: InvocationId,
    ) -> Result<Option<InvocationRecord>, StoreError>;

    /// The records of `ids` of `tenant`, in order, read at one point in time.
    fn invocations_by_id(
        &self,
        tenant: &TenantId,
        ids: &[InvocationId],
    ) -> Result<Vec<Option<InvocationRecord>>, StoreError>;

    /// Invocations of `tenant` that `keep` accepts, newest first, older than `before` if
    /// given (a page's cursor), at most `limit`.
    fn invocations(
        &self,
        tenant: &TenantId,
        keep: &(dyn Fn(&InvocationRecord) -> bool + Sync),
        before: Option<InvocationId>,
        limit: usize,
    ) -> Result<Vec<InvocationRecord>, StoreError> {
        let page = Page {
            before,
            from: None,
            limit,
            budget: usize::MAX,
            state: None,
        };
        Ok(self.invocations_page(tenant, keep, page)?.0)
    }

    /// The invocations of `tenant` that `keep` accepts within `page`, newest first; and,
    /// when the page's budget ran out first, the id to go on from (as `before`).
    fn invocations_page(
        &self,
        tenant: &TenantId,
        keep: &(dyn Fn(&InvocationRecord) -> bool + Sync),
        page: Page,
    ) -> Result<(Vec<InvocationRecord>, Option<InvocationId>), StoreError>;

    /// Children that `parent` of `tenant` dispatched, newest first, at most `limit`.
    fn children(
        &self,
        tenant: &TenantId,
        parent: InvocationId,
        limit: usize,
    ) -> Result<Vec<InvocationRecord>, StoreError>;

    /// How many invocations of `tenant` are in each state (states with none are left out).
    fn counts(&self, tenant: &TenantId) -> Result<Vec<(InvocationState, u64)>, StoreError>;

    /// How many invocations are in each state, for every tenant: (tenant, state, count).
    fn all_counts(&self) -> Result<Vec<(TenantId, InvocationState, u64)>, StoreError>;

    /// (tenant, id) of every pending or running invocation: what to resume at start.
    fn runnable_invocations(&self) -> Result<Vec<(TenantId, InvocationId)>, StoreError>;

    /// Durably writes `record`, creating it if `create` (refused if it exists) and replacing
    /// the unfinished record otherwise; returns the invocations its finishing woke.
    async fn put(&self, record: &InvocationRecord, create: bool) -> Result<Effects, StoreError>;

    /// The row of idempotency key `key` within `scope` of `tenant`, if there is one.
    fn idempotency_key(
        &self,
        tenant: &TenantId,
        scope: &str,
        key: &str,
    ) -> Result<Option<KeyedRequest>, StoreError>;

    /// Invocations of `tenant` that finished by `before_ms`, oldest first, at most `limit`
    /// (not a child whose parent has not finished: the parent may still read its end).
    fn finished_before(
        &self,
        tenant: &TenantId,
        before_ms: u64,
        limit: usize,
    ) -> Result<Vec<InvocationId>, StoreError>;

    /// Idempotency keys (scope, key) of `tenant` whose window is over at `now_ms`, oldest
    /// first, at most `limit`.
    fn expired_keys(
        &self,
        tenant: &TenantId,
        now_ms: u64,
        limit: usize,
    ) -> Result<Vec<KeyName>, StoreError>;

    /// Durably removes `invocations` that finished by `before_ms`, with their journals, and
    /// `keys` that no longer hold (what is not due is left).
    async fn forget(
        &self,
        tenant: &TenantId,
        invocations: Vec<InvocationId>,
        keys: Vec<KeyName>,
        before_ms: u64,
    ) -> Result<(), StoreError>;

    /// Durably pauses unfinished invocation `id` (a paused one stays so).
    async fn pause(&self, tenant: &TenantId, id: InvocationId) -> Result<Effects, StoreError>;

    /// Durably pauses pending or running `record` (its reason in `failure`) because the host's
    /// attempts ran out, dropping the kept attempts of HTTP step `seq` if given.
    async fn pause_exhausted(
        &self,
        record: &InvocationRecord,
        seq: Option<u32>,
    ) -> Result<Effects, StoreError>;

    /// Durably resumes paused invocation `id` where it was.
    async fn resume(&self, tenant: &TenantId, id: InvocationId) -> Result<Effects, StoreError>;

    /// Durably cancels unfinished invocation `id` and its attached descendants.
    async fn cancel(&self, tenant: &TenantId, id: InvocationId) -> Result<Effects, StoreError>;

    /// Durably creates a new invocation record.
    async fn create_invocation(&self, record: &InvocationRecord) -> Result<(), StoreError> {
        self.put(record, true).await.map(drop)
    }

    /// Durably creates pending `record` under idempotency `key` (refused with
    /// `WriteError::Duplicate` or `KeyReused` while the key holds), and, with `start_at_ms`
    /// still to come, scheduled to start then.
    async fn create_invocation_with(
        &self,
        record: &InvocationRecord,
        key: Option<IdempotencyKey>,
        start_at_ms: Option<u64>,
    ) -> Result<(), StoreError>;

    /// Durably replaces an unfinished invocation record; returns the invocations its
    /// finishing woke.
    async fn update_invocation(&self, record: &InvocationRecord) -> Result<Effects, StoreError> {
        self.put(record, false).await
    }
}

/// Which part of a tenant's invocations a list reads (newest first).
#[derive(Clone, Copy, Debug)]
pub struct Page {
    /// Only ids below this one (the cursor of the page before).
    pub before: Option<InvocationId>,
    /// Only ids from this one on (ids begin with their creation time).
    pub from: Option<InvocationId>,
    /// At most this many kept.
    pub limit: usize,
    /// At most this many looked at.
    pub budget: usize,
    /// Only invocations stored in a state of this one's group (pending and running are one;
    /// see `InvocationState::listed_group`): the backend reads its index of them instead of
    /// every invocation, and `keep` still decides.
    pub state: Option<InvocationState>,
}
