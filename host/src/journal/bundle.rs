//! A bundle: everything one node stores about one invocation, as one file that another node
//! imports to own it — the record, the component it is pinned to, the deployment it runs
//! through, its journal and history, its wait, kept signals, kept attempts and children.
//!
//! On disk (and on the wire between nodes) a bundle is `MAGIC`, the format version (u16 little
//! endian), the sha256 of the payload, then the payload: postcard of [`Bundle`], then (from
//! format 2) postcard of its [`Family`]: its children's records and awaited rows. Format 1,
//! without them, is still read. A file that is not a bundle, of another version, corrupt or truncated is refused
//! before anything in it is read.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::history::StoredStep;
use super::op::RetryState;
use super::records::{Deployment, InvocationRecord, InvocationState};
use super::waits::WaitState;
use crate::ids::{ComponentHash, InvocationId};

/// What every bundle starts with.
pub const MAGIC: &[u8; 8] = b"RPRSBNDL";
/// The bundle format this host writes (and the newest it reads).
pub const BUNDLE_VERSION: u16 = 2;
/// The oldest bundle format this host reads.
const OLDEST_VERSION: u16 = 1;
/// Bytes before the payload: magic, version, checksum.
const HEADER: usize = MAGIC.len() + 2 + 32;

/// One invocation as it leaves a node, to be imported by another.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Bundle {
    /// The move it is part of: an arrival is recorded under it, so it is imported once.
    pub move_id: u128,
    /// The node it left (its advertised URL), or "" if unknown.
    pub from_node: String,
    /// When it was made (ms since the Unix epoch).
    pub made_at_ms: u64,
    /// The record, in the state it had before it left.
    pub record: InvocationRecord,
    /// The deployment it was invoked through, as the node it left had it (if it still had it).
    pub deployment: Option<Deployment>,
    /// The bytes of the component it is pinned to; empty when the sender knows the receiving
    /// node has it (between nodes only).
    #[serde(with = "super::bytes")]
    pub component: Vec<u8>,
    /// Its journal as stored, in order.
    pub steps: Vec<StoredStep>,
    /// Its history events as stored, oldest first.
    pub history: Vec<EncodedEvent>,
    /// Its wait, if it is suspended or scheduled.
    pub wait: Option<WaitState>,
    /// The state it was paused in, if it is paused.
    pub paused_from: Option<InvocationState>,
    /// Signals kept for it and not received yet.
    pub signals: Vec<KeptSignal>,
    /// The kept attempts of its HTTP steps between retries (and of its reruns): (step, attempts).
    pub retries: Vec<(u32, RetryState)>,
    /// The children it dispatched: (id, detached).
    pub children: Vec<(InvocationId, bool)>,
    /// Its children's records and what its wait counts on them. Written after the rest of
    /// the payload (format 2), and carried by `Op::Arrive` beside the bundle, so that the
    /// bundle's serde form (and `Op::Import`'s) stays format 1's.
    #[serde(skip)]
    pub family: Family,
}

/// What a bundle carries of its invocation's children besides their ids (format 2).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Family {
    /// Their records as the node it left had them, finished or not: what its waits on them
    /// read, and where the target reports a cancel.
    pub children: Vec<ChildCopy>,
    /// The awaited rows of its wait, (child, wait step): its children that had not ended
    /// when it left, and those that ended while it was leaving (the target counts them).
    pub awaited: Vec<(InvocationId, u32)>,
}

/// A child's record in a bundle, and where it runs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ChildCopy {
    /// Its record as the node its parent left had it.
    pub record: InvocationRecord,
    /// The node that owns it if it has not finished (which reports its end to the parent's
    /// new node), else "".
    pub node: String,
}

/// A history event as stored.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EncodedEvent(#[serde(with = "super::bytes")] pub Vec<u8>);

/// A signal kept for an invocation.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct KeptSignal {
    /// Its name.
    pub name: String,
    /// Its arrival number among the signals of that name.
    pub n: u64,
    /// Its payload.
    #[serde(with = "super::bytes")]
    pub payload: Vec<u8>,
}

