//! JSON views of tenants and keys (the admin routes), shared by the server and the CLI.

use serde::{Deserialize, Serialize};

use super::dto::rfc3339;
use crate::journal::{
    AllowedHost, BadHost, EgressRules, KeyRecord, KeyRole, Limits, Quotas, TenantRecord,
};

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
    /// Its egress rules, if an operator set any.
    #[serde(default)]
    pub egress: Option<EgressRulesView>,
    /// The bytes it stores now (what `stored_bytes` counts).
    #[serde(default)]
    pub stored_bytes: u64,
}

/// Egress rules as the API takes and shows them: `PUT /v1/tenants/{name}/egress` and
/// `PUT /v1/deployments/{name}/egress`.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EgressRulesView {
    /// Hosts allowed: names, `*.suffix` wildcards and address ranges; none: every host.
    #[serde(default)]
    pub hosts: Vec<String>,
    /// Ports allowed; none: every port.
    #[serde(default)]
    pub ports: Vec<u16>,
}

/// The egress rules of a tenant or a deployment, if set.
#[derive(Debug, Serialize, Deserialize)]
pub struct EgressAnswer {
    /// The rules; `null` when none are set (only the host's policy applies).
    pub egress: Option<EgressRulesView>,
}

/// The most hosts, and the most ports, one set of rules lists.
pub const MAX_EGRESS_ENTRIES: usize = 256;

/// Why egress rules were refused.
#[derive(Debug, thiserror::Error)]
pub enum BadEgress {
    /// A host that does not parse.
    #[error("`hosts`: {0}")]
    Host(#[from] BadHost),
    /// Port 0.
    #[error("`ports`: 0 is not a port (expected 1 to 65535)")]
    PortZero,
    /// Too many entries.
    #[error("`{0}` lists more than {MAX_EGRESS_ENTRIES} entries")]
    TooMany(&'static str),
}

impl TryFrom<EgressRulesView> for EgressRules {
    type Error = BadEgress;

    fn try_from(view: EgressRulesView) -> Result<Self, BadEgress> {
        if view.hosts.len() > MAX_EGRESS_ENTRIES {
            return Err(BadEgress::TooMany("hosts"));
        }
        if view.ports.len() > MAX_EGRESS_ENTRIES {
            return Err(BadEgress::TooMany("ports"));
        }
        if view.ports.contains(&0) {
            return Err(BadEgress::PortZero);
        }
        let hosts = view
            .hosts
            .iter()
            .map(|h| h.parse::<AllowedHost>())
            .collect::<Result<_, _>>()?;
        Ok(EgressRules {
            hosts,
            ports: view.ports,
        })
    }
}

impl From<&EgressRules> for EgressRulesView {
    fn from(rules: &EgressRules) -> Self {
        EgressRulesView {
            hosts: rules.hosts.iter().map(ToString::to_string).collect(),
            ports: rules.ports.clone(),
        }
    }
}
