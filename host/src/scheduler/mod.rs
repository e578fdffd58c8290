//! The scheduler: accepts deployments and invocations, runs invocations on tokio, resumes the
//! unfinished ones at start, and tells waiters when an invocation ends.

mod bulk;
mod cron;
mod drain;
mod executor;
mod fair;
mod logs;
mod moves;
mod outbox;
mod retention;
mod rewind;
mod schedules;
mod timers;
mod versions;

pub use bulk::{
    Action as BulkAction, BadAction, BadFilter, Filter, MAX_PAGE as MAX_BULK_PAGE, Page as BulkPage,
};
pub use cron::WhenError;
pub use drain::{DrainError, DrainProgress};
pub use logs::{LogLine, LogSource};
pub use moves::{Migrated, MoveError};
pub use outbox::MessagesError;
pub use retention::Swept;
pub use rewind::{Onto, RewindError};
pub use schedules::{NewSchedule, ScheduleError};
pub use versions::{UpgradeError, Upgraded, VersionsError};

pub use crate::target::{Target, TargetError};

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{Notify, Semaphore, mpsc, oneshot};

use crate::host_calls::{HttpClient, Services};
use crate::ids::{ComponentHash, InvocationId, TenantId};
use crate::journal::{
    Deployment, Effects, IdempotencyKey, InvocationRecord, InvocationState, Limits, OverQuota,
    StoreError, WriteError, canonical_json, valid_key,
};
use crate::outbound::{Destinations, Narrowing, Policy};
use crate::runtime::{ComponentError, Components};
use crate::storage::{Deferred, NotDurable, SharedStorage};

/// Why a deployment was refused.
#[derive(Debug, thiserror::Error)]
pub enum DeployError {
    /// The deployment name is not usable.
    #[error(
        "deployment name `{0}` is invalid: use 1 to 128 characters of letters, digits, `_` and `-`"
    )]
    BadName(String),
    /// The component is not a valid function component.
    #[error(transparent)]
    Component(#[from] ComponentError),
    /// The policy does not fit the component.
    #[error("{0}")]
    BadPolicy(String),
    /// The component is over the tenant's `component_bytes`.
    #[error("the component ({size} bytes) is {over}")]
    TooLarge { size: usize, over: OverQuota },
    /// Storage failed; nothing was deployed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Why an invocation was refused.
#[derive(Debug, thiserror::Error)]
pub enum InvokeError {
    /// The target does not name a deployed function.
    #[error(transparent)]
    Target(#[from] TargetError),
    /// The input is not JSON.
    #[error("`input` is not valid JSON: {0}")]
    BadInput(String),
    /// The input is over the tenant's `input_bytes`.
    #[error("`input` ({size} bytes) is {over}")]
    InputTooLarge { size: usize, over: OverQuota },
    /// The tenant stores its `stored_bytes` already.
    #[error("nothing was stored: {0}")]
    StorageFull(OverQuota),
    /// The tenant has `max_waiting` invocations pending or suspended already.
    #[error("the tenant has too many invocations waiting: {0}; retry once some have finished")]
    Busy(OverQuota),
    /// The idempotency key is not usable.
    #[error(
        "the Idempotency-Key `{0}` is invalid: use 1 to 255 visible ASCII characters (no spaces)"
    )]
    BadKey(String),
    /// The idempotency key made an invocation with another input.
    #[error(
        "the Idempotency-Key `{key}` was used for invocation {invocation} with another input; use a new key"
    )]
    KeyReused {
        key: String,
        invocation: InvocationId,
    },
    /// The host is draining: it takes no new invocations.
    #[error("this host is draining (its work moves to another): send new invocations there")]
    Draining,
    /// Storage failed; nothing was created.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// How an invocation is to be created, besides its target and input.
#[derive(Clone, Debug, Default)]
pub struct InvokeOptions {
    /// Its caller waits for its result (it may then be made durable with its first step).
    pub waited: bool,
    /// An idempotency key: a repeat within its window gets this first invocation.
    pub key: Option<String>,
    /// When to start it (ms since the Unix epoch); until then it is `scheduled`.
    pub start_at_ms: Option<u64>,
}

