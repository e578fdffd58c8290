//! What a host call asks for: its kind, digest, summary, and how to perform it live.

use serde::Serialize;
use sha2::{Digest, Sha256};

use super::Services;
use crate::bindings::{HttpRequest, LogLevel, Timestamp};
use crate::ids::InvocationId;
use crate::journal::{Outcome, StepKind};

/// Longest request summary kept in the journal.
const MAX_SUMMARY: usize = 256;

/// One host call, as the journal sees it.
#[derive(Serialize)]
pub enum StepRequest<'a> {
    /// An outgoing HTTP request.
    Http(&'a HttpRequest),
    /// Wall-clock time.
    WallClock,
    /// Monotonic-clock time.
    MonotonicClock,
    /// `len` secure random bytes.
    RandomBytes { len: u64 },
    /// A secure random u64.
    RandomU64,
    /// `len` insecure random bytes.
    InsecureRandomBytes { len: u64 },
    /// An insecure random u64.
    InsecureRandomU64,
    /// The insecure seed.
    InsecureSeed,
    /// A log line.
    Log { level: LogLevel, message: &'a str },
    /// A timer due at wall-clock time `when`.
    Timer { when: Timestamp },
}

impl StepRequest<'_> {
    /// The journal kind of this request.
    pub fn kind(&self) -> StepKind {
        match self {
            Self::Http(_) => StepKind::Http,
            Self::WallClock => StepKind::WallClock,
            Self::MonotonicClock => StepKind::MonotonicClock,
            Self::RandomBytes { .. } | Self::RandomU64 => StepKind::Random,
            Self::InsecureRandomBytes { .. } | Self::InsecureRandomU64 => StepKind::InsecureRandom,
            Self::InsecureSeed => StepKind::InsecureSeed,
            Self::Log { .. } => StepKind::Log,
            Self::Timer { .. } => StepKind::Timer,
        }
    }

    /// A truncated sha256 of the whole request, compared on replay.
    pub fn digest(&self) -> [u8; 16] {
        let mut hasher = Sha256::new();
        // Encoding our own enum into a hasher cannot fail.
        let _ = postcard::to_io(self, HashWriter(&mut hasher));
        let full = hasher.finalize();
        let mut out = [0u8; 16];
        out.copy_from_slice(&full[..16]);
        out
    }

    /// A short description for people.
    pub fn summary(&self) -> String {
        let text = match self {
            Self::Http(req) => format!("{} {}", req.method, req.url),
            Self::WallClock | Self::MonotonicClock | Self::InsecureSeed => String::new(),
            Self::RandomBytes { len } | Self::InsecureRandomBytes { len } => format!("{len} bytes"),
            Self::RandomU64 | Self::InsecureRandomU64 => "u64".to_string(),
            Self::Log { level, message } => format!("{}: {message}", level_name(*level)),
            Self::Timer { when } => format!("until {}", super::timer::rfc3339(when)),
        };
        truncate(text, MAX_SUMMARY)
    }

    /// Performs the call for real. `last_instant` keeps the monotonic clock from going back.
    pub async fn perform(
        &self,
        services: &Services,
        invocation: InvocationId,
        seq: u32,
        last_instant: u64,
    ) -> Outcome {
        match self {
            Self::Http(req) => {
                let key = format!("{invocation}-{seq}");
                Outcome::Http(services.http.send(req, &key).await)
            }
            Self::WallClock => super::clock::wall_clock(),
            Self::MonotonicClock => super::clock::monotonic(last_instant),
            Self::RandomBytes { len } | Self::InsecureRandomBytes { len } => {
                super::random::bytes(*len)
            }
            Self::RandomU64 | Self::InsecureRandomU64 => super::random::number(),
            Self::InsecureSeed => super::random::seed(),
            Self::Log { level, message } => super::log::emit(invocation, *level, message),
            // Performed by waiting before the step is taken: see `timer::sleep_until`.
            Self::Timer { .. } => Outcome::Unit,
        }
    }
}

fn level_name(level: LogLevel) -> &'static str {
    match level {
        LogLevel::Trace => "trace",
        LogLevel::Debug => "debug",
        LogLevel::Info => "info",
        LogLevel::Warn => "warn",
        LogLevel::Error => "error",
    }
}

fn truncate(mut text: String, max: usize) -> String {
    if text.len() > max {
        let mut cut = max;
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        text.truncate(cut);
        text.push('…');
    }
    text
}

struct HashWriter<'a>(&'a mut Sha256);

impl std::io::Write for HashWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.update(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
