//! Messages to other nodes about parents and children apart, kept until acknowledged.

use async_trait::async_trait;

use crate::ids::{InvocationId, TenantId};
use crate::journal::{Effects, InvocationRecord, Message, StoreError};

/// Stores the outbox and takes the ends of children that moved away.
#[async_trait]
pub trait Outbox: Send + Sync {
    /// Every message not yet acknowledged, with the node it goes to.
    fn outbox(&self) -> Result<Vec<(String, Message)>, StoreError>;

    /// Takes the end of a child that moved away from this node (once; again, it changes
    /// nothing).
    async fn child_ended(&self, record: InvocationRecord) -> Result<Effects, StoreError>;

    /// Drops the messages `node` acknowledged: (tenant, invocation, kind).
    async fn delivered(
        &self,
        node: &str,
        messages: Vec<(TenantId, InvocationId, u8)>,
    ) -> Result<(), StoreError>;
}
