//! JSON views of the API, shared by the server and the CLI.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use serde_json::value::RawValue;

use crate::journal::codec::decode;
use crate::journal::{Deployment, Failure, HistoryEvent, InvocationRecord, StepEntry, WaitState};

/// `POST /v1/invocations` body.
#[derive(Debug, Serialize, Deserialize)]
pub struct InvokeRequest {
    /// `DEPLOYMENT` or `DEPLOYMENT.FUNCTION`.
    pub function: String,
    /// The JSON input, passed to the function as written.
    pub input: Box<RawValue>,
    /// When to start it: an RFC 3339 time (`2026-12-02T10:00:00Z`); until then it is
    /// `scheduled`. A time already past starts it at once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_at: Option<String>,
    /// Or: start it this many ms from now.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delay_ms: Option<u64>,
}

/// `POST /v1/invocations/bulk` body.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BulkRequest {
    /// `cancel`, `pause`, `resume`, `rewind` or `upgrade`.
    pub action: String,
    /// `state=S function=DEPLOYMENT[.FUNCTION] since=DURATION` (any of them; none: all).
    #[serde(default)]
    pub filter: String,
    /// Only count the matches.
    #[serde(default)]
    pub dry_run: bool,
    /// Most matches to act on (default 1,000, at most 10,000).
    #[serde(default)]
    pub limit: Option<usize>,
    /// Only invocations older than this id: the `next` of the previous page.
    #[serde(default)]
    pub before: Option<String>,
    /// For `rewind`: how many steps to keep (required).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to_step: Option<u32>,
    /// For `rewind`: the component to run on (hash, or a unique prefix of it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub component: Option<String>,
    /// For `rewind`: the deployment whose component to run on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deployment: Option<String>,
    /// For `upgrade`: the version to move onto (default: the current one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to_version: Option<u32>,
}

impl BulkRequest {
    /// A request for `action` on every invocation (its other fields at their defaults).
    pub fn new(action: &str) -> Self {
        BulkRequest {
            action: action.to_string(),
            ..BulkRequest::default()
        }
    }
}

/// `POST /v1/invocations/{id}/rewind` body.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RewindRequest {
    /// How many steps to keep: steps `0..to_step` replay, step `to_step` runs live again.
    pub to_step: u32,
    /// Run on this component (hash, or a unique prefix of it) instead of its own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub component: Option<String>,
    /// Run on the component deployed under this name now, through that deployment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deployment: Option<String>,
}

/// `POST /v1/invocations/{id}/fork` body.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ForkRequest {
    /// How many of its steps the fork takes: it runs live from step `at_step`.
    pub at_step: u32,
    /// Run on this component (hash, or a unique prefix of it) instead of its own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub component: Option<String>,
    /// Run on the component deployed under this name now, through that deployment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deployment: Option<String>,
}

/// One event of a journal's history (`GET /v1/invocations/{id}/journal?history=true`).
#[derive(Debug, Serialize, Deserialize)]
pub struct HistoryView {
    /// `rewound`, `forked` or `upgraded`.
    pub event: String,
    /// RFC 3339 time.
    pub at: String,
    /// Steps kept by a rewind, or taken by a fork.
    pub step: u32,
    /// For a fork: the invocation it was forked from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    /// For a rewind: the state it was in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from_state: Option<String>,
    /// The component it ran on before (sha256).
    pub from_component: String,
    /// For a rewind or an upgrade: the component it runs on after.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to_component: Option<String>,
    /// For a rewind: the deployment it runs through after.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to_deployment: Option<String>,
    /// For an upgrade: the version of its deployment it runs on after.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to_version: Option<u32>,
    /// For a rewind: how it had failed, if it had.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<FailureView>,
    /// For a rewind: what it had returned, if it had completed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output: Option<Value>,
    /// For a rewind: the steps it dropped.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dropped: Vec<StepView>,
    /// For a rewind: the children of dropped steps it cancelled.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cancelled: Vec<String>,
}

