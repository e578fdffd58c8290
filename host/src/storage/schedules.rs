//! Schedules.

use async_trait::async_trait;

use crate::ids::TenantId;
use crate::journal::{Schedule, StoreError};

/// Stores the schedules of every tenant.
#[async_trait]
pub trait Schedules: Send + Sync {
    /// The schedule `name` of `tenant`.
    fn schedule(&self, tenant: &TenantId, name: &str) -> Result<Option<Schedule>, StoreError>;

    /// Every schedule of `tenant`, by name.
    fn schedules(&self, tenant: &TenantId) -> Result<Vec<Schedule>, StoreError>;

    /// Every schedule of every tenant.
    fn all_schedules(&self) -> Result<Vec<Schedule>, StoreError>;

    /// Durably writes `schedule`: a new one (revision 0) or the next revision of the stored
    /// one; refused if the name is taken, or if the stored one is not the revision before.
    async fn put_schedule(&self, schedule: Schedule) -> Result<(), StoreError>;

    /// Durably removes the schedule `name` of `tenant`.
    async fn remove_schedule(&self, tenant: &TenantId, name: &str) -> Result<(), StoreError>;
}
