//! redb table definitions. Every record a tenant owns is keyed by its tenant first.

use redb::TableDefinition;

/// Component bytes by sha256.
pub const COMPONENTS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("components");
/// (tenant, deployment name) → encoded `Deployment`.
pub const DEPLOYMENTS: TableDefinition<(&str, &str), &[u8]> = TableDefinition::new("deployments");
/// (tenant, invocation id) → encoded `InvocationRecord`.
pub const INVOCATIONS: TableDefinition<(&str, u128), &[u8]> = TableDefinition::new("invocations");
/// (tenant, invocation id) of every pending or running invocation: what to resume at start.
pub const RUNNABLE: TableDefinition<(&str, u128), ()> = TableDefinition::new("runnable");
/// (due time in ms since the Unix epoch, invocation id) → tenant: durable timers.
pub const TIMERS: TableDefinition<(u64, u128), &str> = TableDefinition::new("timers");
/// (invocation id, sequence number) → encoded `StepEntry`.
pub const JOURNAL: TableDefinition<(u128, u32), &[u8]> = TableDefinition::new("journal");
