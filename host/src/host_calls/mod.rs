//! Host calls: every one goes through [`Steps::take`], the journaling choke point.
//!
//! A host call becomes a [`StepRequest`]. If the journal has an entry at the next position the
//! request must match it (kind and digest) and the recorded outcome is returned; otherwise the
//! request is performed live, its outcome appended durably, and only then returned.

mod children;
mod clock;
mod ctx;
mod egress;
mod guest_api;
mod http;
mod limiter;
mod log;
mod output;
mod random;
mod request;
mod waits;
mod wasi;
mod wasi_http;

pub use ctx::InvocationCtx;
pub use http::HttpClient;
pub use limiter::{Limiter, MemoryBudget, Refused};
pub use output::{Capture, CaptureStream};
pub use request::StepRequest;
pub use waits::{SHORT_SLEEP, Suspend};
pub use wasi::shadow_wasi_with_journal;
pub use wasi_http::{MAX_REQUEST_BODY, add_journaled_http};

use std::sync::Arc;

use crate::ids::{ComponentHash, InvocationId, TenantId};
use crate::journal::{Outcome, Recorded, StepEntry, StoreError};
use crate::storage::{Deferred, SharedStorage, Storage};

/// Why a host call could not return to the guest (surfaces as a trap).
#[derive(Debug, thiserror::Error)]
pub enum StepError {
    /// The function asked for something other than what its journal recorded here.
    #[error(
        "determinism violation at step {seq}: the journal recorded {recorded}, \
         but the function now asks for {requested}"
    )]
    DeterminismViolation {
        seq: u32,
        recorded: String,
        requested: String,
    },
    /// The stored journal skips a sequence number (a corrupt journal).
    #[error("the journal is corrupt: expected step {expected}, found step {found}")]
    Gap { expected: u32, found: u32 },
    /// A stored journal entry does not decode.
    #[error("the journal is corrupt at step {seq}: {source}")]
    Corrupt {
        seq: u32,
        source: crate::journal::DecodeError,
    },
    /// Host calls other than clock and random reads are not available in this store
    /// (listing functions at deploy time).
    #[error("host call `{0}` is not available while the component lists its functions")]
    NotAvailable(&'static str),
    /// The guest passed something the host call cannot take (a programming error).
    #[error("{call}: {message}")]
    BadArgument { call: &'static str, message: String },
    /// The step could not be made durable.
    #[error("journal write of step {seq} failed: {source}")]
    Journal { seq: u32, source: StoreError },
    /// The step would take the journal over a quota of its tenant's.
    #[error("step {seq}: {source}")]
    OverQuota {
        seq: u32,
        source: crate::journal::OverQuota,
    },
}

/// A checked replay reached the end of the steps it was given: the guest asked for step
/// `seq`, which would be live (surfaces as a trap; the check passed).
#[derive(Debug, thiserror::Error)]
#[error("the replay reached step {seq}, past the steps it checks")]
pub struct ReplayEnd {
    /// The step the guest asked for.
    pub seq: u32,
}

/// Where live host calls send (tenant, id) of each invocation they made runnable (a
/// dispatched child, once durable), for the scheduler to start.
pub type Runnable = tokio::sync::mpsc::UnboundedSender<(TenantId, InvocationId)>;

/// Host-wide services that live host calls use.
pub struct Services {
    /// Outgoing HTTP.
    pub http: HttpClient,
    /// Per-destination limits and breakers.
    pub destinations: crate::outbound::Destinations,
    /// Dispatched children go here once they are durable.
    pub runnable: Runnable,
    /// Invocations accepted but not durable yet, counted towards `max_waiting`.
    pub not_durable: crate::storage::NotDurable,
    /// Where the spans of live steps go.
    pub traces: crate::traces::Traces,
}

/// The invocation a cursor runs: what dispatches and waits need to know about it.
#[derive(Clone, Debug)]
pub struct Running {
    /// Owner.
    pub tenant: TenantId,
    /// Its id.
    pub id: InvocationId,
    /// The deployment it was invoked through.
    pub deployment: String,
    /// The component it is pinned to (its children run it too).
    pub component: ComponentHash,
    /// The functions that component exports.
    pub functions: Arc<[String]>,
    /// How its HTTP calls are retried.
    pub retry: crate::outbound::RetryPolicy,
    /// What an HTTP step does when its attempts run out: return the last outcome, or pause
    /// the invocation before it is journaled.
    pub exhausted: crate::outbound::Exhausted,
    /// Its record, if its creation is deferred to its first durable write.
    pub deferred: Option<Arc<Deferred>>,
    /// Its tenant's limits.
    pub limits: crate::journal::Limits,
    /// Its tenant's and deployment's egress rules.
    pub egress: Arc<crate::outbound::Narrowing>,
    /// Set when it is to stop at its next host call (it is moving), with what it journaled
    /// kept.
    pub yield_at_next: Arc<std::sync::atomic::AtomicBool>,
    /// The span of this run: its live steps' spans are part of it.
    pub span: u64,
}

impl Running {
    /// The `Idempotency-Key` of its outbound request at step `seq` once its journal's history
    /// holds `generation` events (rewinds, the fork that made it): `ID-SEQ`, or
    /// `ID-SEQ.GENERATION`, so a step taken live again after a rewind sends another key.
    pub fn idempotency_key(&self, seq: u32, generation: u32) -> String {
        match generation {
            0 => format!("{}-{seq}", self.id),
            generation => format!("{}-{seq}.{generation}", self.id),
        }
    }
}

/// What a live step may use.
pub(crate) struct Live<'a> {
    services: &'a Services,
    store: &'a dyn Storage,
    running: &'a Running,
    seq: u32,
    last_instant: u64,
}