/// An invocation created, or found under its idempotency key.
#[derive(Debug)]
pub struct Invoked {
    /// Its record.
    pub record: InvocationRecord,
    /// Whether an earlier request with the same key made it.
    pub replayed: bool,
}

/// Why a signal or a cancellation was refused.
#[derive(Debug, thiserror::Error)]
pub enum ControlError {
    /// No invocation of the tenant has this id.
    #[error("no invocation {0}")]
    NotFound(InvocationId),
    /// The invocation has finished already.
    #[error("invocation {0} has finished already ({1})")]
    Finished(InvocationId, &'static str),
    /// The signal name is not usable.
    #[error(
        "signal name `{0}` is invalid: use 1 to 128 characters of letters, digits, `_` and `-`"
    )]
    BadSignalName(String),
    /// The signal payload is not JSON.
    #[error("the signal data is not valid JSON: {0}")]
    BadData(String),
    /// The invocation is not paused (so not resumed).
    #[error("invocation {0} is not paused (it is {1})")]
    NotPaused(InvocationId, &'static str),
    /// The idempotency key is not usable.
    #[error(
        "the Idempotency-Key `{0}` is invalid: use 1 to 255 visible ASCII characters (no spaces)"
    )]
    BadKey(String),
    /// The idempotency key delivered another signal to this invocation.
    #[error(
        "the Idempotency-Key `{0}` was used for another signal to this invocation; use a new key"
    )]
    KeyReused(String),
    /// Storage failed; nothing changed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Limits and sizes of the scheduler.
#[derive(Clone, Debug)]
pub struct SchedulerConfig {
    /// Most invocations executing at once (each holds an instance while it runs).
    pub max_running: usize,
    /// How often the retention sweep runs.
    pub sweep_every: Duration,
    /// This node's place among others (for moves).
    pub cluster: crate::cluster::Cluster,
    /// Where spans of runs and live steps go (off by default).
    pub traces: crate::traces::Traces,
}

impl Default for SchedulerConfig {
    fn default() -> Self {
        SchedulerConfig {
            max_running: 512,
            sweep_every: Duration::from_secs(60),
            cluster: crate::cluster::Cluster::default(),
            traces: crate::traces::Traces::off(),
        }
    }
}

/// Shared handle to the scheduler.
#[derive(Clone)]
pub struct Scheduler {
    inner: Arc<Inner>,
}

/// The egress rules runs were under, by (tenant, deployment), as last read.
#[derive(Default)]
struct EgressCache {
    /// How many times rules were set: a read started before a change is not kept after it.
    generation: u64,
    rules: HashMap<(TenantId, String), Arc<Narrowing>>,
}

/// An invocation executing in this process.
struct Executing {
    tenant: TenantId,
    /// Stops it.
    stop: Arc<Notify>,
    /// Stops it at its next host call.
    yield_at_next: Arc<std::sync::atomic::AtomicBool>,
}

struct Inner {
    store: SharedStorage,
    components: Components,
    services: Arc<Services>,
    waiters: Mutex<HashMap<InvocationId, Vec<oneshot::Sender<()>>>>,
    /// Invocations executing in this process.
    running: Mutex<HashMap<InvocationId, Executing>>,
    /// The egress rules each (tenant, deployment) runs under, as last read, and how many
    /// times rules were set (a read started before a change is not kept after it).
    egress_rules: Mutex<EgressCache>,
    /// Per invocation with an execution started: the turn its executions take one by one.
    executions: Mutex<HashMap<InvocationId, Arc<tokio::sync::Mutex<()>>>>,
    /// Invocations whose creation is deferred to their first write, until they end.
    deferred: Mutex<HashMap<InvocationId, Arc<Deferred>>>,
    slots: Arc<fair::FairSlots>,
    /// Per tenant: its `max_running` and the semaphore enforcing it.
    tenant_slots: Mutex<HashMap<TenantId, (u64, Arc<Semaphore>)>>,
    /// Signalled when a new timer may be earlier than the one the timer service waits for.
    timers_changed: Notify,
    /// Signalled when a schedule was written: its next firing may be sooner.
    schedules_changed: Notify,
    /// How often the retention sweep runs.
    sweep_every: Duration,
    /// The client of other nodes, and this node's place among them.
    peer: crate::cluster::Peer,
    /// Moves being decided in this process.
    deciding: Mutex<std::collections::HashSet<u128>>,
    /// Components other nodes are known to have: (node, component).
    known_components: Mutex<std::collections::HashSet<(String, ComponentHash)>>,
    /// Notified when an op put messages in the outbox.
    outbox_ready: Arc<Notify>,
    /// The drain of this node, once one started.
    drain: drain::DrainState,
}

