//! Who may use a host: tenants and their API keys, and the admin keys that manage them.
//!
//! A key is shown once, when it is created; only its sha256 is stored. Keys are found by that
//! hash, so a lookup's timing depends on the hash, never on the key (finding a key from
//! timings would mean inverting sha256), and the stored hash is then compared in constant
//! time. Revoking a key marks it revoked; a revoked key is never accepted again.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::ids::TenantId;

/// A tenant: the owner of deployments and invocations.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TenantRecord {
    /// Its name.
    pub name: TenantId,
    /// When it was created (ms since the Unix epoch).
    pub created_at_ms: u64,
}

/// What a key lets its holder do.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum KeyRole {
    /// Manage tenants and keys, read `/metrics`.
    Admin,
    /// Act as this tenant: deploy, invoke, read and control its invocations.
    Tenant(TenantId),
}

/// A stored API key: its hash and what it allows, never the key itself.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct KeyRecord {
    /// sha256 of the key: what requests are checked against.
    pub hash: [u8; 32],
    /// What it allows.
    pub role: KeyRole,
    /// When it was created (ms since the Unix epoch).
    pub created_at_ms: u64,
    /// When it was revoked, if it was.
    pub revoked_at_ms: Option<u64>,
}

impl KeyRecord {
    /// The key's public name: the first 12 hex digits of its hash (shown by `key ls`, used by
    /// `key revoke`).
    pub fn id(&self) -> String {
        key_id(&self.hash)
    }
}

/// The public name of the key with `hash`.
pub fn key_id(hash: &[u8; 32]) -> String {
    crate::ids::hex(&hash[..6])
}

/// The hash under which a key is stored.
pub fn key_hash(key: &str) -> [u8; 32] {
    Sha256::digest(key.as_bytes()).into()
}

/// Whether `a` and `b` are equal, in a time that does not depend on where they differ.
pub fn same_hash(a: &[u8; 32], b: &[u8; 32]) -> bool {
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_is_found_by_its_hash_and_named_by_its_prefix() {
        let hash = key_hash("rpk_example");
        assert_eq!(hash, key_hash("rpk_example"));
        assert_ne!(hash, key_hash("rpk_examplf"));
        assert!(same_hash(&hash, &key_hash("rpk_example")));
        assert!(!same_hash(&hash, &key_hash("rpk_other")));
        let record = KeyRecord {
            hash,
            role: KeyRole::Admin,
            created_at_ms: 1,
            revoked_at_ms: None,
        };
        assert_eq!(record.id().len(), 12);
        assert_eq!(record.id(), key_id(&hash));
    }
}
