//! Rewind and fork: running an invocation again from one of its steps, on the code it ran or
//! on newer code (the fix-forward flow: a bug at step 7 is fixed, deployed, and the failed
//! invocations are rewound to step 7 on the new version).
//!
//! Before anything is written, the component the invocation is to run on replays the steps
//! that are kept, in a store of its own that journals nothing: a step it asks for differently
//! is a determinism violation naming the step, and nothing changes. The write that follows
//! ([`crate::journal::Op::Rewind`], [`crate::journal::Op::Fork`]) is refused if the
//! invocation changed meanwhile, so what was checked is what runs.

use super::{InvokeError, Scheduler};
use crate::host_calls::{ReplayEnd, StepError, Steps};
use crate::ids::{ComponentHash, InvocationId, TenantId};
use crate::journal::{
    InvocationRecord, InvocationState, Outcome, Recorded, RewindPlan, StoreError, WriteError,
};
use crate::runtime::ComponentError;
use crate::target::TargetError;

/// The code a rewound or forked invocation runs on.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Onto {
    /// The component it is pinned to.
    #[default]
    Same,
    /// The component with this hash (or unique hex prefix): its own, or the one behind one of
    /// the tenant's deployments; it keeps its deployment name.
    Component(String),
    /// The component deployed under this name now; it runs through that deployment.
    Deployment(String),
}

