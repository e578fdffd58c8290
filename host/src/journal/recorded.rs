//! A journal as stored, decoded one entry at a time as a replay consumes it.
//!
//! Loading a long journal entry by entry (a vector of decoded entries, each with its own
//! allocations) was a third of a replay's time. The stored bytes are copied into one buffer
//! instead, and each entry is decoded when the replay reaches it.

use std::ops::Range;

use super::codec::{DecodeError, decode};
use super::entry::StepEntry;
use super::history::StoredStep;

/// The stored entries of one journal, in sequence order.
#[derive(Clone, Default)]
pub struct Recorded {
    bytes: Vec<u8>,
    /// (sequence number, where its encoded entry is in `bytes`).
    entries: Vec<(u32, Range<usize>)>,
    next: usize,
}

impl Recorded {
    /// An empty journal with room for `entries` entries of about `entry_bytes` each, so a
    /// long one is not copied as it grows.
    pub(crate) fn with_capacity(entries: usize, entry_bytes: usize) -> Self {
        Recorded {
            bytes: Vec::with_capacity(entries.saturating_mul(entry_bytes)),
            entries: Vec::with_capacity(entries),
            next: 0,
        }
    }

    /// Appends the encoded entry of step `seq` (entries come in sequence order).
    pub(crate) fn push(&mut self, seq: u32, entry: &[u8]) {
        let start = self.bytes.len();
        self.bytes.extend_from_slice(entry);
        self.entries.push((seq, start..self.bytes.len()));
    }

    /// The sequence number of the last entry.
    pub(crate) fn last_seq(&self) -> Option<u32> {
        self.entries.last().map(|(seq, _)| *seq)
    }

    /// How many entries are left to replay.
    pub fn remaining(&self) -> usize {
        self.entries.len() - self.next
    }

    /// The first `n` entries left, as a journal of their own.
    pub fn first(mut self, n: usize) -> Self {
        let end = (self.next + n).min(self.entries.len());
        let bytes_end = self.entries[self.next..end]
            .last()
            .map_or(0, |(_, range)| range.end);
        self.entries.truncate(end);
        self.bytes.truncate(bytes_end);
        self
    }

    /// The entries left, as stored.
    pub fn stored_steps(&self) -> Vec<StoredStep> {
        self.entries[self.next..]
            .iter()
            .map(|(seq, range)| StoredStep {
                seq: *seq,
                entry: self.bytes[range.clone()].to_vec(),
            })
            .collect()
    }

    /// Decodes every entry left.
    pub fn decode_all(self) -> Result<Vec<(u32, StepEntry)>, DecodeError> {
        let mut out = Vec::with_capacity(self.remaining());
        for entry in self {
            out.push(entry?);
        }
        Ok(out)
    }
}

impl Iterator for Recorded {
    type Item = Result<(u32, StepEntry), DecodeError>;

    /// Decodes the next entry: (sequence number, entry).
    fn next(&mut self) -> Option<Self::Item> {
        let (seq, range) = self.entries.get(self.next)?.clone();
        self.next += 1;
        Some(decode("journal entry", &self.bytes[range]).map(|entry| (seq, entry)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::journal::codec::encode;
    use crate::journal::{Outcome, StepKind};

    #[test]
    fn entries_decode_in_order_and_a_corrupt_one_is_an_error() {
        let entry = |n: u64| StepEntry {
            kind: StepKind::Random,
            digest: [3; 16],
            summary: format!("entry {n}"),
            attempts: 1,
            recorded_at_ms: n,
            outcome: Outcome::U64(n),
        };
        let mut recorded = Recorded::default();
        for seq in 0..3 {
            recorded.push(seq, &encode(&entry(seq.into())));
        }
        recorded.push(3, &[1, 0xff]);
        assert_eq!(recorded.last_seq(), Some(3));
        assert_eq!(recorded.remaining(), 4);
        let first = recorded.next().expect("one").expect("decodes");
        assert_eq!(first, (0, entry(0)));
        assert_eq!(recorded.remaining(), 3);
        let rest: Vec<_> = recorded
            .by_ref()
            .take(2)
            .map(|e| e.expect("decodes"))
            .collect();
        assert_eq!(rest, vec![(1, entry(1)), (2, entry(2))]);
        assert!(matches!(
            recorded.next(),
            Some(Err(DecodeError::Corrupt { .. }))
        ));
        assert!(recorded.next().is_none());
    }
}
