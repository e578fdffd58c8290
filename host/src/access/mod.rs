//! Who is calling: API keys issued, checked and revoked, tenants created, and the keys of a
//! host's first start.
//!
//! A key is `rpk_` and 52 base32 characters (32 random bytes). It is returned once, when it
//! is made; the store keeps its sha256 only (`journal::KeyRecord`). Every request is checked
//! against the store, so a revocation holds from the next request on.

mod bootstrap;

pub use bootstrap::{ADMIN_KEY_FILE, FirstStart, FirstStartError, TENANT_KEY_FILE, first_start};

use rand::Rng;

use crate::ids::TenantId;
use crate::journal::{KeyRecord, KeyRole, StoreError, TenantRecord, key_hash, same_hash};
use crate::storage::Access;

/// What every key starts with, so that a leaked one is recognisable (and scannable).
pub const KEY_PREFIX: &str = "rpk_";

/// Who a request comes from, once its key is checked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Caller {
    /// The holder of an admin key.
    Admin,
    /// The holder of a key of this tenant.
    Tenant(TenantId),
}

/// Why a request's key is not accepted.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// No `Authorization` header.
    #[error("this request needs an API key: send `Authorization: Bearer KEY`")]
    Missing,
    /// An `Authorization` header that is not `Bearer` and a key.
    #[error(
        "the Authorization header must be `Bearer KEY` with a key starting with `{KEY_PREFIX}`"
    )]
    Malformed,
    /// A key this host did not issue.
    #[error("the API key is not valid")]
    Unknown,
    /// A key that was revoked.
    #[error("the API key {0} was revoked")]
    Revoked(String),
    /// The store could not be read.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Why a tenant or key could not be made or revoked.
#[derive(Debug, thiserror::Error)]
pub enum AccessError {
    /// A tenant name the host cannot address.
    #[error(
        "`{0}` is not a valid tenant name: 1 to 128 characters of letters, digits, `_` and `-`"
    )]
    BadName(String),
    /// No key has this id.
    #[error("no key has the id `{0}` (ids are the 12 hex digits `reprise key ls` shows)")]
    NoSuchKey(String),
    /// The store refused or failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A new random key.
fn new_key() -> String {
    let bytes: [u8; 32] = rand::rng().random();
    let mut out = String::with_capacity(KEY_PREFIX.len() + 52);
    out.push_str(KEY_PREFIX);
    // 256 bits in 5-bit digits, lower-case Crockford base32.
    const DIGITS: &[u8; 32] = b"0123456789abcdefghjkmnpqrstvwxyz";
    let mut acc: u32 = 0;
    let mut bits = 0;
    for byte in bytes {
        acc = (acc << 8) | u32::from(byte);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(DIGITS[((acc >> bits) & 31) as usize] as char);
        }
    }
    if bits > 0 {
        out.push(DIGITS[((acc << (5 - bits)) & 31) as usize] as char);
    }
    out
}

/// A new key with `role` and its record, not stored yet.
fn issue(role: KeyRole) -> (String, KeyRecord) {
    let key = new_key();
    let record = KeyRecord {
        hash: key_hash(&key),
        role,
        created_at_ms: crate::clock::now_ms(),
        revoked_at_ms: None,
    };
    (key, record)
}

/// Makes and durably stores a new key with `role`; returns the key (shown only now) and its
/// record.
pub async fn create_key(
    store: &dyn Access,
    role: KeyRole,
) -> Result<(String, KeyRecord), AccessError> {
    let (key, record) = issue(role);
    store.create_key(record.clone()).await?;
    Ok((key, record))
}

/// Durably creates tenant `name` and a first key for it; returns the key and its record.
pub async fn create_tenant(
    store: &dyn Access,
    name: &str,
) -> Result<(String, KeyRecord), AccessError> {
    if !crate::names::valid(name) {
        return Err(AccessError::BadName(name.chars().take(200).collect()));
    }
    let tenant = TenantId::new(name);
    store
        .create_tenant(TenantRecord {
            name: tenant.clone(),
            created_at_ms: crate::clock::now_ms(),
        })
        .await?;
    create_key(store, KeyRole::Tenant(tenant)).await
}

/// Durably revokes the key whose id is `id`; returns it as stored now (revoked).
pub async fn revoke_key(store: &dyn Access, id: &str) -> Result<KeyRecord, AccessError> {
    let missing = || AccessError::NoSuchKey(id.chars().take(64).collect());
    let key = store
        .keys()?
        .into_iter()
        .find(|k| k.id() == id)
        .ok_or_else(missing)?;
    store.revoke_key(key.hash).await?;
    store.key(&key.hash)?.ok_or_else(missing)
}

/// Who sends `authorization` (the value of a request's `Authorization` header, if any).
pub fn authenticate(store: &dyn Access, authorization: Option<&[u8]>) -> Result<Caller, AuthError> {
    let value = authorization.ok_or(AuthError::Missing)?;
    let key = std::str::from_utf8(value)
        .ok()
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .filter(|k| k.starts_with(KEY_PREFIX))
        .ok_or(AuthError::Malformed)?;
    let hash = key_hash(key);
    let record = store.key(&hash)?.ok_or(AuthError::Unknown)?;
    if !same_hash(&record.hash, &hash) {
        return Err(AuthError::Unknown);
    }
    if record.revoked_at_ms.is_some() {
        return Err(AuthError::Revoked(record.id()));
    }
    Ok(match record.role {
        KeyRole::Admin => Caller::Admin,
        KeyRole::Tenant(tenant) => Caller::Tenant(tenant),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_random_and_shaped_alike() {
        let (a, b) = (new_key(), new_key());
        assert_ne!(a, b);
        assert_eq!(a.len(), KEY_PREFIX.len() + 52);
        assert!(a.starts_with(KEY_PREFIX));
        assert!(
            a[KEY_PREFIX.len()..]
                .bytes()
                .all(|c| c.is_ascii_alphanumeric())
        );
    }
}
