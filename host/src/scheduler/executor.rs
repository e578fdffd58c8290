//! Executing one invocation: instantiate its pinned component, replay its journal, go live,
//! and record how it ended.

use std::sync::Arc;

use tokio::sync::Notify;

use super::Inner;
use crate::host_calls::{Running, StepError, Steps, Suspend};
use crate::ids::InvocationId;
use crate::journal::{
    AwaitMode, Awaitable, Failure, FailureKind, InvocationRecord, InvocationState, RetryState,
    StoreError, WriteError,
};
use crate::runtime::{ComponentError, InvocationCtx};

/// How one execution attempt ended.
enum Ending {
    /// The function returned its output.
    Completed(Vec<u8>),
    /// The invocation failed for good.
    Failed(Failure),
    /// The invocation waits; its instance is dropped.
    Suspended {
        seq: u32,
        mode: AwaitMode,
        items: Vec<Awaitable>,
        retry: Option<RetryState>,
    },
    /// It was cancelled while it ran; the cancellation is recorded already.
    Cancelled,
    /// The host could not go on (e.g. the journal write failed); the invocation stays
    /// unfinished and resumes at the next start.
    Abandoned(String),
}

/// Runs invocation `id` of `tenant` to its end (or until it suspends or the host cannot go on).
pub(super) async fn execute(inner: Arc<Inner>, tenant: String, id: InvocationId) {
    let Ok(_slot) = inner.slots.acquire().await else {
        return;
    };
    let stop = Arc::new(Notify::new());
    if let Ok(mut running) = inner.running.lock() {
        running.insert(id, stop.clone());
    }
    let outcome = run(&inner, &tenant, id, &stop).await;
    if let Ok(mut running) = inner.running.lock() {
        running.remove(&id);
    }
    match outcome {
        Err(StoreError::Write(WriteError::InvocationFinished(_))) => {} // cancelled meanwhile
        Err(err) => {
            tracing::error!(invocation = %id, "cannot record the invocation's progress: {err}")
        }
        Ok(()) => {}
    }
    inner.notify(id);
}

async fn run(
    inner: &Arc<Inner>,
    tenant: &str,
    id: InvocationId,
    stop: &Notify,
) -> Result<(), StoreError> {
    let Some(mut record) = inner.store.invocation(tenant, id)? else {
        return Ok(());
    };
    // A suspended invocation runs only once its wait is over and it is made pending again.
    if record.state.is_terminal() || record.state == InvocationState::Suspended {
        return Ok(());
    }
    record.state = InvocationState::Running;
    record.attempts += 1;
    record.updated_at_ms = crate::clock::now_ms();
    inner.store.update_invocation(&record).await?;

    let ending = tokio::select! {
        ending = attempt(inner, &record) => ending,
        () = stop.notified() => Ending::Cancelled,
    };
    let now = crate::clock::now_ms();
    let effects = match ending {
        Ending::Completed(output) => {
            record.output = Some(output);
            record.finish(InvocationState::Completed, now);
            inner.store.update_invocation(&record).await?
        }
        Ending::Failed(failure) => {
            tracing::info!(invocation = %id, "failed: {}", failure.message);
            record.failure = Some(failure);
            record.finish(InvocationState::Failed, now);
            inner.store.update_invocation(&record).await?
        }
        Ending::Suspended {
            seq,
            mode,
            items,
            retry,
        } => {
            let effects = inner
                .store
                .suspend(&record, seq, mode, &items, retry)
                .await?;
            inner.timers_changed.notify_one();
            effects
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

async fn attempt(inner: &Inner, record: &InvocationRecord) -> Ending {
    let load = || async {
        inner
            .store
            .component(&record.component)
            .map_err(|e| ComponentError::Host(e.to_string()))?
            .map(Arc::new)
            .ok_or(ComponentError::Missing(record.component))
    };
    let prepared = match inner.components.get(record.component, load).await {
        Ok(prepared) => prepared,
        Err(err @ ComponentError::Host(_)) => return Ending::Abandoned(err.to_string()),
        Err(err) => return failed(FailureKind::Host, err.to_string()),
    };
    let journal = match inner.store.steps(record.id) {
        Ok(journal) => journal,
        Err(err) => return Ending::Abandoned(err.to_string()),
    };
    let retry = match inner.store.deployment(&record.tenant, &record.deployment) {
        Ok(deployment) => deployment
            .map(|d| d.policy.retry_for(&record.function))
            .unwrap_or_default(),
        Err(err) => return Ending::Abandoned(err.to_string()),
    };
    let running = Running {
        tenant: record.tenant.clone(),
        id: record.id,
        deployment: record.deployment.clone(),
        component: record.component,
        functions: prepared.functions.clone().into(),
        retry,
    };
    let steps = Steps::run(
        running,
        inner.store.clone(),
        journal,
        inner.services.clone(),
    );
    let mut store = inner.components.new_store(InvocationCtx::new(steps));
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
        Ok(Err(message)) => failed(FailureKind::FunctionError, message),
        Err(err) => trapped(err, store.data()),
    }
}

fn failed(kind: FailureKind, message: String) -> Ending {
    Ending::Failed(Failure { kind, message })
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
        None => {}
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
        Some(corrupt @ StepError::Gap { .. }) => {
            return failed(FailureKind::Host, corrupt.to_string());
        }
        Some(StepError::NotAvailable(_) | StepError::BadArgument { .. }) | None => {}
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
    failed(FailureKind::Trap, message)
}