/// The journal cursor of one running invocation.
pub struct Steps {
    invocation: InvocationId,
    mode: Mode,
    next: u32,
    /// The largest monotonic instant seen, so the clock never goes back across a replay.
    last_instant: u64,
    /// What the journal's entries so far count towards the `journal_bytes` quota.
    journal_bytes: u64,
    /// What the guest writes to stdout and stderr.
    output: Capture,
}

enum Mode {
    /// Listing functions at deploy time: no host call is allowed.
    Discovery,
    /// Checking that a component replays `recorded` (a rewind's or a fork's kept steps):
    /// the first host call past them stops the guest with [`ReplayEnd`].
    Check { recorded: Recorded },
    /// Running an invocation: replay `recorded`, then go live.
    Run {
        store: SharedStorage,
        recorded: Recorded,
        services: Arc<Services>,
        running: Box<Running>,
    },
}

impl Steps {
    /// A cursor for listing a component's functions: it serves clock and random reads
    /// unjournaled and refuses every other host call.
    pub fn discovery() -> Self {
        Steps {
            invocation: InvocationId(0),
            mode: Mode::Discovery,
            next: 0,
            last_instant: 0,
            journal_bytes: 0,
            output: Capture::default(),
        }
    }

    /// A cursor that replays `recorded` and stops the guest at the first host call past it.
    pub fn check(id: InvocationId, recorded: Recorded) -> Self {
        Steps {
            invocation: id,
            mode: Mode::Check { recorded },
            next: 0,
            last_instant: 0,
            journal_bytes: 0,
            output: Capture::default(),
        }
    }

    /// A cursor that replays `recorded` then appends live steps to `store`, capturing what
    /// the guest writes into `output`.
    pub fn run(
        running: Running,
        store: SharedStorage,
        recorded: Recorded,
        services: Arc<Services>,
        output: Capture,
    ) -> Self {
        Steps {
            invocation: running.id,
            mode: Mode::Run {
                store,
                recorded,
                services,
                running: Box::new(running),
            },
            next: 0,
            last_instant: 0,
            journal_bytes: 0,
            output,
        }
    }