/// Why a bulk action did not apply to one match.
#[derive(Debug, Serialize, Deserialize)]
pub struct RefusalView {
    /// The invocation.
    pub id: String,
    /// Why.
    pub message: String,
}

/// `POST /v1/invocations/bulk` answer: one page.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct BulkView {
    /// Invocations the filter matched on this page.
    pub matched: u64,
    /// Those acted on.
    pub done: u64,
    /// Those the action did not apply to (finished meanwhile, not paused, diverged, …).
    pub skipped: u64,
    /// Why, for the first few of them (up to 10 per page).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub refusals: Vec<RefusalView>,
    /// Where the next page starts (`before`), if there is one.
    pub next: Option<String>,
    /// Whether nothing was changed (only counted).
    pub dry_run: bool,
}

/// `POST /v1/gc` answer: what the retention sweep removed (or, dry, would remove).
#[derive(Debug, Serialize, Deserialize)]
pub struct GcView {
    /// Finished invocations, with their journals.
    pub invocations: u64,
    /// Idempotency keys that no longer hold.
    pub keys: u64,
    /// Invocations that finished before this RFC 3339 time went.
    pub finished_before: String,
    /// Old versions nothing unfinished ran on, with the code only they used.
    #[serde(default)]
    pub versions: Vec<VersionView>,
    /// Whether nothing was removed (only counted).
    pub dry_run: bool,
}

/// One version of a deployment name, and what runs on it.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct VersionView {
    /// The deployment name.
    pub name: String,
    /// The version (`null`: code deployed before versions were kept, that invocations still
    /// run on).
    pub version: Option<u32>,
    /// The component's sha256.
    pub component: String,
    /// Functions it exports.
    #[serde(default)]
    pub functions: Vec<String>,
    /// Size of the component in bytes.
    #[serde(default)]
    pub size: u64,
    /// When it was deployed (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deployed_at: Option<String>,
    /// Whether the name points at it now (new invocations run on it).
    pub current: bool,
    /// Unfinished invocations pinned to it.
    pub unfinished: u64,
}

impl From<&crate::journal::VersionUse> for VersionView {
    fn from(v: &crate::journal::VersionUse) -> Self {
        let d = v.deployment.as_ref();
        VersionView {
            name: v.name.clone(),
            version: v.version,
            component: v.component.to_hex(),
            functions: d.map(|d| d.functions.clone()).unwrap_or_default(),
            size: d.map_or(0, |d| d.size),
            deployed_at: d.map(|d| rfc3339(d.deployed_at_ms)),
            current: v.current,
            unfinished: v.unfinished,
        }
    }
}

/// `GET /v1/deployments/{name}/versions` answer.
#[derive(Debug, Serialize, Deserialize)]
pub struct VersionList {
    /// The deployment name.
    pub name: String,
    /// Its versions, newest first.
    pub versions: Vec<VersionView>,
}

/// `POST /v1/invocations/{id}/upgrade` body.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpgradeRequest {
    /// The version of its deployment to move it onto (default: the current one).
    #[serde(default)]
    pub to_version: Option<u32>,
}

/// An upgrade made.
#[derive(Debug, Serialize, Deserialize)]
pub struct UpgradedView {
    /// The invocation.
    pub id: String,
    /// The component it ran on.
    pub from_component: String,
    /// The component it runs on now.
    pub to_component: String,
    /// The version of its deployment it runs on now.
    pub to_version: u32,
    /// How many journal steps the new version replayed identically.
    pub steps: u32,
    /// Its state now.
    pub state: String,
}

/// The header that makes an invocation or a signal idempotent.
pub const IDEMPOTENCY_KEY_HEADER: &str = "idempotency-key";
/// The answer's header saying it is the first request's, found under its idempotency key.
pub const REPLAYED_HEADER: &str = "idempotent-replayed";

/// A deployment.
#[derive(Debug, Serialize, Deserialize)]
pub struct DeploymentView {
    /// Name.
    pub name: String,
    /// sha256 of the component.
    pub component: String,
    /// Exported functions.
    pub functions: Vec<String>,
    /// Version of this name (1, 2, …).
    pub version: u32,
    /// Component size in bytes.
    pub size: u64,
    /// RFC 3339 time of the deploy.
    pub deployed_at: String,
    /// The policies set at deploy time.
    #[serde(default)]
    pub policy: Value,
}

