//! Executing one invocation: instantiate its pinned component, replay its journal, go live,
//! and record how it ended.

use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use tokio::sync::Notify;
use tracing::Instrument;

use super::Inner;
use crate::host_calls::{Capture, InvocationCtx, Refused, Running, StepError, Steps, Suspend};
use crate::ids::{InvocationId, TenantId};
use crate::journal::{
    AwaitMode, Awaitable, Failure, FailureKind, InvocationRecord, InvocationState, Limits,
    OverQuota, Recorded, RetryState, StoreError, WriteError,
};
use crate::outbound::{Exhausted, RetryPolicy};
use crate::storage::Deferred;

/// How one execution attempt ended.
enum Ending {
    /// The function returned its output.
    Completed(Vec<u8>),
    /// The function failed; `true` if running it again may help (a trap, or an error it marked
    /// retryable).
    Failed(Failure, bool),
    /// The invocation waits; its instance is dropped.
    Suspended {
        seq: u32,
        mode: AwaitMode,
        items: Vec<Awaitable>,
        retry: Option<RetryState>,
    },
    /// The host's attempts ran out (at HTTP step `seq`, or its reruns) and its policy pauses
    /// it, saying why.
    Paused { seq: Option<u32>, why: String },
    /// It was cancelled while it ran; the cancellation is recorded already.
    Cancelled,
    /// The host could not go on (e.g. the journal write failed); the invocation stays
    /// unfinished and resumes at the next start.
    Abandoned(String),
}

/// An invocation's turn to execute: held while one execution of it runs.
pub(super) struct Turn {
    inner: Arc<Inner>,
    id: InvocationId,
    lock: Arc<tokio::sync::Mutex<()>>,
    held: Option<tokio::sync::OwnedMutexGuard<()>>,
}

impl Turn {
    /// Waits for invocation `id`'s turn.
    pub(super) async fn take(inner: &Arc<Inner>, id: InvocationId) -> Turn {
        let lock = match inner.executions.lock() {
            Ok(mut all) => all.entry(id).or_default().clone(),
            // Poisoned: a turn of its own (the invariant is then as before: best effort).
            Err(_) => Arc::default(),
        };
        let held = Some(lock.clone().lock_owned().await);
        Turn {
            inner: inner.clone(),
            id,
            lock,
            held,
        }
    }
}

impl Turn {
    /// Stops a run of `id` in this process at its next host call (with every step before it
    /// journaled) and takes its turn, waiting at most `within` (`None`: as long as that
    /// takes). Returns the turn if it was taken in time, and whether a run was asked to stop
    /// (it is to be started again unless it is no longer this node's to run).
    pub(super) async fn stopping(
        inner: &Arc<Inner>,
        id: InvocationId,
        within: Option<std::time::Duration>,
    ) -> (Option<Turn>, bool) {
        let flag = inner
            .running
            .lock()
            .ok()
            .and_then(|running| running.get(&id).map(|e| e.yield_at_next.clone()));
        let stopped = flag.is_some();
        if let Some(flag) = flag {
            flag.store(true, std::sync::atomic::Ordering::Release);
        }
        let turn = match within {
            Some(within) => tokio::time::timeout(within, Turn::take(inner, id))
                .await
                .ok(),
            None => Some(Turn::take(inner, id).await),
        };
        (turn, stopped)
    }
}

impl Drop for Turn {
    fn drop(&mut self) {
        self.held = None;
        if let Ok(mut all) = self.inner.executions.lock()
            && Arc::strong_count(&self.lock) == 2
        {
            // Nobody else waits for a turn: the map forgets the invocation.
            all.remove(&self.id);
        }
    }
}