/// Why a rewind or a fork was refused; nothing was changed.
#[derive(Debug, thiserror::Error)]
pub enum RewindError {
    /// No invocation of the tenant has this id.
    #[error("no invocation {0}")]
    NotFound(InvocationId),
    /// Only a finished or paused invocation is rewound.
    #[error(
        "invocation {0} is {1}: only a completed, failed, cancelled or paused invocation can be rewound (pause it first)"
    )]
    NotRewindable(InvocationId, &'static str),
    /// The journal has fewer steps than asked for.
    #[error("step {step} is past the journal of {id}, which has {steps} steps: use 0 to {steps}")]
    NoSuchStep {
        id: InvocationId,
        step: u32,
        steps: u32,
    },
    /// An attached child whose parent has not finished.
    #[error(
        "invocation {id} is a child of {parent}, which has not finished and may have counted its end already: rewind or cancel the parent first"
    )]
    ParentUnfinished {
        id: InvocationId,
        parent: InvocationId,
    },
    /// `component` names none of the tenant's components.
    #[error(
        "`component` `{0}` is neither the invocation's component nor one deployed by this tenant (see `reprise deployments`)"
    )]
    UnknownComponent(String),
    /// `component` is a prefix of several.
    #[error("`component` `{0}` is the start of several components' hashes: give more of it")]
    AmbiguousComponent(String),
    /// The deployment is unknown.
    #[error(transparent)]
    Target(#[from] TargetError),
    /// The component does not export the invocation's function.
    #[error("component {component} does not export `{function}`, the function of {id}")]
    NoFunction {
        id: InvocationId,
        component: ComponentHash,
        function: String,
    },
    /// The component asks for other steps than the kept ones.
    #[error("{0}; nothing was changed")]
    Diverged(StepError),
    /// The component's function returned before it had replayed the kept steps.
    #[error(
        "the function returned after {ended} steps, but {kept} steps are kept: it no longer takes the steps its journal recorded; nothing was changed"
    )]
    EndedEarly { ended: u32, kept: u32 },
    /// The component trapped while replaying the kept steps.
    #[error(
        "the function trapped while replaying step {seq} (of the {kept} kept): {message}; nothing was changed"
    )]
    Trapped {
        seq: u32,
        kept: u32,
        message: String,
    },
    /// The component could not be loaded.
    #[error(transparent)]
    Component(#[from] ComponentError),
    /// A fork would take a step that dispatched a child, which stays the original's.
    #[error(
        "step {seq} of {id} dispatched child {child}, which belongs to {id}: a fork cannot take it; fork at step {seq} or before"
    )]
    ForkTakesChild {
        id: InvocationId,
        seq: u32,
        child: InvocationId,
    },
    /// The invocation changed while it was checked.
    #[error("invocation {0} changed while it was being checked; try again")]
    Changed(InvocationId),
    /// A fork is a new invocation, refused like one (quotas).
    #[error(transparent)]
    Refused(#[from] InvokeError),
    /// Storage failed; nothing was changed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl Scheduler {
    /// Rewinds finished or paused invocation `id` to its first `to_step` steps on `onto`:
    /// once that component has replayed them identically, the later steps move to the
    /// invocation's history and it runs again from step `to_step`. Returns its record.
    pub async fn rewind(
        &self,
        tenant: &TenantId,
        id: InvocationId,
        to_step: u32,
        onto: &Onto,
    ) -> Result<InvocationRecord, RewindError> {
        let store = self.store();
        let record = self.record_of(tenant, id)?;
        if !(record.state.is_terminal() || record.state == InvocationState::Paused) {
            return Err(RewindError::NotRewindable(
                id,
                self.live_state(&record).as_str(),
            ));
        }
        if let Some(parent) = record
            .parent
            .filter(|_| !record.detached && record.state.is_terminal())
            && store
                .invocation(tenant, parent)?
                .is_some_and(|p| !p.state.is_terminal())
        {
            return Err(RewindError::ParentUnfinished { id, parent });
        }
        let history = store.history_len(id)?;
        let (kept, steps) = self.kept_steps(id, to_step)?;
        let (component, deployment) = self.resolve_onto(tenant, &record, onto)?;
        self.check_replay(&record, component, kept, to_step).await?;
        // A run of a just paused invocation may still be stopping: its last step could land
        // after the rewind.
        if self.is_executing(id) {
            return Err(RewindError::Changed(id));
        }
        let plan = RewindPlan {
            to_step,
            steps,
            state: record.state,
            history,
            component,
            deployment,
        };
        let effects = store
            .rewind(tenant, id, plan)
            .await
            .map_err(|e| refusal(id, e))?;
        self.inner.apply(effects);
        self.record_of(tenant, id)
    }

    /// Forks invocation `id` (in any state) at step `at_step` on `onto`: a new invocation of
    /// the same function and input with its first `at_step` steps, which runs on from there;
    /// `id` is left alone. Returns the new invocation's record.
    pub async fn fork(
        &self,
        tenant: &TenantId,
        id: InvocationId,
        at_step: u32,
        onto: &Onto,
    ) -> Result<InvocationRecord, RewindError> {
        let store = self.store();
        let record = self.record_of(tenant, id)?;
        let (kept, _) = self.kept_steps(id, at_step)?;
        // A child belongs to the invocation that dispatched it: a fork could not wait for it.
        for step in kept.clone() {
            if let Ok((seq, entry)) = step
                && let Outcome::Dispatched(Ok(child)) = entry.outcome
            {
                return Err(RewindError::ForkTakesChild { id, seq, child });
            }
        }
        let (component, deployment) = self.resolve_onto(tenant, &record, onto)?;
        self.admit(tenant, &record.input)?;
        let steps = kept.stored_steps();
        self.check_replay(&record, component, kept, at_step).await?;
        let fork = InvocationRecord::pending(
            tenant,
            &deployment,
            component,
            record.function.clone(),
            record.input.clone(),
        );
        let effects = store
            .fork(&fork, id, record.component, steps)
            .await
            .map_err(|e| refusal(id, e))?;
        self.inner.apply(effects);
        Ok(fork)
    }

    /// Checks, changing nothing, that `onto` replays the first `steps` steps of invocation
    /// `id` identically: what a rewind or a fork to that step checks before it writes.
    pub async fn check_replays(
        &self,
        tenant: &TenantId,
        id: InvocationId,
        steps: u32,
        onto: &Onto,
    ) -> Result<(), RewindError> {
        let record = self.record_of(tenant, id)?;
        let (kept, _) = self.kept_steps(id, steps)?;
        let (component, _) = self.resolve_onto(tenant, &record, onto)?;
        self.check_replay(&record, component, kept, steps).await
    }

    /// The record of `tenant`'s invocation `id`.
    fn record_of(
        &self,
        tenant: &TenantId,
        id: InvocationId,
    ) -> Result<InvocationRecord, RewindError> {
        self.store()
            .invocation(tenant, id)?
            .ok_or(RewindError::NotFound(id))
    }

    /// The first `n` steps of `id`'s journal, and how many it has; refused if fewer than `n`.
    fn kept_steps(&self, id: InvocationId, n: u32) -> Result<(Recorded, u32), RewindError> {
        let all = self.store().recorded(id)?;
        let steps = all.remaining() as u32;
        if n > steps {
            return Err(RewindError::NoSuchStep { id, step: n, steps });
        }
        Ok((all.first(n as usize), steps))
    }

    /// The component and deployment `onto` names for `record`.
    fn resolve_onto(
        &self,
        tenant: &TenantId,
        record: &InvocationRecord,
        onto: &Onto,
    ) -> Result<(ComponentHash, String), RewindError> {
        match onto {
            Onto::Same => Ok((record.component, record.deployment.clone())),
            Onto::Deployment(name) => {
                let deployment = self
                    .store()
                    .deployment(tenant, name)?
                    .ok_or_else(|| TargetError::UnknownDeployment(name.clone()))?;
                Ok((deployment.component, deployment.name))
            }
            Onto::Component(prefix) => {
                let prefix = prefix.to_ascii_lowercase();
                let mut candidates: Vec<ComponentHash> = self
                    .store()
                    .deployments(tenant)?
                    .into_iter()
                    .map(|d| d.component)
                    .chain([record.component])
                    .filter(|hash| !prefix.is_empty() && hash.to_hex().starts_with(&prefix))
                    .collect();
                candidates.sort();
                candidates.dedup();
                let clipped = || prefix.chars().take(80).collect();
                match candidates.as_slice() {
                    [hash] => Ok((*hash, record.deployment.clone())),
                    [] => Err(RewindError::UnknownComponent(clipped())),
                    _ => Err(RewindError::AmbiguousComponent(clipped())),
                }
            }
        }
    }

    /// Replays `kept` (the first `n` steps of `record`'s journal) on `component` without
    /// journaling anything: `Ok` if the function takes them all, identically.
    pub(super) async fn check_replay(
        &self,
        record: &InvocationRecord,
        component: ComponentHash,
        kept: Recorded,
        n: u32,
    ) -> Result<(), RewindError> {
        let prepared = self.inner.prepared(component).await?;
        if !prepared.functions.contains(&record.function) {
            return Err(RewindError::NoFunction {
                id: record.id,
                component,
                function: record.function.clone(),
            });
        }
        let limits = self.inner.limits(&record.tenant)?;
        let steps = Steps::check(record.id, kept);
        let mut store = self.inner.components.new_store(steps, &limits);
        let result = match prepared.pre.instantiate_async(&mut store).await {
            Ok(instance) => {
                instance
                    .reprise_function_guest()
                    .call_call(&mut store, &record.function, &record.input)
                    .await
            }
            Err(err) => Err(err),
        };
        let reached = store.data_mut().steps_mut().position();
        match result {
            // Returned (or failed as a function): fine once every kept step was taken.
            Ok(_) if reached >= n => Ok(()),
            Ok(_) => Err(RewindError::EndedEarly {
                ended: reached,
                kept: n,
            }),
            Err(err) if err.downcast_ref::<ReplayEnd>().is_some() => Ok(()),
            Err(err) => match err.downcast::<StepError>() {
                Ok(violation @ StepError::DeterminismViolation { .. }) => {
                    Err(RewindError::Diverged(violation))
                }
                Ok(other) => Err(RewindError::Trapped {
                    seq: reached,
                    kept: n,
                    message: other.to_string(),
                }),
                Err(err) => Err(RewindError::Trapped {
                    seq: reached,
                    kept: n,
                    message: format!("{err:#}"),
                }),
            },
        }
    }
}

/// What the refusal of a rewind's or a fork's write means for its caller.
fn refusal(id: InvocationId, err: StoreError) -> RewindError {
    match err {
        StoreError::Write(WriteError::NoSuchInvocation(_)) => RewindError::NotFound(id),
        StoreError::Write(WriteError::NotRewindable { state, .. }) => {
            RewindError::NotRewindable(id, state)
        }
        StoreError::Write(
            WriteError::InvocationChanged(_)
            | WriteError::NoSuchStep { .. }
            | WriteError::ParentUnfinished { .. },
        ) => RewindError::Changed(id),
        StoreError::Write(WriteError::OverQuota(over)) => {
            RewindError::Refused(InvokeError::StorageFull(over))
        }
        err => RewindError::Store(err),
    }
}
