//! What the domain rules need from one write transaction, per concern: the rows a backend
//! keeps and how to read and change them.
//!
//! A backend implements these over its own transaction (redb tables, SQL statements); `rules`
//! writes every state transition against them, so the rules are the same on every backend.
//! Reads see the transaction's own earlier writes. Every method fails only with a
//! [`StorageFailure`], which aborts the whole batch: none of its writes may become visible.

use super::access::{KeyRecord, TenantRecord};
use super::departure::{Arrival, Departure};
use super::egress::EgressRules;
use super::error::StorageFailure;
use super::history::StoredStep;
use super::idempotency::{IdempotencyKey, KeyedRequest};
use super::op::RetryState;
use super::outbox::Message;
use super::quota::Quotas;
use super::records::{Deployment, InvocationRecord, InvocationState};
use super::schedule::Schedule;
use super::waits::WaitState;
use crate::ids::{ComponentHash, InvocationId, TenantId};

/// A row read or write: fails only when the storage does.
pub type RowResult<T> = Result<T, StorageFailure>;

/// Invocation records and the indexes that follow their state.
pub trait InvocationRows {
    /// The record of `id` of `tenant`.
    fn record(&self, tenant: &TenantId, id: InvocationId) -> RowResult<Option<InvocationRecord>>;
    /// Removes the record of `id` (a finished invocation, forgotten).
    fn remove_record(&mut self, tenant: &TenantId, id: InvocationId) -> RowResult<()>;
    /// Adds (or removes) `id` in the index of finished invocations by finishing time.
    fn set_finished(
        &mut self,
        tenant: &TenantId,
        finished_at_ms: u64,
        id: InvocationId,
        finished: bool,
    ) -> RowResult<()>;
    /// Adds (or removes) `id` in the index of invocations by state group
    /// ([`InvocationState::listed_group`]), which lists page through.
    fn set_listed(
        &mut self,
        tenant: &TenantId,
        state: InvocationState,
        id: InvocationId,
        listed: bool,
    ) -> RowResult<()>;
    /// Removes the rows of the children `parent` dispatched, or (with `child`) of that one.
    fn remove_children(
        &mut self,
        tenant: &TenantId,
        parent: InvocationId,
        child: Option<InvocationId>,
    ) -> RowResult<()>;
    /// Writes `record` under its tenant and id (its index rows are the rules' to keep).
    fn put_record(&mut self, record: &InvocationRecord) -> RowResult<()>;
    /// Whether `id` is in the runnable index (pending or running).
    fn is_runnable(&self, tenant: &TenantId, id: InvocationId) -> RowResult<bool>;
    /// Adds `id` to the runnable index, or removes it.
    fn set_runnable(
        &mut self,
        tenant: &TenantId,
        id: InvocationId,
        runnable: bool,
    ) -> RowResult<()>;
    /// How many of `tenant`'s invocations are in `state`.
    fn count(&self, tenant: &TenantId, state: InvocationState) -> RowResult<u64>;
    /// Sets how many of `tenant`'s invocations are in `state`.
    fn set_count(&mut self, tenant: &TenantId, state: InvocationState, n: u64) -> RowResult<()>;
    /// Records that `parent` dispatched `child`, detached or not.
    fn add_child(
        &mut self,
        tenant: &TenantId,
        parent: InvocationId,
        child: InvocationId,
        detached: bool,
    ) -> RowResult<()>;
    /// The children `parent` dispatched: (id, whether detached), by id.
    fn children_of(
        &self,
        tenant: &TenantId,
        parent: InvocationId,
    ) -> RowResult<Vec<(InvocationId, bool)>>;
    /// The state paused invocation `id` was paused in.
    fn paused(&self, tenant: &TenantId, id: InvocationId) -> RowResult<Option<InvocationState>>;
    /// Records (`Some`) or forgets (`None`) the state `id` was paused in.
    fn set_paused(
        &mut self,
        tenant: &TenantId,
        id: InvocationId,
        from: Option<InvocationState>,
    ) -> RowResult<()>;
    /// The row of idempotency key `key` within `scope` of `tenant`.
    fn keyed(&self, tenant: &TenantId, scope: &str, key: &str) -> RowResult<Option<KeyedRequest>>;
    /// Removes the row of idempotency key `key` within `scope`.
    fn remove_keyed(&mut self, tenant: &TenantId, scope: &str, key: &str) -> RowResult<()>;
    /// Writes the row of `key`.
    fn put_keyed(
        &mut self,
        tenant: &TenantId,
        key: &IdempotencyKey,
        row: &KeyedRequest,
    ) -> RowResult<()>;
}

