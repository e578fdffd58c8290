//! Property tests: stored values and log records that arrive damaged — any bytes, truncated
//! or bit-flipped encodings of real ones — are refused with an error, never a panic.
//!
//! `PROPTEST_CASES=100000 cargo test -p reprise --lib arbitrary` runs them longer.

use proptest::prelude::*;

use super::codec::{decode, encode};
use super::formats::{
    sample_access_ops, sample_deployment, sample_entries, sample_ops, sample_record, sample_wait,
};
use super::*;

/// Every stored type decoded from `bytes`: each may fail, none may panic.
fn decode_everything(bytes: &[u8]) {
    let _ = decode::<InvocationRecord>("invocation", bytes);
    let _ = decode_deployment(bytes);
    let _ = decode::<StepEntry>("entry", bytes);
    let _ = decode::<WaitState>("wait", bytes);
    let _ = decode::<TenantRecord>("tenant", bytes);
    let _ = decode::<KeyRecord>("key", bytes);
    let _ = decode_quotas(bytes);
    let _ = decode::<KeyedRequest>("idempotency key", bytes);
    let _ = decode::<EgressRules>("egress rules", bytes);
    let _ = decode::<Vec<Op>>("ops", bytes);
    let _ = super::codec::decode_tagged::<Vec<(u64, Op)>>("log record", 2, bytes);
}

/// Real encodings of every kind, to damage.
fn samples() -> Vec<Vec<u8>> {
    let mut out = vec![
        encode(&sample_record()),
        encode(&sample_deployment()),
        encode(&sample_wait()),
        encode(&sample_ops()),
        encode(&sample_access_ops()),
    ];
    out.extend(sample_entries().iter().map(|(_, e)| encode(e)));
    out
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic_a_decoder(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        decode_everything(&bytes);
    }

    #[test]
    fn damaged_real_encodings_never_panic_a_decoder(
        which in any::<prop::sample::Index>(),
        cut in any::<prop::sample::Index>(),
        flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..8),
    ) {
        let all = samples();
        let mut bytes = all[which.index(all.len())].clone();
        for (at, xor) in flips {
            let i = at.index(bytes.len());
            bytes[i] ^= xor;
        }
        bytes.truncate(cut.index(bytes.len() + 1));
        decode_everything(&bytes);
    }

    #[test]
    fn records_round_trip_through_their_encoding(attempts in any::<u32>(), input in proptest::collection::vec(any::<u8>(), 0..64)) {
        let mut record = sample_record();
        record.attempts = attempts;
        record.input = input;
        let back: InvocationRecord = decode("invocation", &encode(&record)).expect("round trip");
        prop_assert_eq!(back, record);
    }
}
