//! Randomness: secure and insecure bytes, numbers and the insecure seed, all journaled.

use rand::{Rng, RngCore};

use super::{StepRequest, Steps, mismatched};
use crate::journal::Outcome;

/// Most random bytes one call may ask for.
pub const MAX_RANDOM_BYTES: u64 = 1 << 20;

pub(super) fn bytes(len: u64) -> Outcome {
    let mut out = vec![0u8; len.min(MAX_RANDOM_BYTES) as usize];
    rand::rng().fill_bytes(&mut out);
    Outcome::Bytes(out)
}

pub(super) fn number() -> Outcome {
    Outcome::U64(rand::rng().random())
}

pub(super) fn seed() -> Outcome {
    let mut rng = rand::rng();
    Outcome::Pair(rng.random(), rng.random())
}

/// Journaled random bytes for `request` (one of the byte-returning requests).
pub async fn take_bytes(steps: &mut Steps, request: StepRequest<'_>) -> wasmtime::Result<Vec<u8>> {
    if let StepRequest::RandomBytes { len } | StepRequest::InsecureRandomBytes { len } = request
        && len > MAX_RANDOM_BYTES
    {
        return Err(wasmtime::Error::msg(format!(
            "asked for {len} random bytes; at most {MAX_RANDOM_BYTES} per call"
        )));
    }
    match steps.take(request).await? {
        Outcome::Bytes(bytes) => Ok(bytes),
        other => Err(mismatched("random", &other)),
    }
}

/// Journaled random number for `request` (one of the u64-returning requests).
pub async fn take_number(steps: &mut Steps, request: StepRequest<'_>) -> wasmtime::Result<u64> {
    match steps.take(request).await? {
        Outcome::U64(n) => Ok(n),
        other => Err(mismatched("random", &other)),
    }
}

/// Journaled insecure seed.
pub async fn take_seed(steps: &mut Steps) -> wasmtime::Result<(u64, u64)> {
    match steps.take(StepRequest::InsecureSeed).await? {
        Outcome::Pair(a, b) => Ok((a, b)),
        other => Err(mismatched("insecure seed", &other)),
    }
}
