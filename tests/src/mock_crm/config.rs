//! What a mock CRM is told to do: where it listens, the token it wants, and the faults it
//! plays (latency, concurrency and rate limits, an outage).

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use rand::Rng;

use super::DEFAULT_TOKEN;

/// Artificial processing time added to every request to [`USERS_PATH`](super::USERS_PATH).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Latency {
    /// Answer immediately.
    #[default]
    None,
    /// Always wait this long.
    Fixed(Duration),
    /// Wait a uniformly random time in `min..=max`.
    Uniform {
        /// Shortest wait.
        min: Duration,
        /// Longest wait.
        max: Duration,
    },
}

impl Latency {
    /// A fixed latency of `ms` milliseconds.
    pub fn fixed_ms(ms: u64) -> Self {
        Self::Fixed(Duration::from_millis(ms))
    }

    /// A uniformly random latency between `min_ms` and `max_ms` milliseconds inclusive.
    pub fn uniform_ms(min_ms: u64, max_ms: u64) -> Self {
        Self::Uniform {
            min: Duration::from_millis(min_ms),
            max: Duration::from_millis(max_ms),
        }
    }

    /// Parses `"N"` (fixed) or `"MIN..MAX"` / `"MIN..=MAX"` (uniform, inclusive), in milliseconds.
    pub fn parse_ms(s: &str) -> Result<Self, String> {
        let num = |part: &str| {
            part.trim()
                .parse::<u64>()
                .map_err(|e| format!("invalid milliseconds {part:?}: {e}"))
        };
        match s.trim().split_once("..") {
            Some((min, max)) => {
                let max = max.strip_prefix('=').unwrap_or(max);
                let (min, max) = (num(min)?, num(max)?);
                if min > max {
                    return Err(format!("latency range {s:?} is empty (min > max)"));
                }
                Ok(Self::uniform_ms(min, max))
            }
            None => Ok(Self::fixed_ms(num(s)?)),
        }
    }

    /// Draws one delay.
    pub fn sample(&self) -> Duration {
        match *self {
            Self::None => Duration::ZERO,
            Self::Fixed(d) => d,
            Self::Uniform { min, max } => {
                let (lo, hi) = if min <= max { (min, max) } else { (max, min) };
                if lo == hi {
                    lo
                } else {
                    rand::rng().random_range(lo..=hi)
                }
            }
        }
    }
}

/// Configuration of a [`MockCrm`](super::MockCrm); build with `..Default::default()`.
#[derive(Debug, Clone)]
pub struct MockCrmConfig {
    /// Address to bind; the default `127.0.0.1:0` picks a free port.
    pub listen: SocketAddr,
    /// Bearer token required on [`USERS_PATH`](super::USERS_PATH).
    pub token: String,
    /// Artificial latency of each [`USERS_PATH`](super::USERS_PATH) request.
    pub latency: Latency,
    /// Most requests handled at once; more get 429.
    pub max_concurrency: Option<usize>,
    /// Most requests accepted per second (sliding one-second window); more get 429.
    pub rate_limit: Option<usize>,
    /// A window of 503s.
    pub outage: Option<Outage>,
}

/// A maintenance window: every request to [`USERS_PATH`](super::USERS_PATH) is answered 503 from `start` after
/// the first request, for `length`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Outage {
    /// Since the first request.
    pub start: Duration,
    /// How long it lasts.
    pub length: Duration,
}

impl Outage {
    /// Parses `START+LENGTH` in seconds, e.g. `5+10`.
    pub fn parse_secs(s: &str) -> Result<Self, String> {
        let (start, length) = s
            .split_once('+')
            .ok_or_else(|| format!("outage must be START+LENGTH in seconds, got {s:?}"))?;
        let secs = |part: &str| {
            part.trim()
                .parse::<f64>()
                .ok()
                .filter(|v| v.is_finite() && *v >= 0.0)
                .map(Duration::from_secs_f64)
                .ok_or_else(|| format!("invalid seconds {part:?} in outage {s:?}"))
        };
        Ok(Self {
            start: secs(start)?,
            length: secs(length)?,
        })
    }
}

impl Default for MockCrmConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 0),
            token: DEFAULT_TOKEN.to_owned(),
            latency: Latency::None,
            max_concurrency: None,
            rate_limit: None,
            outage: None,
        }
    }
}