    /// The invocation this cursor belongs to.
    pub fn invocation(&self) -> InvocationId {
        self.invocation
    }

    /// How many steps have been taken (replayed or live).
    pub fn position(&self) -> u32 {
        self.next
    }

    /// What the guest wrote to stdout and stderr in this run.
    pub fn output(&self) -> Capture {
        self.output.clone()
    }

    /// Performs or replays one host call and returns its outcome.
    pub async fn take(&mut self, request: StepRequest<'_>) -> wasmtime::Result<Outcome> {
        let (recorded, live) = match &mut self.mode {
            Mode::Discovery => {
                // Listing functions runs guest code, and language runtimes read the clock or
                // seed a generator on their first call: those reads are served, unjournaled.
                let outcome = request.read_live(self.last_instant);
                if let Some(Outcome::Instant(ns)) = outcome {
                    self.last_instant = self.last_instant.max(ns);
                }
                return outcome
                    .ok_or_else(|| StepError::NotAvailable(request.kind().as_str()).into());
            }
            Mode::Check { recorded } => (recorded, None),
            Mode::Run {
                store,
                recorded,
                services,
                running,
            } => {
                if running
                    .yield_at_next
                    .load(std::sync::atomic::Ordering::Acquire)
                {
                    return Err(waits::Suspend::Yield { seq: self.next }.into());
                }
                (recorded, Some((store, services, running)))
            }
        };
        let seq = self.next;
        let digest = request.digest();
        let timers_end = request.timers_end();
        let outcome = if let Some(recorded) = recorded.next() {
            let (recorded_seq, entry) =
                recorded.map_err(|source| StepError::Corrupt { seq, source })?;
            if recorded_seq != seq {
                return Err(StepError::Gap {
                    expected: seq,
                    found: recorded_seq,
                }
                .into());
            }
            if entry.kind != request.kind() || entry.digest != digest {
                let recorded = format!("{} `{}`", entry.kind.as_str(), entry.summary);
                let mut requested = format!("{} `{}`", request.kind().as_str(), request.summary());
                if requested == recorded {
                    // The summary leaves out what differs.
                    requested.push_str(" with other contents (headers, body or options)");
                }
                return Err(StepError::DeterminismViolation {
                    seq,
                    recorded,
                    requested,
                }
                .into());
            }
            crate::metrics::METRICS.step_replayed();
            self.output.replayed();
            self.journal_bytes += entry.size();
            entry.outcome
        } else {
            let Some((store, services, running)) = live else {
                return Err(ReplayEnd { seq }.into());
            };
            let limits = &running.limits;
            crate::journal::OverQuota::check(
                "journal_entries",
                u64::from(seq) + 1,
                limits.journal_entries,
                "entries per invocation",
            )
            .map_err(|source| StepError::OverQuota { seq, source })?;
            let live = Live {
                services,
                store: &**store,
                running,
                seq,
                last_instant: self.last_instant,
            };
            // A request seen outside must be retried after a crash: the invocation has to
            // exist before it is sent.
            if let (Some(deferred), crate::journal::StepKind::Http) =
                (&running.deferred, request.kind())
            {
                deferred
                    .ensure(&**store)
                    .await
                    .map_err(|source| journal_error(seq, source, &running.tenant))?;
            }
            let started_ns = services.traces.on().then(crate::traces::now_ns);
            let (outcome, effect, attempts) = request.perform(&live).await?;
            let entry = StepEntry {
                kind: request.kind(),
                digest,
                summary: request.summary(),
                attempts,
                recorded_at_ms: crate::clock::now_ms(),
                outcome,
            };
            self.journal_bytes += entry.size();
            crate::journal::OverQuota::check(
                "journal_bytes",
                self.journal_bytes,
                limits.journal_bytes,
                "bytes of journal per invocation",
            )
            .map_err(|source| StepError::OverQuota { seq, source })?;
            let append = async |create: Option<&crate::journal::InvocationRecord>| {
                store
                    .append_step(
                        &running.tenant,
                        self.invocation,
                        seq,
                        &entry,
                        effect,
                        create,
                    )
                    .await
            };
            match &running.deferred {
                Some(deferred) => deferred.write_with(append).await,
                None => append(None).await,
            }
            .map_err(|source| journal_error(seq, source, &running.tenant))?;
            crate::metrics::METRICS.step_live(running.tenant.as_str());
            if let Some(start_ns) = started_ns {
                services
                    .traces
                    .record(step_span(running, seq, &entry, start_ns));
            }
            // What it wrote before this step is kept now that the step is (and its invocation
            // surely exists); a failure to keep it only delays it to the end of the run.
            let lines = self.output.unstored();
            if !lines.is_empty()
                && let Err(err) = store
                    .put_output(&running.tenant, self.invocation, lines)
                    .await
            {
                tracing::warn!(invocation = %self.invocation, "output not kept yet: {err}");
            }
            if let Outcome::Dispatched(Ok(child)) = entry.outcome {
                // Without a scheduler to start it (the host is stopping), the child is durable
                // and runnable: it starts with the next host.
                let _stopping = services.runnable.send((running.tenant.clone(), child));
            }
            entry.outcome
        };
        if let Some(end) = timers_end.filter(|_| !matches!(self.mode, Mode::Check { .. })) {
            // A timer wait is journaled when it starts (if it ends soon): it returns when due.
            crate::clock::sleep_until_ms(end).await;
        }
        if let Outcome::Instant(ns) = outcome {
            self.last_instant = self.last_instant.max(ns);
        }
        self.next += 1;
        self.output.at(self.next);
        Ok(outcome)
    }
}

