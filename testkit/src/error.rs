//! What can go wrong in a test kit call.

use std::path::PathBuf;

use reprise::ids::InvocationId;

/// Why a test kit call failed.
#[derive(Debug, thiserror::Error)]
pub enum TestError {
    /// The temporary directory or the scripted server could not be made.
    #[error("cannot set up the test host: {0}")]
    Io(#[from] std::io::Error),
    /// The component file could not be read.
    #[error("cannot read the component {}: {source}", path.display())]
    Component {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The engine could not be built.
    #[error("cannot create the engine: {0:#}")]
    Engine(wasmtime::Error),
    /// The host's keys could not be made.
    #[error(transparent)]
    FirstStart(#[from] reprise::access::FirstStartError),
    /// A CIDR did not parse.
    #[error(transparent)]
    Cidr(#[from] reprise::journal::BadCidr),
    /// Storage failed.
    #[error(transparent)]
    Store(#[from] reprise::journal::StoreError),
    /// A journal entry did not decode.
    #[error(transparent)]
    Decode(#[from] reprise::journal::DecodeError),
    /// The deploy was refused.
    #[error(transparent)]
    Deploy(#[from] reprise::scheduler::DeployError),
    /// The invocation was refused.
    #[error(transparent)]
    Invoke(#[from] reprise::scheduler::InvokeError),
    /// A signal was refused.
    #[error(transparent)]
    Control(#[from] reprise::scheduler::ControlError),
    /// A replay check or a fork was refused for another reason than a divergence.
    #[error(transparent)]
    Rewind(#[from] reprise::scheduler::RewindError),
    /// Input or output is not JSON.
    #[error(transparent)]
    Json(#[from] serde_json::Error),
    /// No invocation has this id.
    #[error("no invocation {0}")]
    NoSuchInvocation(InvocationId),
    /// The invocation did not finish in time.
    #[error("invocation {id} did not finish in time (it is {state})")]
    Unfinished {
        /// The invocation.
        id: InvocationId,
        /// Its state at the end.
        state: &'static str,
    },
    /// The invocation finished otherwise than completed.
    #[error("invocation {id} {state}{}", failure.as_ref().map(|f| format!(": {f}")).unwrap_or_default())]
    DidNotComplete {
        /// The invocation.
        id: InvocationId,
        /// How it ended.
        state: &'static str,
        /// Its failure message, if it failed.
        failure: Option<String>,
    },
    /// The replay checker needs a finished invocation.
    #[error(
        "invocation {id} is {state}: check the replay of a finished invocation (finish it first)"
    )]
    NotFinished {
        /// The invocation.
        id: InvocationId,
        /// Its state.
        state: &'static str,
    },
}
