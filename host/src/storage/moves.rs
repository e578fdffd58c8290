//! Moves between nodes: the bundle an invocation leaves as, the departure the node it leaves
//! keeps, and the arrival the node it goes to records.

use async_trait::async_trait;

use crate::ids::{InvocationId, TenantId};
use crate::journal::{Arrival, Bundle, Departure, Effects, StoreError};

/// Stores moves in and out of this node.
#[async_trait]
pub trait Moves: Send + Sync {
    /// The departure of `id` of `tenant`, if it left or is leaving.
    fn departure(
        &self,
        tenant: &TenantId,
        id: InvocationId,
    ) -> Result<Option<Departure>, StoreError>;
    /// Every departure still leaving (undecided): (tenant, id, departure).
    fn leaving(&self) -> Result<Vec<(TenantId, InvocationId, Departure)>, StoreError>;
    /// The arrival recorded under move `move_id`.
    fn arrival(&self, move_id: u128) -> Result<Option<Arrival>, StoreError>;
    /// The bundle of leaving invocation `id` (`None` unless it is leaving), made by
    /// `from_node` at `now_ms`.
    fn bundle(
        &self,
        tenant: &TenantId,
        id: InvocationId,
        from_node: &str,
        now_ms: u64,
    ) -> Result<Option<Bundle>, StoreError>;
    /// Durably starts moving unfinished `id` out as move `move_id`, to `to`.
    async fn leave(
        &self,
        tenant: &TenantId,
        id: InvocationId,
        move_id: u128,
        to: &str,
    ) -> Result<Effects, StoreError>;
    /// Durably records that move `move_id` of `id` arrived: its rows here go.
    async fn depart(
        &self,
        tenant: &TenantId,
        id: InvocationId,
        move_id: u128,
    ) -> Result<(), StoreError>;
    /// Durably takes back `id`, whose move `move_id` was refused.
    async fn stay_home(
        &self,
        tenant: &TenantId,
        id: InvocationId,
        move_id: u128,
    ) -> Result<Effects, StoreError>;
    /// Durably owns the invocation in `bundle` (refused if its move arrived or was refused).
    async fn import(&self, bundle: Bundle) -> Result<Effects, StoreError>;
    /// Durably refuses move `move_id` of `id` before it arrives (refused with
    /// `WriteError::Arrived` if it did).
    async fn refuse_arrival(
        &self,
        move_id: u128,
        tenant: &TenantId,
        id: InvocationId,
    ) -> Result<(), StoreError>;
}
