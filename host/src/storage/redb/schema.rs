//! redb table definitions. Every record a tenant owns is keyed by its tenant first.

use redb::TableDefinition;

/// Component bytes by sha256.
pub const COMPONENTS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("components");
/// (tenant, deployment name) → encoded `Deployment`.
pub const DEPLOYMENTS: TableDefinition<(&str, &str), &[u8]> = TableDefinition::new("deployments");
/// (tenant, deployment name, version) → encoded `Deployment`: each version deployed under a
/// name, until `gc` removes it.
pub const VERSIONS: TableDefinition<(&str, &str, u32), &[u8]> = TableDefinition::new("versions");
/// (tenant, invocation id) → encoded `InvocationRecord`.
pub const INVOCATIONS: TableDefinition<(&str, u128), &[u8]> = TableDefinition::new("invocations");
/// (tenant, state group, invocation id) of every invocation, the group its state's
/// (`InvocationState::listed_group`): what a list filtered by state pages through.
pub const BY_STATE: TableDefinition<(&str, u8, u128), ()> =
    TableDefinition::new("invocations_by_state");
/// (tenant, invocation id) of every pending or running invocation: what to resume at start.
pub const RUNNABLE: TableDefinition<(&str, u128), ()> = TableDefinition::new("runnable");
/// (due time in ms since the Unix epoch, invocation id) → tenant: durable timers.
pub const TIMERS: TableDefinition<(u64, u128), &str> = TableDefinition::new("timers");
/// (invocation id, sequence number) → encoded `StepEntry`.
pub const JOURNAL: TableDefinition<(u128, u32), &[u8]> = TableDefinition::new("journal");
/// (invocation id, event number) → encoded `HistoryEvent`: each rewind of its journal (with
/// the steps it dropped) and the fork that made it.
pub const HISTORY: TableDefinition<(u128, u32), &[u8]> = TableDefinition::new("history");
/// (tenant, invocation id) → encoded `WaitState` of every suspended invocation.
pub const WAITS: TableDefinition<(&str, u128), &[u8]> = TableDefinition::new("waits");
/// (tenant, child id) → (parent id, journal position of the parent's wait) for each child a
/// suspended parent waits on.
pub const AWAITED: TableDefinition<(&str, u128), (u128, u32)> = TableDefinition::new("awaited");
/// (tenant, parent id, child id) → whether the child is detached: every child ever dispatched.
pub const CHILDREN: TableDefinition<(&str, u128, u128), bool> = TableDefinition::new("children");
/// (tenant, invocation id, signal name, arrival number) → payload of each signal not yet
/// received by the invocation.
pub const SIGNALS: TableDefinition<(&str, u128, &str, u64), &[u8]> =
    TableDefinition::new("signals");
/// (invocation id, step) → (attempts made, ms since the Unix epoch of the first) of an HTTP
/// step whose invocation is suspended between two attempts.
pub const RETRIES: TableDefinition<(u128, u32), (u32, u64)> = TableDefinition::new("retries");
/// "log position" → the log sequence number of the last batch applied (see `wal`).
pub const META: TableDefinition<&str, u64> = TableDefinition::new("meta");
/// (tenant, state name) → how many of the tenant's invocations are in that state.
pub const COUNTS: TableDefinition<(&str, &str), u64> = TableDefinition::new("counts");
/// Tenant name → encoded `TenantRecord`.
pub const TENANTS: TableDefinition<&str, &[u8]> = TableDefinition::new("tenants");
/// sha256 of an API key → encoded `KeyRecord`.
pub const KEYS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("keys");
/// Tenant name → encoded `Quotas` of a tenant that has any set.
pub const QUOTAS: TableDefinition<&str, &[u8]> = TableDefinition::new("quotas");
/// (tenant, finished at ms, id) → () — every finished invocation, for retention sweeps.
pub const FINISHED: TableDefinition<(&str, u64, u128), ()> = TableDefinition::new("finished");
/// (tenant, id) → encoded `InvocationState` a paused invocation was paused in.
pub const PAUSED: TableDefinition<(&str, u128), &[u8]> = TableDefinition::new("paused");
/// (tenant, created at ms, scope, idempotency key) → () — every key row by age, for the
/// retention sweep.
pub const KEYS_BY_AGE: TableDefinition<(&str, u64, &str, &str), ()> =
    TableDefinition::new("idempotency_by_age");
/// (tenant, scope, idempotency key) → encoded `KeyedRequest`: what the key made.
pub const KEYED: TableDefinition<(&str, &str, &str), &[u8]> = TableDefinition::new("idempotency");
/// Tenant name → the bytes it stores (what the `stored_bytes` quota counts).
pub const USAGE: TableDefinition<&str, u64> = TableDefinition::new("usage");
/// (tenant, deployment name, or "" for the tenant's own) → encoded `EgressRules`.
pub const EGRESS: TableDefinition<(&str, &str), &[u8]> = TableDefinition::new("egress");
/// (tenant, schedule name) → encoded `Schedule`.
pub const SCHEDULES: TableDefinition<(&str, &str), &[u8]> = TableDefinition::new("schedules");
/// (tenant, invocation id) → encoded `Departure` of an invocation that left this node or is
/// leaving it.
pub const DEPARTURES: TableDefinition<(&str, u128), &[u8]> = TableDefinition::new("departures");
/// Move id → encoded `Arrival`: every move into this node, imported or refused.
pub const ARRIVALS: TableDefinition<u128, &[u8]> = TableDefinition::new("arrivals");
/// (node URL, tenant, invocation id, kind) → encoded `Message` to that node, kept until it
/// acknowledges it.
pub const OUTBOX: TableDefinition<(&str, &str, u128, u8), &[u8]> = TableDefinition::new("outbox");
/// (tenant, invocation id) → URL of the node where the parent of a child that moved here lives.
pub const PARENT_NODES: TableDefinition<(&str, u128), &str> = TableDefinition::new("parent_nodes");
/// (invocation id, journal position, line number there) → encoded `OutputLine`: what the
/// guest wrote to stdout and stderr (see `journal::output`).
pub const OUTPUT: TableDefinition<(u128, u32, u32), &[u8]> = TableDefinition::new("output");