/// Journal entries, their history, and the attempts of HTTP steps waiting to be retried.
pub trait StepRows {
    /// Whether step `seq` of `id` is written.
    fn step_exists(&self, id: InvocationId, seq: u32) -> RowResult<bool>;
    /// Writes the encoded `entry` as step `seq` of `id`.
    fn put_step(&mut self, id: InvocationId, seq: u32, entry: &[u8]) -> RowResult<()>;
    /// The steps of `id` from `from` on, in order, as stored.
    fn steps_from(&self, id: InvocationId, from: u32) -> RowResult<Vec<StoredStep>>;
    /// Removes the steps of `id` from `from` on; returns the bytes their entries held.
    fn remove_steps(&mut self, id: InvocationId, from: u32) -> RowResult<u64>;
    /// Removes the journal of `id`; returns the bytes its entries held.
    fn remove_journal(&mut self, id: InvocationId) -> RowResult<u64> {
        self.remove_steps(id, 0)
    }
    /// The encoded history events of `id`, oldest first.
    fn history(&self, id: InvocationId) -> RowResult<Vec<Vec<u8>>>;
    /// Writes encoded history event number `n` of `id`.
    fn put_history(&mut self, id: InvocationId, n: u32, event: &[u8]) -> RowResult<()>;
    /// Removes the history of `id`; returns its encoded events.
    fn remove_history(&mut self, id: InvocationId) -> RowResult<Vec<Vec<u8>>>;
    /// Keeps the attempts of HTTP step `seq` of `id`.
    fn put_retry(&mut self, id: InvocationId, seq: u32, retry: RetryState) -> RowResult<()>;
    /// Removes the kept attempts of step `seq` of `id`.
    fn remove_retry(&mut self, id: InvocationId, seq: u32) -> RowResult<()>;
    /// Removes the kept attempts of every step of `id`.
    fn remove_retries(&mut self, id: InvocationId) -> RowResult<()>;
}

/// Waits of suspended invocations, their timers, and the children they wait on.
pub trait WaitRows {
    /// The wait of suspended `id` of `tenant`.
    fn wait(&self, tenant: &TenantId, id: InvocationId) -> RowResult<Option<WaitState>>;
    /// Writes the wait of `id`.
    fn put_wait(&mut self, tenant: &TenantId, id: InvocationId, wait: &WaitState) -> RowResult<()>;
    /// Removes the wait of `id` (not its timers).
    fn remove_wait(&mut self, tenant: &TenantId, id: InvocationId) -> RowResult<()>;
    /// Adds a timer of `id`, due at `due_ms`.
    fn put_timer(&mut self, due_ms: u64, id: InvocationId, tenant: &TenantId) -> RowResult<()>;
    /// Removes the timer of `id` due at `due_ms`, if there is one.
    fn remove_timer(&mut self, due_ms: u64, id: InvocationId) -> RowResult<()>;
    /// Records that `parent`'s wait at journal position `seq` waits on `child`.
    fn put_awaited(
        &mut self,
        tenant: &TenantId,
        child: InvocationId,
        parent: InvocationId,
        seq: u32,
    ) -> RowResult<()>;
    /// Removes and returns who waits on `child`: (parent, position of its wait).
    fn take_awaited(
        &mut self,
        tenant: &TenantId,
        child: InvocationId,
    ) -> RowResult<Option<(InvocationId, u32)>>;
}