/// The span of step `seq` of `running`, taken live from `start_ns` until its `entry` was
/// journaled (so a step's span is made once, however often it is replayed).
fn step_span(running: &Running, seq: u32, entry: &StepEntry, start_ns: u64) -> crate::traces::Span {
    use crate::traces::Value::{Int, Text};
    let error = match &entry.outcome {
        Outcome::Http(Err(err)) => Some(err.to_string()),
        Outcome::Dispatched(Err(err)) => Some(err.clone()),
        _ => None,
    };
    crate::traces::Span {
        trace: running.id.0,
        id: crate::traces::span_id(),
        parent: Some(running.span),
        name: format!("step {seq} {}", entry.kind.as_str()),
        start_ns,
        end_ns: crate::traces::now_ns(),
        attributes: vec![
            ("reprise.tenant", Text(running.tenant.to_string())),
            ("reprise.invocation", Text(running.id.to_string())),
            ("reprise.step", Int(i64::from(seq))),
            ("reprise.kind", Text(entry.kind.as_str().to_string())),
            ("reprise.request", Text(entry.summary.clone())),
            ("reprise.outcome", Text(entry.outcome.summary())),
            ("reprise.attempts", Int(i64::from(entry.attempts))),
        ],
        error,
    }
}

/// The error of a step whose write failed: over a quota of the tenant's (counted as a
/// refusal), or lost.
fn journal_error(seq: u32, source: crate::journal::StoreError, tenant: &TenantId) -> StepError {
    match source {
        crate::journal::StoreError::Write(crate::journal::WriteError::OverQuota(source)) => {
            crate::metrics::METRICS.quota_refused(tenant.as_str());
            StepError::OverQuota { seq, source }
        }
        source => StepError::Journal { seq, source },
    }
}

/// The error for an outcome whose shape does not fit its request (a corrupt journal).
fn mismatched(kind: &str, outcome: &Outcome) -> wasmtime::Error {
    wasmtime::Error::msg(format!(
        "journal entry for a {kind} step holds an unexpected outcome: {}",
        outcome.summary()
    ))
}
