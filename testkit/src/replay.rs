//! The replay checker: reruns a finished invocation's function from every prefix of its
//! journal, and after a simulated crash at every step, and reports the first step where the
//! function does otherwise than the journal recorded.
//!
//! - **Every prefix** `k`: the component replays the first `k` steps in a store that
//!   journals nothing (what a rewind checks first); a step asked for differently, a return
//!   before step `k` or a trap is a divergence at that step.
//! - **A crash after every step** `k`: a fork of the invocation keeps its first `k` steps and
//!   runs on live (as the host does after a crash there), to the end; its steps from `k` on
//!   are compared with the original's while the world answered the same (same outcomes): a
//!   request that differs, a different number of steps or a different result is a
//!   divergence. Once an outcome differs (a fresh clock reading, a reply that changed) the
//!   function may rightly go another way, and the comparison of that run stops there.
//!
//! A crash point after a step that dispatched a child is not simulated (the child belongs to
//! the original: a fork cannot take it), nor one whose run waits for a signal; the report
//! lists them.

use std::fmt;
use std::time::Duration;

use reprise::host_calls::StepError;
use reprise::ids::InvocationId;
use reprise::journal::StepEntry;
use reprise::scheduler::{Onto, RewindError};

use crate::error::TestError;
use crate::host::TestHost;

/// How long a run after a simulated crash may take, in real time.
const CRASH_RUN_WITHIN: Duration = Duration::from_secs(30);

/// How a divergence was found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FoundBy {
    /// Replaying the first `prefix` steps.
    Replay {
        /// How many steps were replayed.
        prefix: u32,
    },
    /// Running on live after a crash once `after` steps were durable.
    Crash {
        /// How many steps were kept.
        after: u32,
    },
}

/// The first step where the function did otherwise than its journal.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Divergence {
    /// The step (from 0).
    pub step: u32,
    /// How it was found.
    pub found_by: FoundBy,
    /// What the journal recorded there, and what the function did instead.
    pub message: String,
}

/// What the checker did and found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReplayReport {
    /// The invocation checked.
    pub id: InvocationId,
    /// Its journal's length.
    pub steps: u32,
    /// Prefixes replayed.
    pub prefixes: u32,
    /// Crash points simulated.
    pub crashes: u32,
    /// Crash points not simulated, and why.
    pub not_simulated: Vec<(u32, String)>,
    /// The first divergence, if any.
    pub divergence: Option<Divergence>,
}

impl ReplayReport {
    /// Whether no divergence was found.
    pub fn is_deterministic(&self) -> bool {
        self.divergence.is_none()
    }
}

impl fmt::Display for ReplayReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.divergence {
            None => write!(
                f,
                "invocation {} replays: {} prefixes of its {} steps replayed and {} crashes simulated identically",
                self.id, self.prefixes, self.steps, self.crashes
            )?,
            Some(d) => {
                let how = match d.found_by {
                    FoundBy::Replay { prefix: 1 } => "replaying its first step".to_string(),
                    FoundBy::Replay { prefix } => format!("replaying its first {prefix} steps"),
                    FoundBy::Crash { after } => {
                        format!("running on after a crash once {after} steps were durable")
                    }
                };
                write!(
                    f,
                    "invocation {} diverges at step {} ({how}): {}",
                    self.id, d.step, d.message
                )?;
            }
        }
        for (step, why) in &self.not_simulated {
            write!(f, "; no crash simulated after step {step}: {why}")?;
        }
        Ok(())
    }
}

impl TestHost {
    /// Checks finished invocation `id` against the code it ran.
    pub async fn check_replay(&self, id: InvocationId) -> Result<ReplayReport, TestError> {
        self.check_replay_onto(id, &Onto::Same).await
    }

    /// Checks finished invocation `id` against the code deployed as `deployment` now (a new
    /// build of its function: does it still replay what the old one recorded?).
    pub async fn check_replay_on(
        &self,
        id: InvocationId,
        deployment: &str,
    ) -> Result<ReplayReport, TestError> {
        self.check_replay_onto(id, &Onto::Deployment(deployment.to_string()))
            .await
    }

