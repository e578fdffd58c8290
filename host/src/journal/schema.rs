//! redb table definitions. Every record a tenant owns is keyed by its tenant first.

use redb::TableDefinition;

/// Component bytes by sha256.
pub const COMPONENTS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("components");
/// (tenant, deployment name) → encoded `Deployment`.
pub const DEPLOYMENTS: TableDefinition<(&str, &str), &[u8]> = TableDefinition::new("deployments");
/// (tenant, invocation id) → encoded `InvocationRecord`.
pub const INVOCATIONS: TableDefinition<(&str, u128), &[u8]> = TableDefinition::new("invocations");
/// (tenant, invocation id) of every invocation not yet finished: what to resume at start.
pub const ACTIVE: TableDefinition<(&str, u128), ()> = TableDefinition::new("active");
/// (invocation id, sequence number) → encoded `StepEntry`.
pub const JOURNAL: TableDefinition<(u128, u32), &[u8]> = TableDefinition::new("journal");
