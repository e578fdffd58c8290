//! JSON views of tenants and keys (the admin routes), shared by the server and the CLI.

use serde::{Deserialize, Serialize};

use super::dto::rfc3339;
use crate::journal::{KeyRecord, KeyRole, Limits, Quotas, TenantRecord};

/// `POST /v1/tenants` body.
#[derive(Debug, Serialize, Deserialize)]
pub struct CreateTenantRequest {
    /// The tenant's name.
    pub name: String,
}

/// A tenant.
#[derive(Debug, Serialize, Deserialize)]
pub struct TenantView {
    /// Name.
    pub name: String,
    /// RFC 3339 time it was created.
    pub created_at: String,
}

impl From<&TenantRecord> for TenantView {
    fn from(t: &TenantRecord) -> Self {
        TenantView {
            name: t.name.to_string(),
            created_at: rfc3339(t.created_at_ms),
        }
    }
}

/// `GET /v1/tenants`.
#[derive(Debug, Serialize, Deserialize)]
pub struct TenantList {
    /// Every tenant, by name.
    pub tenants: Vec<TenantView>,
}

/// `POST /v1/keys` body: a key for `tenant`, or an admin key.
#[derive(Debug, Serialize, Deserialize)]
pub struct CreateKeyRequest {
    /// The tenant the key acts for; absent for an admin key.
    #[serde(default)]
    pub tenant: Option<String>,
    /// An admin key (then `tenant` must be absent).
    #[serde(default)]
    pub admin: bool,
}

/// A key, as listed: never the key itself.
#[derive(Debug, Serialize, Deserialize)]
pub struct KeyView {
    /// The key's id (12 hex digits of its hash).
    pub id: String,
    /// `admin` or `tenant`.
    pub role: String,
    /// Its tenant, for a tenant's key.
    pub tenant: Option<String>,
    /// RFC 3339 time it was created.
    pub created_at: String,
    /// RFC 3339 time it was revoked, if it was.
    pub revoked_at: Option<String>,
}

impl From<&KeyRecord> for KeyView {
    fn from(k: &KeyRecord) -> Self {
        let (role, tenant) = match &k.role {
            KeyRole::Admin => ("admin", None),
            KeyRole::Tenant(t) => ("tenant", Some(t.to_string())),
        };
        KeyView {
            id: k.id(),
            role: role.to_string(),
            tenant,
            created_at: rfc3339(k.created_at_ms),
            revoked_at: k.revoked_at_ms.map(rfc3339),
        }
    }
}

/// `GET /v1/keys`.
#[derive(Debug, Serialize, Deserialize)]
pub struct KeyList {
    /// Every key, revoked ones included.
    pub keys: Vec<KeyView>,
}

/// A key just made: the only time the key is shown.
#[derive(Debug, Serialize, Deserialize)]
pub struct NewKeyView {
    /// The key, to send as `Authorization: Bearer KEY`.
    pub key: String,
    /// What is listed of it.
    #[serde(flatten)]
    pub view: KeyView,
}

/// A tenant with its quotas: `GET /v1/tenants/{name}`, and the answer to setting them.
#[derive(Debug, Serialize, Deserialize)]
pub struct TenantDetail {
    /// The tenant.
    #[serde(flatten)]
    pub tenant: TenantView,
    /// The quotas set for it (`null`: the host's default).
    pub quotas: Quotas,
    /// What it runs under: its quotas, else the defaults.
    pub limits: Limits,
}
