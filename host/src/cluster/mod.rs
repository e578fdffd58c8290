//! This node among others: who it is (the URL it is reached at), the key nodes prove
//! themselves with, and the client it talks to other nodes through (`peer.rs`).
//!
//! Nodes authenticate each other with one cluster key, given to every node: a node accepts a
//! move (or a question about one) only from a caller that presents it, compared by sha256 in
//! constant time. A node started without one takes part in no moves.

pub mod peer;

pub use peer::{Peer, PeerError, Sent};

use crate::journal::{key_hash, same_hash};

/// The shortest cluster key accepted.
pub const MIN_KEY_LEN: usize = 16;

/// How this node takes part in a cluster.
#[derive(Clone, Debug, Default)]
pub struct Cluster {
    /// The URL other nodes and clients reach this node at ("" if it was not given).
    pub advertise: String,
    /// The cluster key's sha256, if the node has one.
    key_hash: Option<[u8; 32]>,
    /// The key itself, presented to other nodes.
    key: Option<String>,
}

/// Why a cluster key is not usable.
#[derive(Debug, thiserror::Error)]
#[error(
    "the cluster key has {0} characters: use at least {MIN_KEY_LEN} (e.g. 32 random hex digits)"
)]
pub struct ShortKey(usize);

impl Cluster {
    /// A node reached at `advertise`, proving itself with `key` if given.
    pub fn new(advertise: &str, key: Option<String>) -> Result<Self, ShortKey> {
        let key = key.map(|k| k.trim().to_string());
        if let Some(k) = &key
            && k.len() < MIN_KEY_LEN
        {
            return Err(ShortKey(k.len()));
        }
        Ok(Cluster {
            advertise: advertise.trim_end_matches('/').to_string(),
            key_hash: key.as_deref().map(key_hash),
            key,
        })
    }

    /// Whether this node has a cluster key (and so takes part in moves).
    pub fn enabled(&self) -> bool {
        self.key.is_some()
    }

    /// Whether `presented` is the cluster key.
    pub fn admits(&self, presented: &str) -> bool {
        self.key_hash
            .is_some_and(|hash| same_hash(&hash, &key_hash(presented)))
    }

    /// The key to present to other nodes.
    pub(crate) fn key(&self) -> Option<&str> {
        self.key.as_deref()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_cluster_key_is_admitted_and_short_keys_are_refused() {
        let cluster =
            Cluster::new("http://a:1/", Some("0123456789abcdef0123".into())).expect("a long key");
        assert_eq!(cluster.advertise, "http://a:1");
        assert!(cluster.admits("0123456789abcdef0123"));
        assert!(!cluster.admits("0123456789abcdef0124"));
        assert!(!Cluster::default().admits(""));
        assert!(Cluster::new("", Some("short".into())).is_err());
    }
}