/// Why an invocation failed.
#[derive(Debug, Serialize, Deserialize)]
pub struct FailureView {
    /// `function_error`, `trap`, `determinism_violation`, `host`, `cancelled`, `quota` or
    /// `exhausted` (a paused invocation whose attempts ran out).
    pub kind: String,
    /// Message.
    pub message: String,
}

/// An invocation's status.
#[derive(Debug, Serialize, Deserialize)]
pub struct InvocationView {
    /// Id.
    pub id: String,
    /// `DEPLOYMENT.FUNCTION`.
    pub function: String,
    /// sha256 of the component it is pinned to.
    pub component: String,
    /// `pending`, `running`, `suspended`, `scheduled`, `completed`, `failed` or `cancelled`.
    pub state: String,
    /// The invocation that dispatched it, if it is a child.
    pub parent: Option<String>,
    /// Whether it outlives a cancellation of its parent.
    #[serde(default)]
    pub detached: bool,
    /// Executions started.
    pub attempts: u32,
    /// RFC 3339 times.
    pub created_at: String,
    /// Last state change.
    pub updated_at: String,
    /// End, when finished.
    pub finished_at: Option<String>,
    /// The input.
    pub input: Value,
    /// The output, when completed.
    pub output: Option<Value>,
    /// The failure, when failed or cancelled.
    pub error: Option<FailureView>,
    /// What it waits for, when suspended.
    pub waiting: Option<WaitView>,
    /// In a list: the sizes of an input and an output too large to list (they are `null`
    /// there; `GET /v1/invocations/{id}` has them).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub omitted: Option<Omitted>,
    /// Where it went, when it is `moved`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub moved: Option<MovedView>,
    /// The retries it waits between, when suspended until its next attempt.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retrying: Option<RetryingView>,
}

/// The retries a suspended invocation waits between: of one HTTP step, or of the whole
/// function (a rerun after a retryable failure).
#[derive(Debug, Serialize, Deserialize)]
pub struct RetryingView {
    /// The HTTP step retried; absent for a rerun of the function.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step: Option<u32>,
    /// Attempts (or runs) made so far.
    pub attempts: u32,
    /// RFC 3339 time of the first.
    pub since: String,
    /// RFC 3339 time of the next.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_at: Option<String>,
}

/// Where a moved invocation went.
#[derive(Debug, Serialize, Deserialize)]
pub struct MovedView {
    /// The node that owns it (its URL), or "" when it was exported as a bundle.
    pub to: String,
    /// `leaving` (undecided: it runs nowhere yet) or `left`.
    pub phase: String,
}

/// `POST /v1/invocations/{id}/migrate`.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MigrateRequest {
    /// The URL of the node to move it to.
    pub to: String,
}

/// A migration done.
#[derive(Debug, Serialize, Deserialize)]
pub struct MigratedView {
    /// The invocation.
    pub id: String,
    /// The node that owns it now.
    pub to: String,
    /// The state it left in.
    pub state: String,
}

/// The sizes of values a list leaves out.
#[derive(Debug, Serialize, Deserialize)]
pub struct Omitted {
    /// Bytes of the input, if it was left out.
    pub input_bytes: Option<usize>,
    /// Bytes of the output, if it was left out.
    pub output_bytes: Option<usize>,
}

/// What a suspended invocation waits for.
#[derive(Debug, Serialize, Deserialize)]
pub struct WaitView {
    /// `all`, `any` or `race`.
    pub mode: String,
    /// Children it waits on.
    pub children: u32,
    /// Of those, how many have not finished.
    pub children_pending: u32,
    /// RFC 3339 due times of its timers not yet due.
    pub timers: Vec<String>,
    /// Names of the signals it waits for and has not received.
    pub signals: Vec<String>,
    /// One line for people, e.g. `race: signal approval, timer due 2026-…`.
    pub summary: String,
}