impl Scheduler {
    /// A scheduler over `store`, running components from `components` (within a tokio
    /// runtime: it spawns the task that starts dispatched children).
    pub fn new(
        store: SharedStorage,
        components: Components,
        http: HttpClient,
        destinations: Destinations,
        config: SchedulerConfig,
    ) -> Self {
        let (runnable, mut dispatched) = mpsc::unbounded_channel();
        let inner = Arc::new(Inner {
            store,
            components,
            services: Arc::new(Services {
                http,
                destinations,
                runnable,
                not_durable: NotDurable::default(),
                traces: config.traces.clone(),
            }),
            waiters: Mutex::new(HashMap::new()),
            running: Mutex::new(HashMap::new()),
            executions: Mutex::new(HashMap::new()),
            egress_rules: Mutex::new(EgressCache::default()),
            deferred: Mutex::new(HashMap::new()),
            slots: fair::FairSlots::new(config.max_running.max(1)),
            sweep_every: config.sweep_every,
            peer: crate::cluster::Peer::new(config.cluster),
            deciding: Mutex::new(std::collections::HashSet::new()),
            known_components: Mutex::new(std::collections::HashSet::new()),
            outbox_ready: Arc::new(Notify::new()),
            drain: Mutex::new(None),
            tenant_slots: Mutex::new(HashMap::new()),
            timers_changed: Notify::new(),
            schedules_changed: Notify::new(),
        });
        // Starts dispatched children. It holds the scheduler weakly, so it ends with it (the
        // sender is the scheduler's).
        let weak = Arc::downgrade(&inner);
        tokio::spawn(async move {
            while let Some((tenant, id)) = dispatched.recv().await {
                let Some(inner) = weak.upgrade() else { break };
                tokio::spawn(executor::execute(inner, tenant, id, None));
            }
        });
        Scheduler { inner }
    }

    /// This node's place among others.
    pub fn cluster(&self) -> &crate::cluster::Cluster {
        self.inner.peer.cluster()
    }

    /// The limits `tenant` runs under now: its quotas, else the defaults.
    pub fn limits(&self, tenant: &TenantId) -> Result<Limits, StoreError> {
        self.inner.limits(tenant)
    }

    /// The store.
    pub fn store(&self) -> &SharedStorage {
        &self.inner.store
    }

    /// The state of `record` as this host sees it now: `running` is not stored (it would cost
    /// a durable write per run) but known here, so a stored pending invocation is running while
    /// this process executes it.
    pub fn live_state(&self, record: &InvocationRecord) -> InvocationState {
        match record.state {
            InvocationState::Pending | InvocationState::Running => {
                if self.is_executing(record.id) {
                    InvocationState::Running
                } else {
                    InvocationState::Pending
                }
            }
            state => state,
        }
    }

    /// Whether this process is executing invocation `id` (or is still stopping a run of it).
    fn is_executing(&self, id: InvocationId) -> bool {
        self.inner.running.lock().is_ok_and(|r| r.contains_key(&id))
    }