/// Runs invocation `id` of `tenant` to its end (or until it suspends or the host cannot go on);
/// `deferred` holds its record if its creation is deferred.
pub(super) async fn execute(
    inner: Arc<Inner>,
    tenant: TenantId,
    id: InvocationId,
    deferred: Option<Arc<Deferred>>,
) {
    // One execution of an invocation at a time: another (a resume racing a run still queued
    // for its slot, a wake-up caused by a run that is ending) waits for this one, then finds
    // the invocation as it left it.
    let _turn = Turn::take(&inner, id).await;
    let limits = match inner.limits(&tenant) {
        Ok(limits) => limits,
        Err(err) => {
            tracing::error!(invocation = %id, "cannot read its tenant's quotas, resumes at next start: {err}");
            return;
        }
    };
    // The tenant's slot first: a tenant at its `max_running` waits without holding one of
    // the host's.
    let Ok(_tenant_slot) = inner
        .tenant_slots(&tenant, limits.max_running)
        .acquire_owned()
        .await
    else {
        return;
    };
    let _slot = inner.slots.acquire(&tenant).await;
    let stop = Arc::new(Notify::new());
    let yield_at_next = Arc::new(AtomicBool::new(false));
    if let Ok(mut running) = inner.running.lock() {
        let tenant = tenant.clone();
        let (stop, yield_at_next) = (stop.clone(), yield_at_next.clone());
        running.insert(
            id,
            super::Executing {
                tenant,
                stop,
                yield_at_next,
            },
        );
    }
    let run_of = RunOf {
        stop: &stop,
        yield_at_next: &yield_at_next,
    };
    // Every host log line of the run (the guest's log lines too) names its tenant and id.
    let fields = tracing::info_span!("run", tenant = %tenant, invocation = %id);
    let outcome = run(&inner, &tenant, id, run_of, deferred.as_ref(), &limits)
        .instrument(fields)
        .await;
    // Only this execution's entry: a wake-up this run caused (a wait already satisfied when
    // it suspended) may have started the next execution, which has put its own.
    if let Ok(mut running) = inner.running.lock()
        && running
            .get(&id)
            .is_some_and(|e| Arc::ptr_eq(&e.stop, &stop))
    {
        running.remove(&id);
    }
    if deferred.is_some()
        && let Ok(mut all) = inner.deferred.lock()
    {
        all.remove(&id);
    }
    match outcome {
        // Cancelled, paused or moved away meanwhile.
        Err(StoreError::Write(
            WriteError::InvocationFinished(_)
            | WriteError::NotRunning(_)
            | WriteError::Moved { .. },
        )) => {}
        Err(err) => {
            tracing::error!(invocation = %id, "cannot record the invocation's progress: {err}")
        }
        Ok(()) => {}
    }
    inner.notify(id);
}

/// What one run shares with its journal cursor: how to stop it at its next host call, the
/// capture of what the guest writes, and its span (with when it started).
struct ThisRun<'a> {
    yield_at_next: &'a Arc<AtomicBool>,
    output: Capture,
    span: u64,
    start_ns: u64,
}

/// The span of the run `this` of `record`, which ended in `ending`.
fn run_span(record: &InvocationRecord, this: &ThisRun<'_>, ending: &Ending) -> crate::traces::Span {
    use crate::traces::Value::{Int, Text};
    let (ended, error) = match ending {
        Ending::Completed(_) => ("completed", None),
        // A failure to run again has become a suspension (the rerun's wait) by now.
        Ending::Failed(failure, _) => ("failed", Some(failure.message.clone())),
        Ending::Suspended { .. } => ("suspended", None),
        Ending::Paused { why, .. } => ("paused", Some(why.clone())),
        Ending::Cancelled => ("stopped", None),
        Ending::Abandoned(why) => ("abandoned", Some(why.clone())),
    };
    crate::traces::Span {
        trace: record.id.0,
        id: this.span,
        parent: None,
        name: format!("run {}", record.function),
        start_ns: this.start_ns,
        end_ns: crate::traces::now_ns(),
        attributes: vec![
            ("reprise.tenant", Text(record.tenant.to_string())),
            ("reprise.invocation", Text(record.id.to_string())),
            (
                "reprise.function",
                Text(format!("{}.{}", record.deployment, record.function)),
            ),
            ("reprise.run", Int(i64::from(record.attempts))),
            ("reprise.ended", Text(ended.to_string())),
        ],
        error,
    }
}

/// How a run in this process is stopped: at once, or at its next host call.
#[derive(Clone, Copy)]
struct RunOf<'a> {
    stop: &'a Notify,
    yield_at_next: &'a Arc<AtomicBool>,
}

