//! Journals: the steps of each invocation, their history (rewinds, forks), and the attempts
//! of HTTP steps between retries.

use std::ops::RangeInclusive;

use async_trait::async_trait;

use crate::ids::{ComponentHash, InvocationId, TenantId};
use crate::journal::{
    Effects, HistoryEvent, InvocationRecord, Recorded, RetryState, RewindPlan, StepEffect,
    StepEntry, StoreError, StoredStep,
};

/// Stores journals: the steps of each invocation.
#[async_trait]
pub trait Journals: Send + Sync {
    /// The steps `seqs` of invocation `id`'s journal as stored, to be decoded as they are
    /// read.
    fn recorded_range(
        &self,
        id: InvocationId,
        seqs: RangeInclusive<u32>,
    ) -> Result<Recorded, StoreError>;

    /// The journal of invocation `id` as stored, to be decoded as a replay goes.
    fn recorded(&self, id: InvocationId) -> Result<Recorded, StoreError> {
        self.recorded_range(id, 0..=u32::MAX)
    }

    /// The attempts made so far by HTTP step `seq` of `id`, if it waits to be retried.
    fn retry_state(&self, id: InvocationId, seq: u32) -> Result<Option<RetryState>, StoreError>;

    /// Durably appends `entry` as step `seq` of `id` with what it entails (`effect`), first
    /// creating the invocation from `create` in the same write if given (a deferred
    /// creation); refused if that step exists or the invocation is not pending or running.
    async fn append_step(
        &self,
        tenant: &TenantId,
        id: InvocationId,
        seq: u32,
        entry: &StepEntry,
        effect: StepEffect,
        create: Option<&InvocationRecord>,
    ) -> Result<(), StoreError>;

    /// The journal of invocation `id`: (sequence number, entry) in order.
    fn steps(&self, id: InvocationId) -> Result<Vec<(u32, StepEntry)>, StoreError> {
        Ok(self.recorded(id)?.decode_all()?)
    }

    /// The history of invocation `id`'s journal (its rewinds and the fork that made it),
    /// oldest first.
    fn history(&self, id: InvocationId) -> Result<Vec<HistoryEvent>, StoreError>;

    /// How many events the history of `id` holds (0 for almost every invocation).
    fn history_len(&self, id: InvocationId) -> Result<u32, StoreError>;

    /// Durably rewinds finished or paused invocation `id` as `plan` says (refused with
    /// `WriteError::InvocationChanged` if it is no longer as the plan saw it); returns what
    /// it woke and cancelled.
    async fn rewind(
        &self,
        tenant: &TenantId,
        id: InvocationId,
        plan: RewindPlan,
    ) -> Result<Effects, StoreError>;

    /// Durably creates pending `record` as a fork of `from` (pinned to `from_component`)
    /// with `steps`, its first steps as stored.
    async fn fork(
        &self,
        record: &InvocationRecord,
        from: InvocationId,
        from_component: ComponentHash,
        steps: Vec<StoredStep>,
    ) -> Result<Effects, StoreError>;
}