impl From<&WaitState> for WaitView {
    fn from(w: &WaitState) -> Self {
        let timers: Vec<String> = w.timers.iter().map(|ms| rfc3339(*ms)).collect();
        let mut parts = Vec::new();
        if w.children_total > 0 {
            parts.push(format!(
                "{} of {} children pending",
                w.children_pending, w.children_total
            ));
        }
        parts.extend(w.signals.iter().map(|name| format!("signal {name}")));
        parts.extend(timers.iter().map(|due| format!("timer due {due}")));
        let items = w.children_total as usize + w.timers.len() + w.signals.len();
        let summary = if items > 1 {
            format!("{}: {}", w.mode.as_str(), parts.join(", "))
        } else {
            parts.join(", ")
        };
        WaitView {
            mode: w.mode.as_str().to_string(),
            children: w.children_total,
            children_pending: w.children_pending,
            timers,
            signals: w.signals.clone(),
            summary,
        }
    }
}

/// `POST /v1/invocations/{id}/cancel` answer.
#[derive(Debug, Serialize, Deserialize)]
pub struct CancelView {
    /// Every invocation the cancellation ended: the one named, then its descendants.
    pub cancelled: Vec<String>,
}

/// One journal step.
#[derive(Debug, Serialize, Deserialize)]
pub struct StepView {
    /// Sequence number, from 0.
    pub seq: u32,
    /// Kind of host call.
    pub kind: String,
    /// Request summary (at most [`MAX_SUMMARY_CHARS`] characters, then `…`).
    pub request: String,
    /// Outcome summary (the same).
    pub outcome: String,
    /// Times the host performed it.
    pub attempts: u32,
    /// RFC 3339 time it was recorded.
    pub recorded_at: String,
}

/// `GET /v1/invocations/{id}/journal` body.
#[derive(Debug, Serialize, Deserialize)]
pub struct JournalView {
    /// The invocation.
    pub id: String,
    /// Its steps in order (a page of them: see `next`).
    pub steps: Vec<StepView>,
    /// Where the next page starts (`?from=`), when there are more steps.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next: Option<u32>,
    /// With `?history=true`: its rewinds (with the steps they dropped) and the fork that
    /// made it, oldest first.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub history: Option<Vec<HistoryView>>,
}

/// One line of an invocation's log: a `reprise_sdk::log` step, or a line of stdout or
/// stderr.
#[derive(Debug, Serialize, Deserialize)]
pub struct LogLineView {
    /// The journal position it was written at (a log step's own; an output line's, the
    /// step the guest was about to take).
    pub position: u32,
    /// `log`, `stdout` or `stderr`.
    pub stream: String,
    /// A log step's level (`trace` … `error`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub level: Option<String>,
    /// The line, without its line end.
    pub text: String,
    /// RFC 3339 time it was written.
    pub at: String,
}

/// `GET /v1/invocations/{id}/logs` body.
#[derive(Debug, Serialize, Deserialize)]
pub struct LogsView {
    /// The invocation.
    pub id: String,
    /// Its lines from `?after=` on, in the order they were written.
    pub lines: Vec<LogLineView>,
    /// How many lines there are so far: the `?after=` of the next poll.
    pub next: usize,
    /// Its state when the lines were read.
    pub state: String,
    /// Whether it has finished: no more lines will come.
    pub done: bool,
}

/// A list of invocations.
#[derive(Debug, Serialize, Deserialize)]
pub struct InvocationList {
    /// Newest first.
    pub invocations: Vec<InvocationView>,
    /// The cursor of the next page (`?before=`), when this one is full.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next: Option<String>,
}

/// A list of deployments.
#[derive(Debug, Serialize, Deserialize)]
pub struct DeploymentList {
    /// By name.
    pub deployments: Vec<DeploymentView>,
}

/// An error body.
#[derive(Debug, Serialize, Deserialize)]
pub struct ErrorBody {
    /// The error.
    pub error: ErrorView,
}

