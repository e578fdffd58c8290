//! What guests wrote to stdout and stderr, kept per invocation (see `journal::output`).

use async_trait::async_trait;

use crate::ids::{InvocationId, TenantId};
use crate::journal::{OutputLine, StoreError};

/// Stores the lines guests wrote.
#[async_trait]
pub trait Output: Send + Sync {
    /// The kept lines of invocation `id`'s output, in the order they were written.
    fn output(&self, id: InvocationId) -> Result<Vec<OutputLine>, StoreError>;

    /// Durably keeps those of `lines` of `tenant`'s `id` not kept already.
    async fn put_output(
        &self,
        tenant: &TenantId,
        id: InvocationId,
        lines: Vec<OutputLine>,
    ) -> Result<(), StoreError>;
}
