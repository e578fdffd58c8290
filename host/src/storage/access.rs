//! Tenants and API keys.

use async_trait::async_trait;

use crate::ids::TenantId;
use crate::journal::{EgressRules, KeyRecord, Quotas, StoreError, TenantRecord};

/// Stores tenants and the hashes of their keys.
#[async_trait]
pub trait Access: Send + Sync {
    /// The tenant `name`.
    fn tenant(&self, name: &TenantId) -> Result<Option<TenantRecord>, StoreError>;

    /// Every tenant, by name.
    fn tenants(&self) -> Result<Vec<TenantRecord>, StoreError>;

    /// The key whose sha256 is `hash`.
    fn key(&self, hash: &[u8; 32]) -> Result<Option<KeyRecord>, StoreError>;

    /// Every key, revoked ones included.
    fn keys(&self) -> Result<Vec<KeyRecord>, StoreError>;

    /// Durably creates `tenant`; refused if it exists.
    async fn create_tenant(&self, tenant: TenantRecord) -> Result<(), StoreError>;

    /// Durably stores `key`; refused if its tenant does not exist.
    async fn create_key(&self, key: KeyRecord) -> Result<(), StoreError>;

    /// Durably revokes the key with `hash`; refused if there is none or it is revoked.
    async fn revoke_key(&self, hash: [u8; 32]) -> Result<(), StoreError>;

    /// The quotas set for `tenant` (none set: all defaults).
    fn quotas(&self, tenant: &TenantId) -> Result<Quotas, StoreError>;

    /// Durably sets the quotas of existing `tenant`.
    async fn set_quotas(&self, tenant: &TenantId, quotas: Quotas) -> Result<(), StoreError>;

    /// The bytes `tenant` stores: what its `stored_bytes` quota counts.
    fn stored_bytes(&self, tenant: &TenantId) -> Result<u64, StoreError>;

    /// The egress rules of `tenant`, or of its `deployment`, if any are set.
    fn egress(
        &self,
        tenant: &TenantId,
        deployment: Option<&str>,
    ) -> Result<Option<EgressRules>, StoreError>;

    /// The egress rules of `tenant` and of its `deployment` (what a run of it is under), read
    /// together.
    fn egress_of(
        &self,
        tenant: &TenantId,
        deployment: &str,
    ) -> Result<(Option<EgressRules>, Option<EgressRules>), StoreError> {
        Ok((
            self.egress(tenant, None)?,
            self.egress(tenant, Some(deployment))?,
        ))
    }

    /// Durably sets (or, with `None`, removes) the egress rules of existing `tenant`, or of
    /// its existing `deployment`.
    async fn set_egress(
        &self,
        tenant: &TenantId,
        deployment: Option<&str>,
        rules: Option<EgressRules>,
    ) -> Result<(), StoreError>;
}
