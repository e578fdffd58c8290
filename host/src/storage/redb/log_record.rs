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

use crate::journal::Op;
use crate::journal::codec::{DecodeError, decode_tagged, encode_tagged};

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::journal::codec;
    use crate::journal::formats::{
        pinned, sample_access_ops, sample_egress_ops, sample_exhausted_ops, sample_forget_ops,
        sample_operate_ops, sample_ops, sample_pause_ops, sample_quota_ops, sample_quota_ops_v2,
        sample_rewind_ops, sample_schedule_ops,
    };

    #[test]
    fn log_records_keep_their_bytes() {
        let ops = sample_ops();
        // Format 1: unstamped ops. It still decodes, its ops stamped with the replay's time.
        let refs: Vec<&Op> = ops.iter().collect();
        let stored = pinned("v1", "log_record", &codec::encode(&refs));
        let back = decode(&stored, 42).expect("a format-1 log record");
        assert_eq!(back.len(), ops.len());
        assert!(back.iter().all(|s| s.at_ms == 42));
        let back: Vec<&Op> = back.iter().map(|s| &s.op).collect();
        assert_eq!(
            codec::encode(&back),
            stored,
            "a decoded record encodes the same"
        );
        // Format 2: each op with the time it was made.
        let stamped = ops.iter().enumerate().map(|(i, op)| Stamped {
            at_ms: 1_700_000_000_000 + i as u64,
            op,
        });
        let stored = pinned("v2", "log_record", &encode(stamped));
        let back = decode(&stored, 42).expect("a format-2 log record");
        let times: Vec<u64> = back.iter().map(|s| s.at_ms).collect();
        let expected: Vec<u64> = (0..ops.len() as u64)
            .map(|i| 1_700_000_000_000 + i)
            .collect();
        assert_eq!(times, expected);
        let again = encode(back.iter().map(|s| Stamped {
            at_ms: s.at_ms,
            op: &s.op,
        }));
        assert_eq!(again, stored, "a decoded record encodes the same");
        assert!(matches!(
            decode(&[9, 0], 0),
            Err(DecodeError::UnknownFormat { tag: 9, .. })
        ));
    }

    #[test]
    fn log_records_of_tenants_and_keys_keep_their_bytes() {
        pin_stamped("log_record_access", &sample_access_ops());
        pin_stamped("log_record_quotas", &sample_quota_ops());
        pin_stamped("log_record_egress", &sample_egress_ops());
        pin_stamped("log_record_quotas_v2", &sample_quota_ops_v2());
        pin_stamped("log_record_operate", &sample_operate_ops());
        pin_stamped("log_record_pause", &sample_pause_ops());
        pin_stamped("log_record_forget", &sample_forget_ops());
        pin_stamped("log_record_schedules", &sample_schedule_ops());
        pin_stamped("log_record_rewind", &sample_rewind_ops());
        pin_stamped("log_record_exhausted", &sample_exhausted_ops());
        pin_stamped(
            "log_record_moves",
            &crate::journal::formats::sample_move_ops(),
        );
        pin_stamped(
            "log_record_versions",
            &crate::journal::formats::sample_version_ops(),
        );
        pin_stamped(
            "log_record_outbox",
            &crate::journal::formats::sample_outbox_ops(),
        );
        pin_stamped(
            "log_record_arrive",
            &crate::journal::formats::sample_arrive_ops(),
        );
        pin_stamped(
            "log_record_output",
            &crate::journal::formats::sample_output_ops(),
        );
    }

    /// Pins a format-2 record of `ops` as fixture `name`, and checks it decodes to them.
    fn pin_stamped(name: &str, ops: &[Op]) {
        let stamped = ops.iter().map(|op| Stamped {
            at_ms: 1_700_000_000_000,
            op,
        });
        let stored = pinned("v2", name, &encode(stamped));
        let back = decode(&stored, 42).expect("a format-2 log record");
        let back: Vec<&Op> = back.iter().map(|s| &s.op).collect();
        assert_eq!(
            codec::encode(&back),
            codec::encode(&ops.iter().collect::<Vec<_>>())
        );
    }
}
