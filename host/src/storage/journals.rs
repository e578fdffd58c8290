//! Journals: the steps of each invocation, and the attempts of HTTP steps between retries.

use std::ops::RangeInclusive;

use async_trait::async_trait;

use crate::ids::{InvocationId, TenantId};
use crate::journal::{InvocationRecord, Recorded, RetryState, StepEffect, StepEntry, StoreError};

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
}