    /// Stored `counts` (tenant, state, number) with the invocations executing here moved from
    /// pending to running.
    pub fn live_counts(
        &self,
        counts: Vec<(TenantId, InvocationState, u64)>,
    ) -> Vec<(TenantId, InvocationState, u64)> {
        let mut executing: HashMap<TenantId, u64> = HashMap::new();
        if let Ok(running) = self.inner.running.lock() {
            for e in running.values() {
                *executing.entry(e.tenant.clone()).or_default() += 1;
            }
        }
        let mut unfinished: HashMap<TenantId, u64> = HashMap::new();
        let mut out = Vec::with_capacity(counts.len() + 2);
        for (tenant, state, n) in counts {
            match state {
                InvocationState::Pending | InvocationState::Running => {
                    *unfinished.entry(tenant).or_default() += n;
                }
                _ => out.push((tenant, state, n)),
            }
        }
        for (tenant, total) in unfinished {
            let running = executing.get(&tenant).copied().unwrap_or(0).min(total);
            out.push((tenant.clone(), InvocationState::Pending, total - running));
            out.push((tenant, InvocationState::Running, running));
        }
        out
    }

    /// Starts the timer service, which resumes suspended invocations when their timers are
    /// due (those that fell due while the host was down first, in due order), and the
    /// retention sweep and the schedule service.
    pub fn start_timers(&self) {
        tokio::spawn(timers::run(self.clone()));
        tokio::spawn(schedules::run(self.clone()));
        tokio::spawn(retention::run(self.clone(), self.inner.sweep_every));
    }

    /// Durably sets (or, `None`, removes) the egress rules of `tenant` or of its
    /// `deployment`; runs started from now on are under them.
    pub async fn set_egress(
        &self,
        tenant: &TenantId,
        deployment: Option<&str>,
        rules: Option<crate::journal::EgressRules>,
    ) -> Result<(), StoreError> {
        let written = self.inner.store.set_egress(tenant, deployment, rules).await;
        // Whatever the write's outcome: forget what was read, and what reads started before
        // now would keep.
        if let Ok(mut known) = self.inner.egress_rules.lock() {
            known.generation += 1;
            known.rules.clear();
        }
        written
    }

    /// Removes now (or, `dry_run`, counts) the finished invocations and the idempotency
    /// keys of `tenant` that its retention lets go.
    pub async fn gc(&self, tenant: &TenantId, dry_run: bool) -> Result<Swept, StoreError> {
        retention::sweep(self, tenant, dry_run).await
    }

    /// Starts every invocation that was pending or running when the host last stopped.
    pub fn resume_unfinished(&self) -> Result<usize, StoreError> {
        let runnable = self.inner.store.runnable_invocations()?;
        let count = runnable.len();
        for (tenant, id) in runnable {
            self.spawn(tenant, id);
        }
        Ok(count)
    }

    /// Validates and stores `component` under `name` for `tenant`, with `policy`.
    pub async fn deploy(
        &self,
        tenant: &TenantId,
        name: &str,
        component: Vec<u8>,
        policy: Policy,
    ) -> Result<Deployment, DeployError> {
        if !crate::names::valid(name) {
            return Err(DeployError::BadName(name.chars().take(200).collect()));
        }
        let limits = self.inner.limits(tenant)?;
        OverQuota::check(
            "component_bytes",
            component.len() as u64,
            limits.component_bytes,
            "bytes per component",
        )
        .inspect_err(|_| crate::metrics::METRICS.quota_refused(tenant.as_str()))
        .map_err(|over| DeployError::TooLarge {
            size: component.len(),
            over,
        })?;
        let component = Arc::new(component);
        let prepared = self.inner.components.prepare(component.clone()).await?;
        let refused = |err: DeployError| {
            // A refused upload leaves no compiled code behind, unless a deployment uses it.
            if !matches!(self.inner.store.component(&prepared.hash), Ok(Some(_))) {
                self.inner.components.forget(&prepared.hash);
            }
            err
        };
        policy
            .validate(&prepared.functions)
            .map_err(|err| refused(DeployError::BadPolicy(err)))?;
        let deployment = Deployment {
            tenant: tenant.clone(),
            name: name.to_string(),
            component: prepared.hash,
            functions: prepared.functions.clone(),
            version: 0,
            size: component.len() as u64,
            deployed_at_ms: crate::clock::now_ms(),
            policy: (&policy).into(),
        };
        let component = Arc::try_unwrap(component).unwrap_or_else(|shared| (*shared).clone());
        let deployed = self.inner.store.deploy(deployment, component).await;
        deployed.map_err(|err| refused(err.into()))
    }

