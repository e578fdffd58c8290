//! Deployment and invocation records.

use serde::{Deserialize, Serialize};

use super::codec::{DecodeError, FORMAT_V1, decode_tagged, encode_tagged};
use crate::ids::{ComponentHash, InvocationId, TenantId};

/// A name under which a tenant deployed a component, and the functions it exports.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Deployment {
    /// Owner.
    pub tenant: TenantId,
    /// The name given at deploy time.
    pub name: String,
    /// The component currently behind the name.
    pub component: ComponentHash,
    /// Functions the component exports, as it reported them.
    pub functions: Vec<String>,
    /// 1 for the first deploy of this name, then +1 per redeploy.
    pub version: u32,
    /// Size of the component in bytes.
    pub size: u64,
    /// When this version was deployed (ms since the Unix epoch).
    pub deployed_at_ms: u64,
    /// Retry policies set at deploy time.
    pub policy: super::policy::StoredPolicy,
}

/// A deployment as format 1 stored it (and `Op::Deploy` carries it), before its policy had
/// `on_exhausted`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DeploymentV1 {
    pub(super) tenant: TenantId,
    pub(super) name: String,
    pub(super) component: ComponentHash,
    pub(super) functions: Vec<String>,
    pub(super) version: u32,
    pub(super) size: u64,
    pub(super) deployed_at_ms: u64,
    pub(super) policy: super::policy::StoredPolicyV1,
}

impl From<DeploymentV1> for Deployment {
    fn from(old: DeploymentV1) -> Self {
        Deployment {
            tenant: old.tenant,
            name: old.name,
            component: old.component,
            functions: old.functions,
            version: old.version,
            size: old.size,
            deployed_at_ms: old.deployed_at_ms,
            policy: old.policy.into(),
        }
    }
}

/// The format tag of stored deployments.
const DEPLOYMENT_FORMAT: u8 = 2;

/// Encodes a deployment for storage.
pub fn encode_deployment(deployment: &Deployment) -> Vec<u8> {
    encode_tagged(DEPLOYMENT_FORMAT, deployment)
}

/// Decodes a stored deployment, of this format or the one before.
pub fn decode_deployment(bytes: &[u8]) -> Result<Deployment, DecodeError> {
    match bytes.first() {
        Some(&FORMAT_V1) => {
            decode_tagged::<DeploymentV1>("deployment", FORMAT_V1, bytes).map(Into::into)
        }
        _ => decode_tagged("deployment", DEPLOYMENT_FORMAT, bytes),
    }
}

/// Where an invocation is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InvocationState {
    /// Accepted, not started yet.
    Pending,
    /// Being executed (or was, when the host stopped: it resumes at start).
    Running,
    /// Waiting (for a timer, children or a signal) with no instance in memory.
    Suspended,
    /// Returned a result.
    Completed,
    /// Ended with an error.
    Failed,
    /// Ended because it was cancelled (or its parent was).
    Cancelled,
    /// Created to start later: it waits for its start time (added last: states are stored by
    /// position).
    Scheduled,
    /// Stopped by an operator until resumed: takes no step and does not wake (its wait, if
    /// it has one, still counts what arrives).
    Paused,
    /// Left this node for another (or as a bundle): its record is kept here to say where.
    Moved,
}

impl InvocationState {
    /// Whether the invocation has ended and will never run again.
    pub fn is_terminal(self) -> bool {
        matches!(self, Self::Completed | Self::Failed | Self::Cancelled)
    }

    /// Whether it waits on a wait row of its own (a suspension, or a start time).
    pub fn is_waiting(self) -> bool {
        matches!(self, Self::Suspended | Self::Scheduled)
    }

    /// Its group in the index lists are paged by: pending and running share one (which of
    /// the two an invocation is shown as depends on whether it executes now), every other
    /// state has its own. These numbers are stored: never change one.
    pub fn listed_group(self) -> u8 {
        match self {
            Self::Pending | Self::Running => 0,
            Self::Suspended => 1,
            Self::Completed => 2,
            Self::Failed => 3,
            Self::Cancelled => 4,
            Self::Scheduled => 5,
            Self::Paused => 6,
            Self::Moved => 7,
        }
    }

