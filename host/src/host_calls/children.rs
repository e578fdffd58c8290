//! `dispatch`: starting child invocations.
//!
//! The child's record is created in the same transaction as the parent's dispatch step, so a
//! replay (which returns the recorded child id) never starts a child twice, and a crash never
//! leaves a child without the step that started it. The child is started once both are durable.

use super::{Live, StepError};
use crate::ids::InvocationId;
use crate::journal::{InvocationRecord, Outcome, StepEffect};
use crate::target::{Target, TargetError};

/// Live part of a dispatch: validates the target and input and builds the child record.
/// A bad target or input is the dispatch's (journaled) error, not a trap.
pub(super) fn start(
    live: &Live<'_>,
    function: &str,
    input: &[u8],
    detached: bool,
) -> wasmtime::Result<(Outcome, StepEffect)> {
    match child_record(live, function, input) {
        Ok(mut child) => {
            child.parent = Some(live.running.id);
            child.detached = detached;
            Ok((
                Outcome::Dispatched(Ok(child.id)),
                StepEffect::CreateChild(Box::new(child)),
            ))
        }
        Err(Refused::Guest(message)) => Ok((Outcome::Dispatched(Err(message)), StepEffect::None)),
        Err(Refused::Host(err)) => Err(err),
    }
}

enum Refused {
    /// The guest asked for something that cannot be started.
    Guest(String),
    /// The host could not look it up.
    Host(wasmtime::Error),
}

/// The record of a child of `function` (of this component, or `deployment.function`).
fn child_record(
    live: &Live<'_>,
    function: &str,
    input: &[u8],
) -> Result<InvocationRecord, Refused> {
    let guest = |e: &dyn std::fmt::Display| Refused::Guest(e.to_string());
    if let Err(err) = serde_json::from_slice::<serde::de::IgnoredAny>(input) {
        return Err(guest(&format!(
            "the input for `{function}` is not valid JSON: {err}"
        )));
    }
    let running = live.running;
    let quota = |e: crate::journal::OverQuota| {
        crate::metrics::METRICS.quota_refused(running.tenant.as_str());
        Refused::Guest(format!("cannot start `{function}`: {e}"))
    };
    running.limits.check_input(input.len()).map_err(quota)?;
    let admission = live
        .store
        .admission(&running.tenant)
        .map_err(|e| Refused::Host(e.into()))?;
    running
        .limits
        .check_stored(admission.stored_bytes, input.len() as u64)
        .map_err(quota)?;
    let unstored = live.services.not_durable.count(&running.tenant);
    running
        .limits
        .check_waiting(&admission.counts, unstored)
        .map_err(quota)?;
    if !function.contains('.') {
        if !running.functions.iter().any(|f| f == function) {
            return Err(guest(&TargetError::UnknownFunction {
                deployment: running.deployment.clone(),
                function: function.chars().take(200).collect(),
                available: running.functions.join(", "),
            }));
        }
        return Ok(InvocationRecord::pending(
            &running.tenant,
            &running.deployment,
            running.component,
            function.to_string(),
            input.to_vec(),
        ));
    }
    let target = Target::parse(function).map_err(|e| guest(&e))?;
    let deployment = live
        .store
        .deployment(&running.tenant, &target.deployment)
        .map_err(|e| Refused::Host(e.into()))?
        .ok_or_else(|| guest(&TargetError::UnknownDeployment(target.deployment.clone())))?;
    let function = target.resolve(&deployment).map_err(|e| guest(&e))?;
    Ok(InvocationRecord::pending(
        &running.tenant,
        &deployment.name,
        deployment.component,
        function,
        input.to_vec(),
    ))
}

/// Parses a child handle the guest passed back.
pub(super) fn parse_handle(call: &'static str, handle: &str) -> wasmtime::Result<InvocationId> {
    handle.parse().map_err(|_| {
        let shown: String = handle.chars().take(64).collect();
        StepError::BadArgument {
            call,
            message: format!("`{shown}` is not an invocation id"),
        }
        .into()
    })
}

/// Journaled dispatch: the child's id, or why it could not be started.
pub async fn dispatch(
    steps: &mut super::Steps,
    function: &str,
    input: &[u8],
    detached: bool,
) -> wasmtime::Result<Result<String, String>> {
    let request = super::StepRequest::Dispatch {
        function,
        input,
        detached,
    };
    match steps.take(request).await? {
        Outcome::Dispatched(result) => Ok(result.map(|id| id.to_string())),
        other => Err(super::mismatched("dispatch", &other)),
    }
}
