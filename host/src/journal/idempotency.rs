//! Idempotency keys: a request made again under the same key (within the retention window)
//! gets the first request's invocation, never a second one.
//!
//! A key is scoped: an invocation's key by its tenant and target function, a signal's by its
//! tenant and invocation. Its row records which invocation it made and a digest of what was
//! asked for, so that the same key with a different request is refused rather than mistaken
//! for a repeat. Rows are checked and written in the same op as what they guard, so two
//! requests racing with one key make one invocation.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::ids::InvocationId;

/// How long a key holds: a repeat after this is a new request.
pub const KEY_RETENTION_MS: u64 = 7 * 24 * 60 * 60 * 1000;

/// Most bytes of a key.
pub const MAX_KEY_BYTES: usize = 255;

/// An idempotency key's name: (scope, key).
pub type KeyName = (String, String);

/// A key, with what scopes it and a digest of the request it came with.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdempotencyKey {
    /// What the key is unique within (e.g. `invoke crm.send_user`).
    pub scope: String,
    /// The key, as the client sent it.
    pub key: String,
    /// sha256 of the request it came with.
    pub digest: [u8; 32],
}

impl IdempotencyKey {
    /// `key` within `scope`, for a request made of `parts`.
    pub fn new(scope: String, key: String, parts: &[&[u8]]) -> Self {
        let mut hasher = Sha256::new();
        for part in parts {
            hasher.update((part.len() as u64).to_le_bytes());
            hasher.update(part);
        }
        IdempotencyKey {
            scope,
            key,
            digest: hasher.finalize().into(),
        }
    }
}

/// The stored row of a key: what it made, for which request, when.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyedRequest {
    /// The invocation the first request made (or signalled).
    pub invocation: InvocationId,
    /// sha256 of that request.
    pub digest: [u8; 32],
    /// When (ms since the Unix epoch).
    pub created_at_ms: u64,
}

impl KeyedRequest {
    /// Whether the key still holds at `now_ms`.
    pub fn holds_at(&self, now_ms: u64) -> bool {
        now_ms.saturating_sub(self.created_at_ms) < KEY_RETENTION_MS
    }
}

/// `json` without the spacing and object key order that do not change what it says: what a
/// key's digest covers, so the same input written another way is the same request.
pub fn canonical_json(json: &[u8]) -> Vec<u8> {
    match serde_json::from_slice::<serde_json::Value>(json) {
        Ok(value) => value.to_string().into_bytes(),
        Err(_) => json.to_vec(),
    }
}

/// Whether `key` is usable as an idempotency key: 1 to 255 visible ASCII characters.
pub fn valid_key(key: &str) -> bool {
    !key.is_empty() && key.len() <= MAX_KEY_BYTES && key.bytes().all(|b| b.is_ascii_graphic())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_tells_requests_apart_by_their_parts_and_holds_for_its_window() {
        let a = IdempotencyKey::new("invoke x.f".into(), "k".into(), &[b"ab", b"c"]);
        let b = IdempotencyKey::new("invoke x.f".into(), "k".into(), &[b"a", b"bc"]);
        assert_ne!(a.digest, b.digest, "parts are length-prefixed");
        let row = KeyedRequest {
            invocation: InvocationId(1),
            digest: a.digest,
            created_at_ms: 1_000,
        };
        assert!(row.holds_at(1_000 + KEY_RETENTION_MS - 1));
        assert!(!row.holds_at(1_000 + KEY_RETENTION_MS));
        assert_eq!(
            canonical_json(br#"{ "b": [1, 2], "a": {"y": 1, "x": 2} }"#),
            canonical_json(br#"{"a":{"x":2,"y":1},"b":[1,2]}"#)
        );
        assert_ne!(canonical_json(b"[1, 2]"), canonical_json(b"[2, 1]"));
        assert!(valid_key("order-42_retry.1"));
        for bad in ["", "has space", "tab\t", "é", &"x".repeat(256)] {
            assert!(!valid_key(bad), "{bad}");
        }
    }
}