/// An error's code and message.
#[derive(Debug, Serialize, Deserialize)]
pub struct ErrorView {
    /// Stable code, e.g. `not_a_component`.
    pub code: String,
    /// For people.
    pub message: String,
}

/// RFC 3339 text of milliseconds since the Unix epoch.
pub fn rfc3339(ms: u64) -> String {
    let time = std::time::UNIX_EPOCH + std::time::Duration::from_millis(ms);
    humantime::format_rfc3339_millis(time).to_string()
}

/// JSON bytes as a value (a string when they are not JSON).
fn json_value(bytes: &[u8]) -> Value {
    serde_json::from_slice(bytes)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(bytes).into_owned()))
}

impl From<&Deployment> for DeploymentView {
    fn from(d: &Deployment) -> Self {
        DeploymentView {
            name: d.name.clone(),
            component: d.component.to_hex(),
            functions: d.functions.clone(),
            version: d.version,
            size: d.size,
            deployed_at: rfc3339(d.deployed_at_ms),
            policy: serde_json::to_value(crate::outbound::Policy::from(&d.policy))
                .unwrap_or(Value::Null),
        }
    }
}

impl InvocationView {
    /// The view of `r`, with `wait` if it is suspended.
    pub fn new(r: &InvocationRecord, wait: Option<&WaitState>) -> Self {
        InvocationView {
            id: r.id.to_string(),
            function: format!("{}.{}", r.deployment, r.function),
            component: r.component.to_hex(),
            state: r.state.as_str().to_string(),
            parent: r.parent.map(|p| p.to_string()),
            detached: r.detached,
            attempts: r.attempts,
            created_at: rfc3339(r.created_at_ms),
            updated_at: rfc3339(r.updated_at_ms),
            finished_at: r.finished_at_ms.map(rfc3339),
            input: json_value(&r.input),
            output: r.output.as_deref().map(json_value),
            omitted: None,
            moved: None,
            retrying: None,
            error: r.failure.as_ref().map(FailureView::from),
            waiting: wait.map(WaitView::from),
        }
    }
}

impl From<&Failure> for FailureView {
    fn from(f: &Failure) -> Self {
        FailureView {
            kind: serde_json::to_value(f.kind)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default(),
            message: f.message.clone(),
        }
    }
}

impl From<&HistoryEvent> for HistoryView {
    fn from(event: &HistoryEvent) -> Self {
        match event {
            HistoryEvent::Rewound(r) => HistoryView {
                event: "rewound".to_string(),
                at: rfc3339(r.at_ms),
                step: r.to_step,
                from: None,
                from_state: Some(r.from_state.as_str().to_string()),
                from_component: r.from_component.to_hex(),
                to_component: Some(r.to_component.to_hex()),
                to_deployment: Some(r.to_deployment.clone()),
                to_version: None,
                error: r.failure.as_ref().map(FailureView::from),
                output: r.output.as_deref().map(json_value),
                dropped: r
                    .dropped
                    .iter()
                    .map(
                        |step| match decode::<StepEntry>("journal entry", &step.entry) {
                            Ok(entry) => StepView::new(step.seq, &entry),
                            Err(err) => StepView::unreadable(step.seq, &err),
                        },
                    )
                    .collect(),
                cancelled: r.cancelled.iter().map(ToString::to_string).collect(),
            },
            HistoryEvent::Forked {
                at_ms,
                from,
                at_step,
                from_component,
            } => HistoryView {
                event: "forked".to_string(),
                at: rfc3339(*at_ms),
                step: *at_step,
                from: Some(from.to_string()),
                from_state: None,
                from_component: from_component.to_hex(),
                to_component: None,
                to_deployment: None,
                to_version: None,
                error: None,
                output: None,
                dropped: Vec::new(),
                cancelled: Vec::new(),
            },
            HistoryEvent::Upgraded {
                at_ms,
                at_step,
                from_component,
                to_component,
                to_version,
            } => HistoryView {
                event: "upgraded".to_string(),
                at: rfc3339(*at_ms),
                step: *at_step,
                from: None,
                from_state: None,
                from_component: from_component.to_hex(),
                to_component: Some(to_component.to_hex()),
                to_deployment: None,
                to_version: Some(*to_version),
                error: None,
                output: None,
                dropped: Vec::new(),
                cancelled: Vec::new(),
            },
        }
    }
}

