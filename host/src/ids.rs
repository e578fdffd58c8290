//! Identifiers: tenants, invocation ids and component hashes.

use std::fmt;
use std::str::FromStr;

use rand::Rng;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

const CROCKFORD: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/// The owner of deployments and invocations: every record is keyed by its tenant first, and
/// nothing crosses from one tenant to another.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct TenantId(String);

impl TenantId {
    /// The tenant named `name`.
    pub fn new(name: impl Into<String>) -> Self {
        TenantId(name.into())
    }

    /// The tenant every request belongs to until API keys arrive.
    pub fn default_tenant() -> Self {
        TenantId::new(crate::DEFAULT_TENANT)
    }

    /// The tenant's name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl From<&str> for TenantId {
    fn from(name: &str) -> Self {
        TenantId::new(name)
    }
}

impl fmt::Display for TenantId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for TenantId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TenantId({:?})", self.0)
    }
}

/// A unique, time-ordered invocation id (48-bit milliseconds + 80 random bits).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct InvocationId(pub u128);

impl InvocationId {
    /// A fresh id for an invocation created now.
    pub fn generate() -> Self {
        let ms = crate::clock::now_ms() as u128 & ((1 << 48) - 1);
        let random: u128 = rand::rng().random::<u128>() & ((1 << 80) - 1);
        InvocationId((ms << 80) | random)
    }

    /// The smallest id of an invocation created at `ms` (ms since the Unix epoch) or later.
    pub fn first_at(ms: u64) -> Self {
        InvocationId((u128::from(ms) & ((1 << 48) - 1)) << 80)
    }
}

impl fmt::Display for InvocationId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut out = [0u8; 26];
        for (i, slot) in out.iter_mut().enumerate() {
            let shift = 125 - 5 * i as u32;
            *slot = CROCKFORD[((self.0 >> shift) & 0x1f) as usize];
        }
        // The 26 characters are ASCII from CROCKFORD.
        f.write_str(std::str::from_utf8(&out).map_err(|_| fmt::Error)?)
    }
}

impl fmt::Debug for InvocationId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "InvocationId({self})")
    }
}

/// Why a string is not an invocation id.
#[derive(Debug, thiserror::Error)]
#[error("`{0}` is not an invocation id (expected 26 characters of Crockford base32)")]
pub struct BadInvocationId(pub String);

impl FromStr for InvocationId {
    type Err = BadInvocationId;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || BadInvocationId(s.chars().take(64).collect());
        if s.len() != 26 {
            return Err(bad());
        }
        let mut value: u128 = 0;
        for (i, c) in s.bytes().enumerate() {
            let c = c.to_ascii_uppercase();
            let digit = CROCKFORD.iter().position(|&d| d == c).ok_or_else(bad)? as u128;
            if i == 0 && digit > 7 {
                return Err(bad());
            }
            value = (value << 5) | digit;
        }
        Ok(InvocationId(value))
    }
}

/// The sha256 of a component's bytes: its identity.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct ComponentHash(pub [u8; 32]);

impl ComponentHash {
    /// The hash of `bytes`.
    pub fn of(bytes: &[u8]) -> Self {
        ComponentHash(Sha256::digest(bytes).into())
    }

    /// Lowercase hex form.
    pub fn to_hex(&self) -> String {
        hex(&self.0)
    }
}

impl fmt::Display for ComponentHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl fmt::Debug for ComponentHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ComponentHash({})", &self.to_hex()[..12])
    }
}

/// Lowercase hex encoding of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    use fmt::Write;
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invocation_id_round_trips_through_text() {
        for _ in 0..100 {
            let id = InvocationId::generate();
            let text = id.to_string();
            assert_eq!(text.len(), 26);
            assert_eq!(text.parse::<InvocationId>().ok(), Some(id));
            assert_eq!(text.to_lowercase().parse::<InvocationId>().ok(), Some(id));
        }
    }

    #[test]
    fn invocation_ids_sort_by_creation_time() {
        let a = InvocationId::generate();
        std::thread::sleep(std::time::Duration::from_millis(2));
        let b = InvocationId::generate();
        assert!(a < b);
    }

    #[test]
    fn bad_invocation_ids_are_rejected() {
        for bad in [
            "",
            "abc",
            "ZZZZZZZZZZZZZZZZZZZZZZZZZZ",
            "0000000000000000000000000U",
        ] {
            assert!(bad.parse::<InvocationId>().is_err(), "{bad}");
        }
    }
}
