//! The write-ahead log's record payload: a batch's ops, each with the time it was made.
//!
//! Applying an op never reads the clock: every time it writes (a record's `updated_at`, a
//! cancellation's time, which timers are due) comes from the op's stamp, so replaying a record
//! after a crash writes exactly what the first application wrote.
//!
//! Format 2 (written now): tag `2`, then postcard of `Vec<(u64, Op)>` (ms since the Unix
//! epoch, op). Format 1 (written before ops were stamped): tag `1`, then postcard of
//! `Vec<Op>`; its ops are stamped with the time of the replay, the one case where a replay
//! may differ from the first application (in times only).

use serde::Serialize;

use super::apply::Op;
use super::codec::{DecodeError, decode_tagged, encode_tagged};

/// The format tag of a record of stamped ops.
const STAMPED: u8 = 2;
/// The format tag of a record of unstamped ops (before format 2).
const UNSTAMPED: u8 = 1;

/// An op and when it was made (ms since the Unix epoch).
#[derive(Serialize, serde::Deserialize)]
pub(super) struct Stamped<O = Op> {
    /// When the op was submitted.
    pub at_ms: u64,
    /// The write.
    pub op: O,
}

/// The payload of the record of a batch of `ops`.
pub(super) fn encode<'a>(ops: impl Iterator<Item = Stamped<&'a Op>>) -> Vec<u8> {
    let ops: Vec<Stamped<&Op>> = ops.collect();
    encode_tagged(STAMPED, &ops)
}

/// The ops of a record, in order; those of a format-1 record are stamped `replay_ms`.
pub(super) fn decode(payload: &[u8], replay_ms: u64) -> Result<Vec<Stamped>, DecodeError> {
    const WHAT: &str = "log record";
    match payload.first() {
        Some(&UNSTAMPED) => Ok(decode_tagged::<Vec<Op>>(WHAT, UNSTAMPED, payload)?
            .into_iter()
            .map(|op| Stamped {
                at_ms: replay_ms,
                op,
            })
            .collect()),
        _ => decode_tagged(WHAT, STAMPED, payload),
    }
}
