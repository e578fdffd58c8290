//! Executing one invocation: instantiate its pinned component, replay its journal, go live,
//! and record how it ended.

use std::sync::Arc;

use super::Inner;
use crate::host_calls::{StepError, Steps, Suspend};
use crate::ids::InvocationId;
use crate::journal::{Failure, FailureKind, InvocationRecord, InvocationState, StoreError, Wait};
use crate::runtime::{ComponentError, InvocationCtx};

/// How one execution attempt ended.
enum Ending {
    /// The function returned its output.
    Completed(Vec<u8>),
    /// The invocation failed for good.
    Failed(Failure),
    /// The invocation waits; its instance is dropped.
    Suspended(Wait),
    /// The host could not go on (e.g. the journal write failed); the invocation stays
    /// unfinished and resumes at the next start.
    Abandoned(String),
}

/// Runs invocation `id` of `tenant` to its end (or until the host cannot go on).
pub(super) async fn execute(inner: Arc<Inner>, tenant: String, id: InvocationId) {
    let Ok(_slot) = inner.slots.acquire().await else {
        return;
    };
    if let Err(err) = run(&inner, &tenant, id).await {
        tracing::error!(invocation = %id, "cannot record the invocation's progress: {err}");
    }
    inner.notify(id);
}

async fn run(inner: &Inner, tenant: &str, id: InvocationId) -> Result<(), StoreError> {
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

    let ending = attempt(inner, &record).await;
    let now = crate::clock::now_ms();
    match ending {
        Ending::Completed(output) => {
            record.state = InvocationState::Completed;
            record.output = Some(output);
        }
        Ending::Failed(failure) => {
            tracing::info!(invocation = %id, "failed: {}", failure.message);
            record.state = InvocationState::Failed;
            record.failure = Some(failure);
        }
        Ending::Suspended(wait) => {
            record.state = InvocationState::Suspended;
            record.waiting = Some(wait);
            record.updated_at_ms = now;
            inner.store.update_invocation(&record).await?;
            inner.timers_changed.notify_one();
            return Ok(());
        }
        Ending::Abandoned(reason) => {
            tracing::error!(invocation = %id, "stopped, resumes at next start: {reason}");
            return Ok(());
        }
    }
    record.updated_at_ms = now;
    record.finished_at_ms = Some(now);
    inner.store.update_invocation(&record).await
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
    let steps = Steps::run(
        record.id,
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

/// Classifies a trap: a determinism violation, a lost journal write, or a guest failure.
fn trapped(err: wasmtime::Error, ctx: &InvocationCtx) -> Ending {
    if let Some(Suspend::Timer { due_ms }) = err.downcast_ref::<Suspend>() {
        return Ending::Suspended(Wait::Timer { due_ms: *due_ms });
    }
    match err.downcast_ref::<StepError>() {
        Some(violation @ StepError::DeterminismViolation { .. }) => {
            return failed(FailureKind::DeterminismViolation, violation.to_string());
        }
        Some(lost @ StepError::Journal { .. }) => return Ending::Abandoned(lost.to_string()),
        Some(corrupt @ StepError::Gap { .. }) => {
            return failed(FailureKind::Host, corrupt.to_string());
        }
        Some(StepError::NotAvailable(_)) | None => {}
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
