//! Deployments and the components they point at.

use async_trait::async_trait;

use crate::ids::{ComponentHash, InvocationId, TenantId};
use crate::journal::{Deployment, StoreError, UpgradePlan, VersionUse};

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

    /// The kept versions of `tenant`'s names, with the unfinished invocations on each.
    fn versions(&self, tenant: &TenantId) -> Result<Vec<VersionUse>, StoreError>;

    /// Moves unfinished `id` onto another version of its code, as `plan` was checked.
    async fn upgrade(
        &self,
        tenant: &TenantId,
        id: InvocationId,
        plan: UpgradePlan,
    ) -> Result<(), StoreError>;

    /// Removes `tenant`'s old versions (of `name`, or of every name) that no unfinished
    /// invocation runs on, and the component bytes nothing needs any more.
    async fn drop_versions(
        &self,
        tenant: &TenantId,
        name: Option<String>,
    ) -> Result<(), StoreError>;
}