    async fn check_replay_onto(
        &self,
        id: InvocationId,
        onto: &Onto,
    ) -> Result<ReplayReport, TestError> {
        let tenant = self.tenant();
        let record = self
            .scheduler()
            .store()
            .invocation(tenant, id)?
            .ok_or(TestError::NoSuchInvocation(id))?;
        if !record.state.is_terminal() {
            return Err(TestError::NotFinished {
                id,
                state: record.state.as_str(),
            });
        }
        let journal = self.journal(id)?;
        let steps = journal.len() as u32;
        let mut report = ReplayReport {
            id,
            steps,
            prefixes: 0,
            crashes: 0,
            not_simulated: Vec::new(),
            divergence: None,
        };
        for prefix in 1..=steps {
            let checked = self
                .scheduler()
                .check_replays(tenant, id, prefix, onto)
                .await;
            report.prefixes += 1;
            if let Some((step, message)) = diverged(checked)? {
                report.divergence = Some(Divergence {
                    step,
                    found_by: FoundBy::Replay { prefix },
                    message,
                });
                return Ok(report);
            }
        }
        for after in 0..steps {
            let fork = match self.scheduler().fork(tenant, id, after, onto).await {
                Ok(fork) => fork,
                Err(RewindError::ForkTakesChild { seq, child, .. }) => {
                    report.not_simulated.push((
                        after,
                        format!(
                            "step {seq} dispatched child {child}, which a fork cannot take (nor any later crash point)"
                        ),
                    ));
                    break;
                }
                Err(err) => return Err(err.into()),
            };
            let finished = match self.finish_within(fork.id, CRASH_RUN_WITHIN).await {
                Ok(finished) => finished,
                Err(TestError::Unfinished { state, .. }) => {
                    let _ = self.scheduler().cancel(tenant, fork.id).await;
                    report.not_simulated.push((
                        after,
                        format!("the run did not finish (it is {state}: waiting for a signal?)"),
                    ));
                    continue;
                }
                Err(err) => return Err(err),
            };
            report.crashes += 1;
            let rerun = self.journal(fork.id)?;
            let end = (&finished.record.state, &finished.record.output);
            let original_end = (&record.state, &record.output);
            if let Some((step, message)) = compare(&journal, &rerun, after, original_end == end) {
                report.divergence = Some(Divergence {
                    step,
                    found_by: FoundBy::Crash { after },
                    message,
                });
                return Ok(report);
            }
        }
        Ok(report)
    }
}

/// The step and message of a replay check's divergence; `None` if it replayed.
fn diverged(checked: Result<(), RewindError>) -> Result<Option<(u32, String)>, TestError> {
    match checked {
        Ok(()) => Ok(None),
        Err(RewindError::Diverged(violation)) => {
            let step = match &violation {
                StepError::DeterminismViolation { seq, .. } => *seq,
                _ => 0,
            };
            Ok(Some((step, violation.to_string())))
        }
        Err(err @ RewindError::EndedEarly { ended, .. }) => Ok(Some((ended, err.to_string()))),
        Err(err @ RewindError::Trapped { seq, .. }) => Ok(Some((seq, err.to_string()))),
        Err(err) => Err(err.into()),
    }
}

/// Where `rerun` (a run on from step `after`) first does otherwise than `original`, while
/// every outcome it got was the original's; `same_end` says whether both ended alike.
fn compare<'a>(
    original: &'a [StepEntry],
    rerun: &'a [StepEntry],
    after: u32,
    same_end: bool,
) -> Option<(u32, String)> {
    let from = after as usize;
    let tail = |steps: &'a [StepEntry]| steps.get(from..).unwrap_or_default();
    for (offset, (was, now)) in tail(original).iter().zip(tail(rerun)).enumerate() {
        let step = (from + offset) as u32;
        if was.kind != now.kind || was.digest != now.digest {
            return Some((
                step,
                format!(
                    "the journal recorded {} `{}`, but after the crash the function asked for {} `{}`",
                    was.kind.as_str(),
                    was.summary,
                    now.kind.as_str(),
                    now.summary
                ),
            ));
        }
        if was.outcome != now.outcome {
            // The world answered otherwise: the function may rightly go another way.
            return None;
        }
    }
    if original.len() != rerun.len() {
        let step = original.len().min(rerun.len()) as u32;
        return Some((
            step,
            format!(
                "the function took {} steps, but {} after the crash, with the same outcomes",
                original.len(),
                rerun.len()
            ),
        ));
    }
    (!same_end).then(|| {
        (
            original.len() as u32,
            "after the crash the function ended otherwise (state or output), with the same outcomes"
                .to_string(),
        )
    })
}

#[cfg(test)]
mod tests {
    use reprise::journal::{Outcome, StepKind};

    use super::*;

    fn step(digest: u8, outcome: u64) -> StepEntry {
        StepEntry {
            kind: StepKind::Random,
            digest: [digest; 16],
            summary: format!("request {digest}"),
            attempts: 1,
            recorded_at_ms: 0,
            outcome: Outcome::U64(outcome),
        }
    }

    #[test]
    fn a_rerun_diverges_where_it_asks_otherwise_while_the_world_answered_the_same() {
        let original = [step(1, 10), step(2, 20), step(3, 30)];
        assert_eq!(compare(&original, &original, 1, true), None);
        let asks_otherwise = [step(1, 10), step(2, 20), step(9, 30)];
        let (at, message) = compare(&original, &asks_otherwise, 1, true).expect("diverges");
        assert_eq!(at, 2);
        assert!(
            message.contains("request 3") && message.contains("request 9"),
            "{message}"
        );
        // Step 1 got another outcome: what follows may rightly differ.
        let answered_otherwise = [step(1, 10), step(2, 21), step(9, 30)];
        assert_eq!(compare(&original, &answered_otherwise, 1, true), None);
        // Steps before the crash point are the kept ones: not compared.
        assert_eq!(compare(&original, &asks_otherwise, 3, true), None);
        let (at, _) = compare(&original, &original[..2], 0, true).expect("fewer steps");
        assert_eq!(at, 2);
        let (at, _) = compare(&original, &original, 0, false).expect("another end");
        assert_eq!(at, 3);
    }
}