async fn run(
    inner: &Arc<Inner>,
    tenant: &TenantId,
    id: InvocationId,
    run_of: RunOf<'_>,
    deferred: Option<&Arc<Deferred>>,
    limits: &Limits,
) -> Result<(), StoreError> {
    let mut record = match deferred {
        Some(deferred) => deferred.record().clone(),
        None => match inner.store.invocation(tenant, id)? {
            Some(record) => record,
            None => return Ok(()),
        },
    };
    // A suspended (or scheduled) invocation runs only once its wait is over and it is made
    // pending again; a paused one once it is resumed.
    if record.state.is_terminal()
        || record.state.is_waiting()
        || matches!(
            record.state,
            InvocationState::Paused | InvocationState::Moved
        )
    {
        return Ok(());
    }
    // The run is not recorded as it starts (that would cost a durable write before the first
    // step): the record stays pending, shown as running while this process executes it, and
    // the run is counted with whatever it ends in.
    record.attempts += 1;

    let policy = match inner.store.deployment(&record.tenant, &record.deployment)? {
        Some(d) => crate::outbound::Policy::from(&d.policy),
        None => crate::outbound::Policy::default(),
    };
    let (retry, rerun, exhausted) = (
        policy.retry_for(&record.function),
        policy.rerun_for(&record.function),
        policy.exhausted_for(&record.function),
    );
    let this = ThisRun {
        yield_at_next: run_of.yield_at_next,
        output: Capture::default(),
        span: crate::traces::span_id(),
        start_ns: crate::traces::now_ns(),
    };
    let output = &this.output;
    let ending = tokio::select! {
        ending = attempt(inner, &record, (&retry, exhausted), deferred, limits, &this) => ending,
        () = run_of.stop.notified() => Ending::Cancelled,
    };
    let now = crate::clock::now_ms();
    let ending = match ending {
        Ending::Completed(output) if output.len() as u64 > limits.output_bytes => {
            let over = OverQuota::new("output_bytes", limits.output_bytes, "bytes of output");
            let message = format!("the output ({} bytes) is {over}", output.len());
            failed(FailureKind::Quota, message)
        }
        other => other,
    };
    if let Ending::Failed(failure, _) = &ending
        && failure.kind == FailureKind::Quota
    {
        crate::metrics::METRICS.quota_refused(tenant.as_str());
    }
    let ending = match ending {
        Ending::Failed(failure, true) => {
            // When this series of reruns started: kept with the rerun's wait (the first run
            // of a series has none yet; an invocation from before it was kept, its creation).
            let started = match record.retries {
                0 => now,
                _ => inner
                    .store
                    .retry_state(id, RERUNS)?
                    .map_or(record.created_at_ms, |r| r.first_ms),
            };
            retry_or_fail(&mut record, &rerun, exhausted, failure, (started, now))
        }
        other => other,
    };
    if !matches!(ending, Ending::Cancelled | Ending::Abandoned(_)) {
        keep_output(inner, &record, deferred, output).await?;
    }
    if inner.services.traces.on() {
        inner
            .services
            .traces
            .record(run_span(&record, &this, &ending));
    }
    let effects = match ending {
        Ending::Completed(output) => {
            record.output = Some(output);
            record.failure = None;
            record.finish(InvocationState::Completed, now);
            write_end(inner, &record, deferred).await?
        }
        Ending::Failed(failure, _) => {
            tracing::info!(invocation = %id, "failed: {}", failure.message);
            record.failure = Some(failure);
            record.finish(InvocationState::Failed, now);
            write_end(inner, &record, deferred).await?
        }
        Ending::Suspended {
            seq,
            mode,
            items,
            retry,
        } => {
            if let Some(deferred) = deferred {
                deferred.ensure(&*inner.store).await?;
            }
            let effects = inner
                .store
                .suspend(&record, seq, mode, &items, retry)
                .await?;
            inner.timers_changed.notify_one();
            effects
        }
        Ending::Paused { seq, why } => {
            tracing::info!(invocation = %id, "paused: {why}");
            if let Some(deferred) = deferred {
                deferred.ensure(&*inner.store).await?;
            }
            record.failure = Some(Failure {
                kind: FailureKind::Exhausted,
                message: format!("paused: {why}; resume it once that is fixed"),
            });
            inner.store.pause_exhausted(&record, seq).await?
        }
        Ending::Cancelled => return Ok(()),
        Ending::Abandoned(reason) => {
            tracing::error!(invocation = %id, "stopped, resumes at next start: {reason}");
            return Ok(());
        }
    };
    inner.apply(effects);
    Ok(())
}

