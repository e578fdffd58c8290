//! What a host call asks for: its kind, digest, summary, and how to perform it live.

use super::Live;
use crate::bindings::{HttpRequest, LogLevel};
use crate::journal::{
    AwaitMode, Awaitable, CanonicalRequest, Level, Outcome, StepEffect, StepKind,
};

/// Longest request summary kept in the journal.
const MAX_SUMMARY: usize = 256;

/// One host call, as the journal sees it.
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
    /// Start a child invocation.
    Dispatch {
        function: &'a str,
        input: &'a [u8],
        detached: bool,
    },
    /// Wait for `items` under `mode`.
    Await {
        mode: AwaitMode,
        items: &'a [Awaitable],
    },
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
            Self::Dispatch { .. } => StepKind::Dispatch,
            Self::Await { .. } => StepKind::Await,
        }
    }

    /// A truncated sha256 of the whole request's canonical form, compared on replay.
    pub fn digest(&self) -> [u8; 16] {
        self.canonical().digest()
    }

    /// The request in the journal's canonical form.
    fn canonical(&self) -> CanonicalRequest<'_> {
        match self {
            Self::Http(req) => CanonicalRequest::Http {
                method: &req.method,
                url: &req.url,
                headers: &req.headers,
                body: &req.body,
                timeout_ms: req.timeout_ms,
            },
            Self::WallClock => CanonicalRequest::WallClock,
            Self::MonotonicClock => CanonicalRequest::MonotonicClock,
            Self::RandomBytes { len } => CanonicalRequest::RandomBytes { len: *len },
            Self::RandomU64 => CanonicalRequest::RandomU64,
            Self::InsecureRandomBytes { len } => {
                CanonicalRequest::InsecureRandomBytes { len: *len }
            }
            Self::InsecureRandomU64 => CanonicalRequest::InsecureRandomU64,
            Self::InsecureSeed => CanonicalRequest::InsecureSeed,
            Self::Log { level, message } => CanonicalRequest::Log {
                level: match level {
                    LogLevel::Trace => Level::Trace,
                    LogLevel::Debug => Level::Debug,
                    LogLevel::Info => Level::Info,
                    LogLevel::Warn => Level::Warn,
                    LogLevel::Error => Level::Error,
                },
                message,
            },
            Self::Dispatch {
                function,
                input,
                detached,
            } => CanonicalRequest::Dispatch {
                function,
                input,
                detached: *detached,
            },
            Self::Await { mode, items } => CanonicalRequest::Await { mode: *mode, items },
        }
    }

    /// A short description for people.
    pub fn summary(&self) -> String {
        let text = match self {
            Self::Http(req) => format!("{} {}", req.method, req.url),
            Self::WallClock | Self::MonotonicClock | Self::InsecureSeed => String::new(),
            Self::RandomBytes { len } | Self::InsecureRandomBytes { len } => format!("{len} bytes"),
            Self::RandomU64 | Self::InsecureRandomU64 => "u64".to_string(),
            Self::Log { level, message } => format!("{}: {message}", level_name(*level)),
            Self::Dispatch { function, .. } => function.to_string(),
            Self::Await { mode, items } => super::waits::describe(*mode, items),
        };
        truncate(text, MAX_SUMMARY)
    }

    /// When the call may return, if it is a wait on timers alone (ms since the Unix epoch).
    pub fn timers_end(&self) -> Option<u64> {
        match self {
            Self::Await { mode, items } => super::waits::timers_end(*mode, items),
            _ => None,
        }
    }

    /// Performs the call for real; returns its outcome, what recording it entails and the
    /// attempts it took. Fails when the invocation must suspend instead ([`super::Suspend`]).
    pub(crate) async fn perform(
        &self,
        live: &Live<'_>,
    ) -> wasmtime::Result<(Outcome, StepEffect, u32)> {
        if let Some(outcome) = self.read_live(live.last_instant) {
            return Ok((outcome, StepEffect::None, 1));
        }
        let outcome = match self {
            Self::Http(req) => {
                let (outcome, attempts, effect) = super::http::perform(live, req).await?;
                return Ok((Outcome::Http(outcome), effect, attempts));
            }
            Self::Log { level, message } => super::log::emit(live.running.id, *level, message),
            Self::Dispatch {
                function,
                input,
                detached,
            } => {
                let (outcome, effect) = super::children::start(live, function, input, *detached)?;
                return Ok((outcome, effect, 1));
            }
            Self::Await { mode, items } => {
                let (outcome, effect) = super::waits::settle(live, *mode, items).await?;
                return Ok((outcome, effect, 1));
            }
            Self::WallClock
            | Self::MonotonicClock
            | Self::RandomBytes { .. }
            | Self::InsecureRandomBytes { .. }
            | Self::RandomU64
            | Self::InsecureRandomU64
            | Self::InsecureSeed => unreachable!("read by `read_live`"),
        };
        Ok((outcome, StepEffect::None, 1))
    }

    /// The outcome of a call that only reads the clock or randomness, read now (no instant
    /// below `last_instant`); `None` for a call with an effect.
    pub(crate) fn read_live(&self, last_instant: u64) -> Option<Outcome> {
        Some(match self {
            Self::WallClock => super::clock::wall_clock(),
            Self::MonotonicClock => super::clock::monotonic(last_instant),
            Self::RandomBytes { len } | Self::InsecureRandomBytes { len } => {
                super::random::bytes(*len)
            }
            Self::RandomU64 | Self::InsecureRandomU64 => super::random::number(),
            Self::InsecureSeed => super::random::seed(),
            _ => return None,
        })
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bindings::HttpRequest;
    use crate::journal::formats::{OTHER, pinned};

    /// One request of every kind.
    fn requests<'a>(
        http: &'a HttpRequest,
        items: &'a [Awaitable],
    ) -> Vec<(&'static str, StepRequest<'a>)> {
        vec![
            ("http", StepRequest::Http(http)),
            ("wall_clock", StepRequest::WallClock),
            ("monotonic_clock", StepRequest::MonotonicClock),
            ("random_bytes", StepRequest::RandomBytes { len: 32 }),
            ("random_u64", StepRequest::RandomU64),
            (
                "insecure_random_bytes",
                StepRequest::InsecureRandomBytes { len: 8 },
            ),
            ("insecure_random_u64", StepRequest::InsecureRandomU64),
            ("insecure_seed", StepRequest::InsecureSeed),
            (
                "log",
                StepRequest::Log {
                    level: LogLevel::Warn,
                    message: "hello",
                },
            ),
            (
                "dispatch",
                StepRequest::Dispatch {
                    function: "export.one",
                    input: br#"{"id":1}"#,
                    detached: true,
                },
            ),
            (
                "await",
                StepRequest::Await {
                    mode: AwaitMode::All,
                    items,
                },
            ),
        ]
    }

    #[test]
    fn digests_keep_their_bytes() {
        let http = HttpRequest {
            method: "POST".into(),
            url: "https://crm.example/v1/users".into(),
            headers: vec![("content-type".into(), "application/json".into())],
            body: br#"{"name":"Ada"}"#.to_vec(),
            timeout_ms: Some(5_000),
        };
        let items = [
            Awaitable::Child(OTHER),
            Awaitable::Timer {
                due_ms: 1_700_000_009_000,
            },
            Awaitable::Signal("approve".into()),
        ];
        for (name, request) in requests(&http, &items) {
            pinned("v1", &format!("digest_{name}"), &request.digest());
        }
    }
}