    /// The lowercase name used in the API and CLI.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Running => "running",
            Self::Suspended => "suspended",
            Self::Completed => "completed",
            Self::Failed => "failed",
            Self::Cancelled => "cancelled",
            Self::Scheduled => "scheduled",
            Self::Paused => "paused",
            Self::Moved => "moved",
        }
    }

    /// Parses the lowercase name.
    pub fn parse(s: &str) -> Option<Self> {
        [
            Self::Pending,
            Self::Running,
            Self::Suspended,
            Self::Completed,
            Self::Failed,
            Self::Cancelled,
            Self::Scheduled,
            Self::Paused,
            Self::Moved,
        ]
        .into_iter()
        .find(|state| state.as_str() == s)
    }
}

/// What made an invocation fail.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FailureKind {
    /// The function returned an error.
    FunctionError,
    /// The guest trapped or panicked.
    Trap,
    /// The function asked for a different step than its journal recorded.
    DeterminismViolation,
    /// The host could not run it (component missing or invalid, storage failure).
    Host,
    /// It was cancelled before it finished.
    Cancelled,
    /// It went over one of its tenant's quotas (added last: kinds are stored by position).
    Quota,
    /// The host's attempts ran out and its policy pauses it (the reason a paused one gives).
    Exhausted,
}

/// Why an invocation failed.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Failure {
    /// The category.
    pub kind: FailureKind,
    /// A message for people.
    pub message: String,
}

/// Everything the host keeps about one invocation besides its journal.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct InvocationRecord {
    /// Owner.
    pub tenant: TenantId,
    /// Unique id.
    pub id: InvocationId,
    /// The deployment name it was invoked through.
    pub deployment: String,
    /// The exported function it runs.
    pub function: String,
    /// The component it is pinned to, whatever is deployed later.
    pub component: ComponentHash,
    /// The JSON input.
    #[serde(with = "super::bytes")]
    pub input: Vec<u8>,
    /// Current state.
    pub state: InvocationState,
    /// How many times execution has started (1 + resumptions).
    pub attempts: u32,
    /// How many failed executions were run again under the retry policy.
    pub retries: u32,
    /// Created (ms since the Unix epoch).
    pub created_at_ms: u64,
    /// Last state change (ms since the Unix epoch).
    pub updated_at_ms: u64,
    /// Finished (ms since the Unix epoch).
    pub finished_at_ms: Option<u64>,
    /// The JSON output, when completed.
    #[serde(with = "super::bytes::option")]
    pub output: Option<Vec<u8>>,
    /// The failure, when failed or cancelled.
    pub failure: Option<Failure>,
    /// The invocation that dispatched it, if it is a child.
    pub parent: Option<InvocationId>,
    /// Whether it outlives a cancellation of its parent.
    pub detached: bool,
}

impl InvocationRecord {
    /// The bytes its tenant's `stored_bytes` counts for the record itself: input and output.
    pub fn own_bytes(&self) -> usize {
        self.input.len() + self.output.as_ref().map_or(0, Vec::len)
    }

    /// A new pending invocation of `function`, invoked through `deployment` and pinned to
    /// `component`.
    pub fn pending(
        tenant: &TenantId,
        deployment: &str,
        component: ComponentHash,
        function: String,
        input: Vec<u8>,
    ) -> Self {
        let (id, now) = (InvocationId::generate(), crate::clock::now_ms());
        Self::pending_at(tenant, id, deployment, component, function, input, now)
    }

    /// A new pending invocation `id`, created at `now_ms`.
    pub fn pending_at(
        tenant: &TenantId,
        id: InvocationId,
        deployment: &str,
        component: ComponentHash,
        function: String,
        input: Vec<u8>,
        now_ms: u64,
    ) -> Self {
        InvocationRecord {
            tenant: tenant.clone(),
            id,
            deployment: deployment.to_string(),
            function,
            component,
            input,
            state: InvocationState::Pending,
            attempts: 0,
            retries: 0,
            created_at_ms: now_ms,
            updated_at_ms: now_ms,
            finished_at_ms: None,
            output: None,
            failure: None,
            parent: None,
            detached: false,
        }
    }

    /// Marks the record finished in `state` at `now_ms`.
    pub fn finish(&mut self, state: InvocationState, now_ms: u64) {
        self.state = state;
        self.updated_at_ms = now_ms;
        self.finished_at_ms = Some(now_ms);
    }
}