/// Keeps every line of the run's `output` (those a crash kept from being stored before are
/// stored now) before its end is written, so whoever sees the end sees them; an invocation
/// whose creation is deferred is made durable first if there are any.
async fn keep_output(
    inner: &Inner,
    record: &InvocationRecord,
    deferred: Option<&Arc<Deferred>>,
    output: &Capture,
) -> Result<(), StoreError> {
    let lines = output.finish();
    if lines.is_empty() {
        return Ok(());
    }
    if let Some(deferred) = deferred {
        deferred.ensure(&*inner.store).await?;
    }
    if let Err(err) = inner
        .store
        .put_output(&record.tenant, record.id, lines)
        .await
    {
        tracing::warn!(invocation = %record.id, "output not kept: {err}");
    }
    Ok(())
}

/// Writes how `record` ended; creates it in the same write if its creation was deferred and
/// nothing has written it yet.
async fn write_end(
    inner: &Inner,
    record: &InvocationRecord,
    deferred: Option<&Arc<Deferred>>,
) -> Result<crate::journal::Effects, StoreError> {
    match deferred {
        Some(deferred) => {
            deferred
                .write_with(async |create| inner.store.put(record, create.is_some()).await)
                .await
        }
        None => inner.store.update_invocation(record).await,
    }
}

/// The position of a rerun's wait, which is no step of the journal; its retry row keeps when
/// the series of reruns started.
const RERUNS: u32 = u32::MAX;

/// After a retryable failure at `now` of a series of runs `started` then: suspends the
/// invocation until its next run under `policy`, or, when the policy is spent, fails it (or
/// pauses it, as `exhausted` says, its rerun count set back to zero and its series ended, so a
/// resume starts a new one). A failure determined by the journal recurs on each run.
fn retry_or_fail(
    record: &mut InvocationRecord,
    policy: &RetryPolicy,
    exhausted: Exhausted,
    failure: Failure,
    (started, now): (u64, u64),
) -> Ending {
    let runs = record.retries + 1;
    let wait = policy.backoff(runs, None);
    let next_ms = now + wait.as_millis() as u64;
    if runs >= policy.max_attempts || next_ms > started.saturating_add(policy.deadline_ms) {
        let message = format!("{} (after {runs} runs)", failure.message);
        if exhausted == Exhausted::Pause {
            record.retries = 0;
            return Ending::Paused {
                seq: Some(RERUNS),
                why: message,
            };
        }
        return Ending::Failed(Failure { message, ..failure }, false);
    }
    tracing::info!(invocation = %record.id, "run {runs} failed, runs again in {wait:?}: {}", failure.message);
    record.retries = runs;
    record.failure = Some(failure);
    Ending::Suspended {
        seq: RERUNS,
        mode: AwaitMode::All,
        items: vec![Awaitable::Timer { due_ms: next_ms }],
        retry: Some(RetryState {
            attempts: runs,
            first_ms: started,
        }),
    }
}

/// One run of `record` under its steps' retry `policy` (and what to do when it runs out),
/// capturing what the guest writes into `output`.
async fn attempt(
    inner: &Inner,
    record: &InvocationRecord,
    (policy, exhausted): (&RetryPolicy, Exhausted),
    deferred: Option<&Arc<Deferred>>,
    limits: &Limits,
    this: &ThisRun<'_>,
) -> Ending {
    let prepared = match inner.prepared(record.component).await {
        Ok(prepared) => prepared,
        Err(err) if err.is_host_failure() => return Ending::Abandoned(err.to_string()),
        Err(err) => return failed(FailureKind::Host, err.to_string()),
    };
    // An invocation whose creation is deferred has not been written yet: nothing to replay.
    let journal = match deferred {
        Some(_) => Ok(Recorded::default()),
        None => inner.store.recorded(record.id),
    };
    let journal = match journal {
        Ok(journal) => journal,
        Err(err) => return Ending::Abandoned(err.to_string()),
    };
    let egress = match inner.egress(&record.tenant, &record.deployment) {
        Ok(egress) => egress,
        Err(err) => return Ending::Abandoned(err.to_string()),
    };
    let running = Running {
        tenant: record.tenant.clone(),
        id: record.id,
        deployment: record.deployment.clone(),
        component: record.component,
        functions: prepared.functions.clone().into(),
        retry: policy.clone(),
        exhausted,
        deferred: deferred.cloned(),
        limits: *limits,
        egress,
        yield_at_next: this.yield_at_next.clone(),
        span: this.span,
    };
    let steps = Steps::run(
        running,
        inner.store.clone(),
        journal,
        inner.services.clone(),
        this.output.clone(),
    );
    let mut store = inner.components.new_store(steps, limits);
    let instance = match prepared.pre.instantiate_async(&mut store).await {
        Ok(instance) => instance,
        Err(err) => return trapped(err, store.data()),
    };
    let result = instance
        .reprise_function_guest()
        .call_call(&mut store, &record.function, &record.input)
        .await;
    match result {
        Ok(Ok(output)) => Ending::Completed(output),
        Ok(Err(error)) => Ending::Failed(
            Failure {
                kind: FailureKind::FunctionError,
                message: error.message,
            },
            error.retryable,
        ),
        Err(err) => trapped(err, store.data()),
    }
}