    /// Durably records an invocation of `target` with JSON `input` and starts it (or, under
    /// a key already used for the same request, returns the invocation it made).
    pub async fn invoke(
        &self,
        tenant: &TenantId,
        target: &str,
        input: Vec<u8>,
        options: InvokeOptions,
    ) -> Result<Invoked, InvokeError> {
        if let Some(key) = options.key.as_deref().filter(|k| !valid_key(k)) {
            return Err(InvokeError::BadKey(key.chars().take(300).collect()));
        }
        if self.inner.draining() {
            return Err(InvokeError::Draining);
        }
        let (deployment, function) = self.function_of::<InvokeError>(tenant, target)?;
        serde_json::from_slice::<serde::de::IgnoredAny>(&input)
            .map_err(|e| InvokeError::BadInput(e.to_string()))?;
        let scope = format!("invoke {}.{function}", deployment.name);
        let key = options
            .key
            .clone()
            .map(|key| IdempotencyKey::new(scope, key, &[&canonical_json(&input)]));
        // A repeat gets the first invocation even when the tenant is at a quota now.
        if let Some(key) = &key
            && let Some(first) = self.first_of(tenant, key)?
        {
            return first;
        }
        self.admit(tenant, &input)?;
        let record = InvocationRecord::pending(
            tenant,
            &deployment.name,
            deployment.component,
            function,
            input,
        );
        if key.is_some() || options.start_at_ms.is_some() {
            let created = self
                .inner
                .store
                .create_invocation_with(&record, key, options.start_at_ms)
                .await;
            return match created {
                Ok(()) => {
                    self.spawn(record.tenant.clone(), record.id);
                    Ok(Invoked {
                        record,
                        replayed: false,
                    })
                }
                Err(StoreError::Write(WriteError::Duplicate { invocation, .. })) => {
                    let first = self.inner.store.invocation(tenant, invocation)?;
                    let first = first.ok_or(StoreError::Write(WriteError::NoSuchInvocation(
                        invocation.to_string(),
                    )))?;
                    Ok(Invoked {
                        record: first,
                        replayed: true,
                    })
                }
                Err(StoreError::Write(WriteError::KeyReused { key, invocation })) => {
                    Err(InvokeError::KeyReused { key, invocation })
                }
                Err(err) => Err(err.into()),
            };
        }
        if options.waited {
            let deferred = Arc::new(Deferred::new(
                record.clone(),
                self.inner.services.not_durable.counter(tenant),
            ));
            if let Ok(mut all) = self.inner.deferred.lock() {
                all.insert(record.id, deferred.clone());
            }
            let (inner, tenant) = (self.inner.clone(), record.tenant.clone());
            tokio::spawn(executor::execute(inner, tenant, record.id, Some(deferred)));
        } else {
            self.inner.store.create_invocation(&record).await?;
            self.spawn(record.tenant.clone(), record.id);
        }
        Ok(Invoked {
            record,
            replayed: false,
        })
    }

    /// Whether `tenant` may start one more invocation with `input` now (its quotas on input
    /// size, stored bytes and waiting invocations).
    fn admit(&self, tenant: &TenantId, input: &[u8]) -> Result<(), InvokeError> {
        let limits = self.inner.limits(tenant)?;
        limits
            .check_input(input.len())
            .inspect_err(|_| crate::metrics::METRICS.quota_refused(tenant.as_str()))
            .map_err(|over| InvokeError::InputTooLarge {
                size: input.len(),
                over,
            })?;
        let admission = self.inner.store.admission(tenant)?;
        limits
            .check_stored(admission.stored_bytes, input.len() as u64)
            .inspect_err(|_| crate::metrics::METRICS.quota_refused(tenant.as_str()))
            .map_err(InvokeError::StorageFull)?;
        limits
            .check_waiting(
                &admission.counts,
                self.inner.services.not_durable.count(tenant),
            )
            .inspect_err(|_| crate::metrics::METRICS.quota_refused(tenant.as_str()))
            .map_err(InvokeError::Busy)?;
        Ok(())
    }