/// Most characters of a step's request or outcome summary in a journal page (a guest's URL or
/// error text can be long): so a page of 10,000 steps stays bounded.
pub const MAX_SUMMARY_CHARS: usize = 1024;

/// `text`, cut to [`MAX_SUMMARY_CHARS`] characters with `…` when it is longer.
fn clipped(text: String) -> String {
    match text.char_indices().nth(MAX_SUMMARY_CHARS) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text,
    }
}

impl StepView {
    /// The view of step `seq`, whose stored entry does not decode.
    pub fn unreadable(seq: u32, err: &crate::journal::DecodeError) -> Self {
        StepView {
            seq,
            kind: "unreadable".to_string(),
            request: String::new(),
            outcome: clipped(err.to_string()),
            attempts: 0,
            recorded_at: String::new(),
        }
    }

    /// The view of step `seq`.
    pub fn new(seq: u32, entry: &StepEntry) -> Self {
        StepView {
            seq,
            kind: entry.kind.as_str().to_string(),
            request: clipped(entry.summary.clone()),
            outcome: clipped(entry.outcome.summary()),
            attempts: entry.attempts,
            recorded_at: rfc3339(entry.recorded_at_ms),
        }
    }
}

/// `POST /v1/schedules` body.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScheduleRequest {
    /// Its name.
    pub name: String,
    /// Its cron expression: 5 fields, or 6 with seconds first.
    pub cron: String,
    /// The IANA time zone the expression is read in (default `UTC`).
    #[serde(default = "utc")]
    pub tz: String,
    /// What each firing invokes: `DEPLOYMENT[.FUNCTION]`.
    pub function: String,
    /// The JSON input of each firing.
    pub input: Box<RawValue>,
    /// What happens to missed firings: `skip`, `once` (the default) or `all:N`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub missed: Option<String>,
    /// How late (ms) a firing may be and still count as on time (default 60,000).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grace_ms: Option<u64>,
}

fn utc() -> String {
    "UTC".to_string()
}

/// A schedule, as the API shows it.
#[derive(Debug, Serialize, Deserialize)]
pub struct ScheduleView {
    pub name: String,
    pub cron: String,
    pub tz: String,
    pub function: String,
    pub input: Value,
    pub missed: String,
    pub grace_ms: u64,
    /// `active` or `paused`.
    pub state: String,
    /// The next firing (RFC 3339), if any is to come and it is not paused.
    pub next: Option<String>,
    pub fired: u64,
    pub skipped: u64,
    pub refused: u64,
    /// The last firing made, and the invocation it made.
    pub last_fired: Option<String>,
    pub last_invocation: Option<String>,
    pub last_refusal: Option<String>,
    pub created: String,
}

impl From<&crate::journal::Schedule> for ScheduleView {
    fn from(s: &crate::journal::Schedule) -> Self {
        ScheduleView {
            name: s.name.clone(),
            cron: s.cron.clone(),
            tz: s.tz.clone(),
            function: s.target.clone(),
            input: json_value(&s.input),
            missed: s.missed.to_string(),
            grace_ms: s.grace_ms,
            state: if s.paused { "paused" } else { "active" }.to_string(),
            next: s.next_ms.filter(|_| !s.paused).map(rfc3339),
            fired: s.fired,
            skipped: s.skipped,
            refused: s.refused,
            last_fired: s.last_fired.map(|(at, _)| rfc3339(at)),
            last_invocation: s.last_fired.map(|(_, id)| id.to_string()),
            last_refusal: s.last_refusal.clone(),
            created: rfc3339(s.created_at_ms),
        }
    }
}

/// `GET /v1/schedules` answer.
#[derive(Debug, Serialize, Deserialize)]
pub struct ScheduleList {
    pub schedules: Vec<ScheduleView>,
}