/// A failure that running the function again cannot fix.
fn failed(kind: FailureKind, message: String) -> Ending {
    Ending::Failed(Failure { kind, message }, false)
}

/// Classifies a trap: a suspension, a determinism violation, a lost journal write, or a
/// guest failure.
fn trapped(err: wasmtime::Error, ctx: &InvocationCtx) -> Ending {
    match err.downcast_ref::<Suspend>() {
        Some(Suspend::Wait { seq, mode, items }) => {
            return Ending::Suspended {
                seq: *seq,
                mode: *mode,
                items: items.clone(),
                retry: None,
            };
        }
        Some(Suspend::Retry { seq, due_ms, retry }) => {
            return Ending::Suspended {
                seq: *seq,
                mode: AwaitMode::All,
                items: vec![Awaitable::Timer { due_ms: *due_ms }],
                retry: Some(*retry),
            };
        }
        Some(Suspend::Exhausted { seq, why }) => {
            return Ending::Paused {
                seq: Some(*seq),
                why: format!("step {seq}: {why}"),
            };
        }
        // Moving: what it journaled is kept, and the run is the other node's to make.
        Some(Suspend::Yield { .. }) => return Ending::Cancelled,
        None => {}
    }
    // Over its run time: fails this run, and reruns under the policy like a trap.
    if let Some(over) = err.downcast_ref::<OverQuota>() {
        return Ending::Failed(
            Failure {
                kind: FailureKind::Quota,
                message: format!("the run was stopped: {over}"),
            },
            true,
        );
    }
    match err.downcast_ref::<StepError>() {
        Some(violation @ StepError::DeterminismViolation { .. }) => {
            return failed(FailureKind::DeterminismViolation, violation.to_string());
        }
        Some(StepError::Journal {
            source: StoreError::Write(WriteError::NotRunning(_)),
            ..
        }) => return Ending::Cancelled,

        Some(lost @ StepError::Journal { .. }) => return Ending::Abandoned(lost.to_string()),
        // An entry that does not decode may be read by another version: resume at next start.
        Some(unreadable @ StepError::Corrupt { .. }) => {
            return Ending::Abandoned(unreadable.to_string());
        }
        Some(corrupt @ StepError::Gap { .. }) => {
            return failed(FailureKind::Host, corrupt.to_string());
        }
        // A journal over its quota stays over it on every replay: no rerun.
        Some(over @ StepError::OverQuota { .. }) => {
            return failed(FailureKind::Quota, over.to_string());
        }
        Some(StepError::NotAvailable(_) | StepError::BadArgument { .. }) | None => {}
    }
    // A trap after a refused memory growth: the guest ran out of its quota.
    match ctx.memory_refused() {
        Some(Refused::Quota { desired, limit }) => {
            let over = OverQuota::new("memory_bytes", limit, "bytes of memory per instance");
            return failed(
                FailureKind::Quota,
                format!("the guest asked for {desired} bytes of memory: {over}"),
            );
        }
        // The host's budget is the others' too: run again later, under the rerun policy.
        Some(Refused::Budget { desired, cap }) => {
            return Ending::Failed(
                Failure {
                    kind: FailureKind::Host,
                    message: format!(
                        "the guest asked for {desired} bytes of memory while the host's \
                         budget for all guests ({cap} bytes, serve --memory-budget-mb) was in use"
                    ),
                },
                true,
            );
        }
        None => {}
    }
    let mut message = match err.downcast_ref::<wasmtime::Trap>() {
        Some(trap) => format!("guest trapped: {trap}"),
        None => format!("guest trapped: {err:#}"),
    };
    let stderr = ctx.stderr_text();
    if !stderr.is_empty() {
        message.push_str("\nstderr:\n");
        message.push_str(&stderr);
    }
    Ending::Failed(
        Failure {
            kind: FailureKind::Trap,
            message,
        },
        true,
    )
}