/// Why bytes are not a bundle this host can import.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum BundleError {
    /// The bytes do not start like a bundle.
    #[error("not a Reprise bundle (it does not start with {:?})", std::str::from_utf8(MAGIC).unwrap_or_default())]
    NotABundle,
    /// Another version of the format.
    #[error(
        "bundle format {found} is not supported: this host reads formats {OLDEST_VERSION} to {BUNDLE_VERSION}"
    )]
    Version { found: u16 },
    /// The payload does not match its checksum.
    #[error("the bundle is corrupt or truncated: its checksum does not match its {0} bytes")]
    Checksum(usize),
    /// The payload does not decode.
    #[error("the bundle's contents do not decode: {0}")]
    Malformed(String),
    /// It decodes but does not hold together.
    #[error("the bundle is inconsistent: {0}")]
    Inconsistent(String),
}

impl Bundle {
    /// The bundle as a file: header and payload.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut payload = postcard::to_allocvec(self).unwrap_or_default();
        payload.extend(postcard::to_allocvec(&self.family).unwrap_or_default());
        let mut out = Vec::with_capacity(HEADER + payload.len());
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&BUNDLE_VERSION.to_le_bytes());
        out.extend_from_slice(&Sha256::digest(&payload));
        out.extend_from_slice(&payload);
        out
    }

    /// Reads a bundle file, checking its header, checksum and consistency.
    pub fn from_bytes(bytes: &[u8]) -> Result<Bundle, BundleError> {
        if bytes.len() < MAGIC.len() || &bytes[..MAGIC.len()] != MAGIC {
            return Err(BundleError::NotABundle);
        }
        if bytes.len() < HEADER {
            return Err(BundleError::Checksum(bytes.len()));
        }
        let found = u16::from_le_bytes([bytes[8], bytes[9]]);
        if !(OLDEST_VERSION..=BUNDLE_VERSION).contains(&found) {
            return Err(BundleError::Version { found });
        }
        let payload = &bytes[HEADER..];
        if Sha256::digest(payload).as_slice() != &bytes[10..HEADER] {
            return Err(BundleError::Checksum(payload.len()));
        }
        let malformed = |e: postcard::Error| BundleError::Malformed(e.to_string());
        let (mut bundle, rest): (Bundle, _) =
            postcard::take_from_bytes(payload).map_err(malformed)?;
        let rest = if found >= 2 {
            let (family, rest) = postcard::take_from_bytes(rest).map_err(malformed)?;
            bundle.family = family;
            rest
        } else {
            rest
        };
        if !rest.is_empty() {
            return Err(BundleError::Malformed(format!(
                "{} bytes follow its contents",
                rest.len()
            )));
        }
        bundle.check()?;
        Ok(bundle)
    }

    /// `Err` saying what does not hold together: the component is not the one the record
    /// is pinned to, or [`Bundle::check_rows`] fails.
    pub fn check(&self) -> Result<(), BundleError> {
        let record = &self.record;
        if !self.component.is_empty() && ComponentHash::of(&self.component) != record.component {
            return Err(BundleError::Inconsistent(format!(
                "its component's sha256 is not {}, the component the invocation is pinned to",
                record.component
            )));
        }
        self.check_rows()
    }

    /// `Err` saying which of the rows it would write do not hold together: its deployment
    /// is another, steps are out of order, the wait or pause does not match the state. (What
    /// the writer checks: the component's hash was checked when the bundle was read.)
    pub fn check_rows(&self) -> Result<(), BundleError> {
        let bad = |why: String| Err(BundleError::Inconsistent(why));
        let record = &self.record;
        if let Some(d) = &self.deployment
            && (d.tenant != record.tenant || d.name != record.deployment)
        {
            return bad("its deployment is not the one the invocation runs through".into());
        }
        if let Some(i) = self
            .steps
            .iter()
            .enumerate()
            .position(|(i, s)| s.seq as usize != i)
        {
            return bad(format!(
                "journal step {i} is numbered {}",
                self.steps[i].seq
            ));
        }
        let state = record.state;
        if state.is_waiting() != self.wait.is_some() {
            return bad(format!(
                "it is {} with {} wait",
                state.as_str(),
                if self.wait.is_some() { "a" } else { "no" }
            ));
        }
        if (state == InvocationState::Paused) != self.paused_from.is_some() {
            return bad(format!(
                "it is {} with{} the state it was paused in",
                state.as_str(),
                if self.paused_from.is_some() {
                    ""
                } else {
                    "out"
                }
            ));
        }
        if state == InvocationState::Moved {
            return bad("it is itself a moved invocation's forwarding record".into());
        }
        self.check_family(&self.family)
    }

    /// `Err` saying what of `family` does not hold together with the bundle: a record that is
    /// not of one of its children, an unfinished one with no node, an awaited child that is
    /// not one of them or a wait step that is not its wait's.
    pub fn check_family(&self, family: &Family) -> Result<(), BundleError> {
        let bad = |why: String| Err(BundleError::Inconsistent(why));
        let record = &self.record;
        let is_child = |id: InvocationId| self.children.iter().any(|(c, _)| *c == id);
        for ChildCopy {
            record: child,
            node,
        } in &family.children
        {
            if child.tenant != record.tenant
                || child.parent != Some(record.id)
                || !is_child(child.id)
            {
                return bad(format!(
                    "the record of {} is not of one of its children",
                    child.id
                ));
            }
            if child.state.is_terminal() != node.is_empty() {
                return bad(format!(
                    "its child {} is {} with{} a node",
                    child.id,
                    child.state.as_str(),
                    if node.is_empty() { "out" } else { "" }
                ));
            }
        }
        for (child, seq) in &family.awaited {
            if !is_child(*child) || self.wait.as_ref().is_none_or(|w| w.seq != *seq) {
                return bad(format!(
                    "it awaits {child} at step {seq}, which is not its wait"
                ));
            }
        }
        Ok(())
    }

    /// The bytes its tenant's `stored_bytes` counts for it, besides the component and its
    /// children's records: input, output, journal, history and signals.
    pub fn stored_bytes(&self, history_bytes: impl Fn(&[u8]) -> u64) -> u64 {
        let own = self.record.own_bytes();
        let steps: usize = self.steps.iter().map(|s| s.entry.len()).sum();
        let signals: usize = self.signals.iter().map(|s| s.payload.len()).sum();
        let history: u64 = self.history.iter().map(|e| history_bytes(&e.0)).sum();
        (own + steps + signals) as u64 + history
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::journal::formats::sample_bundle_with_children;

    #[test]
    fn a_family_that_does_not_hold_together_is_refused() {
        let refused = |change: &dyn Fn(&mut Bundle)| {
            let mut bundle = sample_bundle_with_children();
            change(&mut bundle);
            Bundle::from_bytes(&bundle.to_bytes())
                .expect_err("refused")
                .to_string()
        };
        let err = refused(&|b| b.family.children[0].record.parent = None);
        assert!(err.contains("is not of one of its children"), "{err}");
        let err = refused(&|b| b.family.children[1].node.clear());
        assert!(err.contains("is suspended without a node"), "{err}");
        let err = refused(&|b| b.family.children[0].node = "http://x".into());
        assert!(err.contains("with a node"), "{err}");
        let err = refused(&|b| b.family.awaited[0].1 += 1);
        assert!(err.contains("which is not its wait"), "{err}");
        // Bytes after the family are refused too (the checksum covers them).
        let mut bytes = sample_bundle_with_children().to_bytes();
        bytes.push(0);
        let payload = bytes[HEADER..].to_vec();
        bytes[10..HEADER].copy_from_slice(&Sha256::digest(&payload));
        let err = Bundle::from_bytes(&bytes).expect_err("refused");
        assert!(err.to_string().contains("1 bytes follow"), "{err}");
    }
}
