//! An invocation's log: its `reprise_sdk::log` steps (journaled, so a replay never repeats
//! them) and the lines it wrote to stdout and stderr (kept by their place in the run, so a
//! replay never repeats them either), merged in the order they were written.

use super::Scheduler;
use crate::ids::{InvocationId, TenantId};
use crate::journal::{InvocationRecord, Stdio, StepKind, StoreError};

/// Where a log line came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogSource {
    /// A log step, at this level (`trace` … `error`).
    Step(&'static str),
    /// A line of stdout or stderr.
    Output(Stdio),
}

/// One line of an invocation's log.
#[derive(Clone, Debug, PartialEq)]
pub struct LogLine {
    /// The journal position it was written at (a log step's own; an output line's, the
    /// step the guest was about to take).
    pub position: u32,
    /// Where it came from.
    pub source: LogSource,
    /// The line (a log step's as its journal summary keeps it: at most 256 bytes).
    pub text: String,
    /// When it was written (ms since the Unix epoch).
    pub at_ms: u64,
}

const LEVELS: [&str; 5] = ["trace", "debug", "info", "warn", "error"];

impl Scheduler {
    /// `tenant`'s invocation `id` (`None` if it has none such) and its log so far.
    pub fn logs(
        &self,
        tenant: &TenantId,
        id: InvocationId,
    ) -> Result<Option<(InvocationRecord, Vec<LogLine>)>, StoreError> {
        let Some(record) = self.store().invocation(tenant, id)? else {
            return Ok(None);
        };
        // Read after the record: a line kept before it finished is in what is read.
        let output = self.store().output(id)?;
        let steps = self.store().steps(id)?;
        let mut lines: Vec<(u32, u8, u32, LogLine)> = Vec::new();
        for (seq, entry) in steps.iter().filter(|(_, e)| e.kind == StepKind::Log) {
            let (level, text) = match entry.summary.split_once(": ") {
                Some((level, text)) => (LEVELS.iter().find(|l| **l == level), text),
                None => (None, entry.summary.as_str()),
            };
            let line = LogLine {
                position: *seq,
                source: LogSource::Step(level.copied().unwrap_or("info")),
                text: text.to_string(),
                at_ms: entry.recorded_at_ms,
            };
            // A log step comes after the output written before it, at its position.
            lines.push((*seq, 1, 0, line));
        }
        for out in output {
            let line = LogLine {
                position: out.position,
                source: LogSource::Output(out.stream),
                text: out.text,
                at_ms: out.at_ms,
            };
            lines.push((out.position, 0, out.n, line));
        }
        lines.sort_by_key(|(position, after, n, _)| (*position, *after, *n));
        Ok(Some((record, lines.into_iter().map(|l| l.3).collect())))
    }
}