    /// The deployment of `tenant` and the function of it that `target`
    /// (`DEPLOYMENT[.FUNCTION]`) names.
    fn function_of<E: From<TargetError> + From<StoreError>>(
        &self,
        tenant: &TenantId,
        target: &str,
    ) -> Result<(Deployment, String), E> {
        let target = Target::parse(target)?;
        let deployment = self
            .inner
            .store
            .deployment(tenant, &target.deployment)?
            .ok_or_else(|| TargetError::UnknownDeployment(target.deployment.clone()))?;
        let function = target.resolve(&deployment)?;
        Ok((deployment, function))
    }

    /// What an earlier request under `key` made, if the key holds: the same invocation, or
    /// the reuse refused. (The write that creates an invocation checks again, atomically.)
    fn first_of(
        &self,
        tenant: &TenantId,
        key: &IdempotencyKey,
    ) -> Result<Option<Result<Invoked, InvokeError>>, StoreError> {
        let store = &self.inner.store;
        let Some(row) = store.idempotency_key(tenant, &key.scope, &key.key)? else {
            return Ok(None);
        };
        if !row.holds_at(crate::clock::now_ms()) {
            return Ok(None);
        }
        let Some(record) = store.invocation(tenant, row.invocation)? else {
            return Ok(None);
        };
        Ok(Some(if row.digest == key.digest {
            Ok(Invoked {
                record,
                replayed: true,
            })
        } else {
            Err(InvokeError::KeyReused {
                key: key.key.clone(),
                invocation: row.invocation,
            })
        }))
    }

    /// The record of `id`, after waiting up to `timeout` for it to finish. An invocation
    /// whose creation was deferred is made durable if it has not finished by then.
    pub async fn wait(
        &self,
        tenant: &TenantId,
        id: InvocationId,
        timeout: Duration,
    ) -> Result<Option<InvocationRecord>, StoreError> {
        let deadline = tokio::time::Instant::now() + timeout;
        let record = loop {
            let (tx, rx) = oneshot::channel();
            self.inner.waiters_for(id, |w| w.push(tx));
            let deferred = self
                .inner
                .deferred
                .lock()
                .ok()
                .and_then(|d| d.get(&id).cloned());
            let deferred = deferred.filter(|d| d.record().tenant == *tenant);
            match (self.inner.store.invocation(tenant, id)?, deferred) {
                (Some(record), _) if record.state.is_terminal() => break Some(record),
                (None, None) => break None,
                (_, deferred) => {
                    // A run that ends without finishing (a suspension) wakes the waiters too:
                    // wait again, until it finishes or the time is up.
                    if tokio::time::timeout_at(deadline, rx).await.is_ok()
                        && tokio::time::Instant::now() < deadline
                    {
                        continue;
                    }
                    if let Some(deferred) = deferred {
                        deferred.ensure(&*self.inner.store).await?;
                    }
                    break self.inner.store.invocation(tenant, id)?;
                }
            }
        };
        self.inner
            .waiters_for(id, |w| w.retain(|tx| !tx.is_closed()));
        Ok(record)
    }