/// Signals kept for invocations that have not received them yet.
pub trait SignalRows {
    /// The arrival number the next signal `name` of `id` gets (one past the last kept).
    fn next_signal(&self, tenant: &TenantId, id: InvocationId, name: &str) -> RowResult<u64>;
    /// Keeps signal `name` of `id` with arrival number `n`.
    fn put_signal(
        &mut self,
        tenant: &TenantId,
        id: InvocationId,
        name: &str,
        n: u64,
        payload: &[u8],
    ) -> RowResult<()>;
    /// Removes kept signal `name` number `n` of `id`; returns the bytes of its payload.
    fn remove_signal(
        &mut self,
        tenant: &TenantId,
        id: InvocationId,
        name: &str,
        n: u64,
    ) -> RowResult<u64>;
    /// Removes every signal kept for `id`; returns the bytes of their payloads.
    fn remove_signals(&mut self, tenant: &TenantId, id: InvocationId) -> RowResult<u64>;
    /// Whether at least `k + 1` signals named `name` are kept for `id`.
    fn has_signal(
        &self,
        tenant: &TenantId,
        id: InvocationId,
        name: &str,
        k: usize,
    ) -> RowResult<bool>;
}

/// Deployments and the components they point at.
pub trait DeploymentRows {
    /// Whether the component with `hash` is stored.
    fn has_component(&self, hash: &ComponentHash) -> RowResult<bool>;
    /// Stores the component with `hash`.
    fn put_component(&mut self, hash: &ComponentHash, bytes: &[u8]) -> RowResult<()>;
    /// The deployment `name` of `tenant`.
    fn deployment(&self, tenant: &TenantId, name: &str) -> RowResult<Option<Deployment>>;
    /// Writes `deployment` under its tenant and name.
    fn put_deployment(&mut self, deployment: &Deployment) -> RowResult<()>;
}

/// The versions deployed under each name, and what still runs on them.
pub trait VersionRows {
    /// Keeps `deployment` as version `deployment.version` of its name.
    fn put_version(&mut self, deployment: &Deployment) -> RowResult<()>;
    /// Removes version `version` of `tenant`'s `name`.
    fn remove_version(&mut self, tenant: &TenantId, name: &str, version: u32) -> RowResult<()>;
    /// The kept versions of `tenant` (of every tenant if `None`), by name and version.
    fn versions(&self, tenant: Option<&TenantId>) -> RowResult<Vec<Deployment>>;
    /// The deployments of `tenant` (of every tenant if `None`), by name.
    fn deployments(&self, tenant: Option<&TenantId>) -> RowResult<Vec<Deployment>>;
    /// The records of `tenant`'s invocations (every tenant's if `None`) that may run here
    /// again: the unfinished ones, and those leaving for another node.
    fn unfinished(&self, tenant: Option<&TenantId>) -> RowResult<Vec<InvocationRecord>>;
    /// Removes the component with `hash`.
    fn remove_component(&mut self, hash: &ComponentHash) -> RowResult<()>;
}

/// Tenants and API keys.
pub trait AccessRows {
    /// The tenant `name`.
    fn tenant(&self, name: &TenantId) -> RowResult<Option<TenantRecord>>;
    /// Writes `tenant` under its name.
    fn put_tenant(&mut self, tenant: &TenantRecord) -> RowResult<()>;
    /// The key whose sha256 is `hash`.
    fn key(&self, hash: &[u8; 32]) -> RowResult<Option<KeyRecord>>;
    /// Writes `key` under its hash.
    fn put_key(&mut self, key: &KeyRecord) -> RowResult<()>;
    /// The quotas set for `tenant` (none set: all defaults).
    fn quotas(&mut self, tenant: &TenantId) -> RowResult<Quotas>;
    /// Writes the quotas of `tenant`.
    fn put_quotas(&mut self, tenant: &TenantId, quotas: &Quotas) -> RowResult<()>;
    /// The bytes `tenant` stores (what `stored_bytes` counts).
    fn stored_bytes(&mut self, tenant: &TenantId) -> RowResult<u64>;
    /// Sets the bytes `tenant` stores.
    fn set_stored_bytes(&mut self, tenant: &TenantId, bytes: u64) -> RowResult<()>;
    /// Writes (or, with `None`, removes) the egress rules of `tenant`, or of its
    /// `deployment`.
    fn put_egress(
        &mut self,
        tenant: &TenantId,
        deployment: Option<&str>,
        rules: Option<&EgressRules>,
    ) -> RowResult<()>;
}

