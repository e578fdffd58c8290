//! What a guest wrote to stdout and stderr, kept per invocation as lines.
//!
//! A line is keyed by where its run was when the line ended: the journal position of the
//! step the guest was about to take (`position`), and how many lines ended there before it
//! (`n`). A replay runs the same code over the same journal, so it writes the same lines
//! under the same keys: storing them again changes nothing, and no line is kept twice,
//! however often an invocation is replayed.
//!
//! Bounds, per invocation: the first [`MAX_OUTPUT_LINES`] lines, or [`MAX_OUTPUT_BYTES`] bytes
//! of text, whichever comes first, each line cut at [`MAX_LINE_BYTES`]; past them one last
//! line says that the rest is not kept. The lines count towards the tenant's `stored_bytes`.

use serde::{Deserialize, Serialize};

/// How many lines of an invocation's output are kept.
pub const MAX_OUTPUT_LINES: usize = 1_000;
/// How many bytes of text of an invocation's output are kept.
pub const MAX_OUTPUT_BYTES: usize = 256 * 1024;
/// How long one kept line may be, in bytes; a longer one is cut.
pub const MAX_LINE_BYTES: usize = 4 * 1024;

/// Which of the guest's streams a line was written to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Stdio {
    /// Standard output.
    Stdout,
    /// Standard error.
    Stderr,
}

impl Stdio {
    /// The lowercase name used in the API and CLI.
    pub fn as_str(self) -> &'static str {
        match self {
            Stdio::Stdout => "stdout",
            Stdio::Stderr => "stderr",
        }
    }
}

/// One line a guest wrote.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OutputLine {
    /// The journal position of the step the guest was about to take.
    pub position: u32,
    /// How many lines ended at `position` before this one.
    pub n: u32,
    /// The stream it was written to.
    pub stream: Stdio,
    /// When it was first written (ms since the Unix epoch).
    pub at_ms: u64,
    /// Its text, without the line end (lossily decoded as UTF-8).
    pub text: String,
}

impl OutputLine {
    /// Whether `other` is the same line (it may have been written at another time).
    pub fn same_as(&self, other: &OutputLine) -> bool {
        (self.position, self.n, self.stream, &self.text)
            == (other.position, other.n, other.stream, &other.text)
    }
}
