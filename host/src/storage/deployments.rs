//! Deployments and the components they point at.

use async_trait::async_trait;

use crate::ids::{ComponentHash, TenantId};
use crate::journal::{Deployment, StoreError};

/// Stores deployments and component bytes.
#[async_trait]
pub trait Deployments: Send + Sync {
    /// The deployment `name` of `tenant`.
    fn deployment(&self, tenant: &TenantId, name: &str) -> Result<Option<Deployment>, StoreError>;

    /// Every deployment of `tenant`, by name.
    fn deployments(&self, tenant: &TenantId) -> Result<Vec<Deployment>, StoreError>;

    /// The bytes of the component with `hash`.
    fn component(&self, hash: &ComponentHash) -> Result<Option<Vec<u8>>, StoreError>;

    /// Durably stores `component` and points `deployment` at it as the next version of its
    /// name; returns the stored deployment.
    async fn deploy(
        &self,
        deployment: Deployment,
        component: Vec<u8>,
    ) -> Result<Deployment, StoreError>;
}