    /// Durably delivers signal `name` with JSON `data` to unfinished invocation `id`; a wait
    /// for it, now or later, receives it (signals of one name in the order they arrived).
    ///
    /// Under idempotency `key`, a repeat of the same signal is dropped: `Ok(true)`.
    pub async fn signal(
        &self,
        tenant: &TenantId,
        id: InvocationId,
        name: &str,
        data: Vec<u8>,
        key: Option<String>,
    ) -> Result<bool, ControlError> {
        if !crate::names::valid(name) {
            return Err(ControlError::BadSignalName(
                name.chars().take(200).collect(),
            ));
        }
        if let Some(key) = key.as_deref().filter(|k| !valid_key(k)) {
            return Err(ControlError::BadKey(key.chars().take(300).collect()));
        }
        serde_json::from_slice::<serde::de::IgnoredAny>(&data)
            .map_err(|e| ControlError::BadData(e.to_string()))?;
        let key = key.map(|key| {
            let data = canonical_json(&data);
            IdempotencyKey::new(format!("signal {id}"), key, &[name.as_bytes(), &data])
        });
        let write = self.inner.store.signal(tenant, id, name, data, key);
        match self.control(tenant, id, write).await {
            Ok(effects) => {
                self.inner.apply(effects);
                Ok(false)
            }
            Err(ControlError::Store(StoreError::Write(WriteError::Duplicate { .. }))) => Ok(true),
            Err(ControlError::Store(StoreError::Write(WriteError::KeyReused { key, .. }))) => {
                Err(ControlError::KeyReused(key))
            }
            Err(err) => Err(err),
        }
    }

    /// Durably pauses unfinished invocation `id`: a running one stops at once (what it has
    /// journaled stays; a step in flight is done again on resume, as after a crash), a
    /// suspended or scheduled one does not wake. Pausing a paused one changes nothing.
    pub async fn pause(&self, tenant: &TenantId, id: InvocationId) -> Result<(), ControlError> {
        let effects = self
            .control(tenant, id, self.inner.store.pause(tenant, id))
            .await?;
        self.inner.apply(effects);
        Ok(())
    }

    /// Durably resumes paused invocation `id` where it was: it runs again (replaying its
    /// journal), or waits on for what it waited for.
    pub async fn resume(&self, tenant: &TenantId, id: InvocationId) -> Result<(), ControlError> {
        let effects = self
            .control(tenant, id, self.inner.store.resume(tenant, id))
            .await?;
        self.inner.apply(effects);
        Ok(())
    }

    /// Durably cancels unfinished invocation `id` and every descendant it did not detach;
    /// those running stop before their next step. Returns the ids cancelled.
    pub async fn cancel(
        &self,
        tenant: &TenantId,
        id: InvocationId,
    ) -> Result<Vec<InvocationId>, ControlError> {
        let effects = self
            .control(tenant, id, self.inner.store.cancel(tenant, id))
            .await?;
        let cancelled = effects.cancelled.iter().map(|(_, id)| *id).collect();
        self.inner.apply(effects);
        Ok(cancelled)
    }

    /// Maps the refusals of a control write to what the caller did wrong.
    async fn control(
        &self,
        tenant: &TenantId,
        id: InvocationId,
        write: impl std::future::Future<Output = Result<Effects, StoreError>>,
    ) -> Result<Effects, ControlError> {
        match write.await {
            Ok(effects) => Ok(effects),
            Err(StoreError::Write(WriteError::NoSuchInvocation(_))) => {
                Err(ControlError::NotFound(id))
            }
            Err(StoreError::Write(WriteError::NotPaused(_))) => {
                let state = self
                    .inner
                    .store
                    .invocation(tenant, id)?
                    .map_or("unknown", |r| self.live_state(&r).as_str());
                Err(ControlError::NotPaused(id, state))
            }
            Err(StoreError::Write(WriteError::InvocationFinished(_))) => {
                let state = self
                    .inner
                    .store
                    .invocation(tenant, id)?
                    .map_or("finished", |r| r.state.as_str());
                Err(ControlError::Finished(id, state))
            }
            Err(err) => Err(err.into()),
        }
    }

    /// The outbound destinations (for metrics).
    pub fn destinations(&self) -> &Destinations {
        &self.inner.services.destinations
    }

    /// Whether component `hash` is prepared in this process (for tests and metrics).
    pub fn is_prepared(&self, hash: &ComponentHash) -> bool {
        self.inner.components.is_cached(hash)
    }

    fn spawn(&self, tenant: TenantId, id: InvocationId) {
        tokio::spawn(executor::execute(self.inner.clone(), tenant, id, None));
    }
}