/// Schedules.
pub trait ScheduleRows {
    /// The schedule `name` of `tenant`.
    fn schedule(&self, tenant: &TenantId, name: &str) -> RowResult<Option<Schedule>>;
    /// Writes `schedule` under its tenant and name.
    fn put_schedule(&mut self, schedule: &Schedule) -> RowResult<()>;
    /// Removes the schedule `name` of `tenant`.
    fn remove_schedule(&mut self, tenant: &TenantId, name: &str) -> RowResult<()>;
}

/// Moves between nodes: departures from this node and arrivals to it.
pub trait MoveRows {
    /// The departure of `id` of `tenant`, if it left or is leaving.
    fn departure(&self, tenant: &TenantId, id: InvocationId) -> RowResult<Option<Departure>>;
    /// Writes the departure of `id`.
    fn put_departure(
        &mut self,
        tenant: &TenantId,
        id: InvocationId,
        departure: &Departure,
    ) -> RowResult<()>;
    /// Removes the departure of `id`.
    fn remove_departure(&mut self, tenant: &TenantId, id: InvocationId) -> RowResult<()>;
    /// The arrival recorded under move `move_id`.
    fn arrival(&self, move_id: u128) -> RowResult<Option<Arrival>>;
    /// Records the arrival (or refusal) of move `move_id`.
    fn put_arrival(&mut self, move_id: u128, arrival: &Arrival) -> RowResult<()>;
}

/// Messages to other nodes, and where the parents of children that moved here live.
pub trait OutboxRows {
    /// Keeps `message` for `node` until it acknowledges it (replacing one about the same).
    fn put_message(&mut self, node: &str, message: &Message) -> RowResult<()>;
    /// Drops the message for `node` about (`tenant`, `id`, `kind`).
    fn remove_message(
        &mut self,
        node: &str,
        tenant: &TenantId,
        id: InvocationId,
        kind: u8,
    ) -> RowResult<()>;
    /// The node where the parent of `tenant`'s `id` lives, if not here.
    fn parent_node(&self, tenant: &TenantId, id: InvocationId) -> RowResult<Option<String>>;
    /// Sets (or, `None`, forgets) the node where the parent of `tenant`'s `id` lives.
    fn set_parent_node(
        &mut self,
        tenant: &TenantId,
        id: InvocationId,
        node: Option<&str>,
    ) -> RowResult<()>;
}

/// The lines guests wrote to stdout and stderr, stored encoded by (invocation, position, n).
pub trait OutputRows {
    /// The encoded line `n` at `position` of `id`'s output.
    fn output_line(&self, id: InvocationId, position: u32, n: u32) -> RowResult<Option<Vec<u8>>>;
    /// Writes the encoded `line` as line `n` at `position` of `id`'s output.
    fn put_output_line(
        &mut self,
        id: InvocationId,
        position: u32,
        n: u32,
        line: &[u8],
    ) -> RowResult<()>;
    /// Removes the lines of `id` at positions past `after` (all of them with `None`);
    /// returns the bytes they held.
    fn remove_output(&mut self, id: InvocationId, after: Option<u32>) -> RowResult<u64>;
}

/// Every concern's rows: one write transaction of a backend.
pub trait Rows:
    InvocationRows
    + StepRows
    + WaitRows
    + SignalRows
    + DeploymentRows
    + VersionRows
    + AccessRows
    + ScheduleRows
    + MoveRows
    + OutboxRows
    + OutputRows
{
}

impl<T> Rows for T where
    T: InvocationRows
        + StepRows
        + WaitRows
        + SignalRows
        + DeploymentRows
        + VersionRows
        + AccessRows
        + ScheduleRows
        + MoveRows
        + OutboxRows
        + OutputRows
        + ?Sized
{
}
