//! The request digest: what a replay compares to tell that a function asks for the same step.
//!
//! A step's digest is the first 16 bytes of the sha256 of its request's canonical encoding:
//! postcard of [`Request`], which is
//! - the variant's index (a varint: `http` 0, `wall_clock` 1, `monotonic_clock` 2,
//!   `random_bytes` 3, `random_u64` 4, `insecure_random_bytes` 5, `insecure_random_u64` 6,
//!   `insecure_seed` 7, `log` 8, `dispatch` 9, `await` 10),
//! - then its fields in the order written below: integers as varints (u128 ids too), a
//!   `bool` as one byte, strings and byte strings as a varint length and the bytes, a list as a
//!   varint count and its elements, an option as `0` or `1` and the value, an enum as its
//!   variant index and its fields.
//!
//! The digest is stored in every journal entry, so this encoding never changes: `formats`
//! pins the digest of every request kind.

use serde::Serialize;
use sha2::{Digest, Sha256};

use super::waits::{AwaitMode, Awaitable};

/// A host call's request in canonical form.
#[derive(Serialize)]
pub enum Request<'a> {
    /// An outgoing HTTP request.
    Http {
        method: &'a str,
        url: &'a str,
        headers: &'a [(String, String)],
        #[serde(serialize_with = "super::bytes::serialize")]
        body: &'a [u8],
        timeout_ms: Option<u32>,
    },
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
    Log { level: Level, message: &'a str },
    /// Start a child invocation.
    Dispatch {
        function: &'a str,
        #[serde(serialize_with = "super::bytes::serialize")]
        input: &'a [u8],
        detached: bool,
    },
    /// Wait for `items` under `mode`.
    Await {
        mode: AwaitMode,
        items: &'a [Awaitable],
    },
}

/// A log line's severity, in the digest.
#[derive(Clone, Copy, Debug, Serialize)]
pub enum Level {
    /// Trace.
    Trace,
    /// Debug.
    Debug,
    /// Info.
    Info,
    /// Warn.
    Warn,
    /// Error.
    Error,
}

impl Request<'_> {
    /// The first 16 bytes of the sha256 of the canonical encoding.
    pub fn digest(&self) -> [u8; 16] {
        let mut hasher = Sha256::new();
        // Encoding our own enum into a hasher cannot fail.
        let _ = postcard::to_io(self, HashWriter(&mut hasher));
        let full = hasher.finalize();
        let mut out = [0u8; 16];
        out.copy_from_slice(&full[..16]);
        out
    }
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