impl Inner {
    /// Component `hash`, prepared to instantiate (compiled at most once per process).
    async fn prepared(
        &self,
        hash: ComponentHash,
    ) -> Result<Arc<crate::runtime::Prepared>, ComponentError> {
        let load = || async {
            self.store
                .component(&hash)
                .map_err(|e| ComponentError::Store(Arc::new(e)))?
                .map(Arc::new)
                .ok_or(ComponentError::Missing(hash))
        };
        self.components.get(hash, load).await
    }

    /// The egress rules an invocation of `tenant`'s `deployment` runs under now.
    fn egress(&self, tenant: &TenantId, deployment: &str) -> Result<Arc<Narrowing>, StoreError> {
        let key = (tenant.clone(), deployment.to_string());
        let generation = match self.egress_rules.lock() {
            Ok(known) => match known.rules.get(&key) {
                Some(rules) => return Ok(rules.clone()),
                None => Some(known.generation),
            },
            Err(_) => None,
        };
        let (tenant_rules, own) = self.store.egress_of(tenant, deployment)?;
        let narrowing = Arc::new(Narrowing::new(
            tenant_rules,
            own.map(|rules| (deployment.to_string(), rules)),
        ));
        if let Ok(mut known) = self.egress_rules.lock()
            && Some(known.generation) == generation
        {
            // One entry per deployment in use; a bound all the same.
            if known.rules.len() >= 100_000 {
                known.rules.clear();
            }
            known.rules.insert(key, narrowing.clone());
        }
        Ok(narrowing)
    }

    /// The limits `tenant` runs under now.
    fn limits(&self, tenant: &TenantId) -> Result<Limits, StoreError> {
        Ok(Limits::DEFAULT.with(&self.store.quotas(tenant)?))
    }

    /// The semaphore of `tenant`'s running instances, with `max_running` permits (a new one
    /// when the quota changed: runs holding the old one's permits end as they would).
    fn tenant_slots(&self, tenant: &TenantId, max_running: u64) -> Arc<Semaphore> {
        let permits = usize::try_from(max_running.max(1))
            .unwrap_or(usize::MAX)
            .min(Semaphore::MAX_PERMITS);
        let Ok(mut all) = self.tenant_slots.lock() else {
            return Arc::new(Semaphore::new(permits));
        };
        match all.get(tenant) {
            Some((limit, slots)) if *limit == max_running => slots.clone(),
            _ => {
                let slots = Arc::new(Semaphore::new(permits));
                all.insert(tenant.clone(), (max_running, slots.clone()));
                slots
            }
        }
    }

    /// Runs `f` on the waiters of `id`, dropping the entry when none are left.
    fn waiters_for(&self, id: InvocationId, f: impl FnOnce(&mut Vec<oneshot::Sender<()>>)) {
        if let Ok(mut waiters) = self.waiters.lock() {
            let list = waiters.entry(id).or_default();
            f(list);
            if list.is_empty() {
                waiters.remove(&id);
            }
        }
    }

    /// Acts on what a write caused: starts the woken, stops and reports the cancelled.
    fn apply(self: &Arc<Self>, effects: Effects) {
        if effects.outbox {
            self.outbox_ready.notify_one();
        }
        for (tenant, id) in effects.woken {
            tokio::spawn(executor::execute(self.clone(), tenant, id, None));
        }
        for (_, id) in effects.cancelled.into_iter().chain(effects.paused) {
            let stop = self
                .running
                .lock()
                .ok()
                .and_then(|r| r.get(&id).map(|e| e.stop.clone()));
            if let Some(stop) = stop {
                stop.notify_one();
            }
            self.notify(id);
        }
    }

    /// Wakes everyone waiting for `id`.
    fn notify(&self, id: InvocationId) {
        let senders = self
            .waiters
            .lock()
            .ok()
            .and_then(|mut w| w.remove(&id))
            .unwrap_or_default();
        for tx in senders {
            let _ = tx.send(());
        }
    }
}
