//! A host's first start: an admin key and a `default` tenant with a key, written to files
//! only the service user can read, so that the quick start needs no setup and the CLI on
//! the same machine finds them.
//!
//! The key files are written (and synced) before the keys are stored: a crash in between
//! leaves files whose keys the next start replaces, never a stored admin key nobody has.

use std::io::Write;
use std::path::{Path, PathBuf};

use super::{AccessError, issue};
use crate::ids::TenantId;
use crate::journal::{KeyRole, TenantRecord};
use crate::storage::Access;

/// The file under the data directory holding the first admin key.
pub const ADMIN_KEY_FILE: &str = "admin.key";
/// The file under the data directory holding the first key of the `default` tenant.
pub const TENANT_KEY_FILE: &str = "default.key";

/// The keys a first start made, by where they were written.
#[derive(Debug)]
pub struct FirstStart {
    /// The admin key's file.
    pub admin: PathBuf,
    /// The `default` tenant's key file.
    pub tenant: PathBuf,
}

/// Why the first start's keys could not be made.
#[derive(Debug, thiserror::Error)]
pub enum FirstStartError {
    /// A key file could not be written.
    #[error("cannot write the key file {path}: {source}")]
    File {
        path: String,
        source: std::io::Error,
    },
    /// The store refused or failed.
    #[error(transparent)]
    Access(#[from] AccessError),
}

/// If no admin key exists yet: makes one and a `default` tenant with a key, writes them to
/// `data`'s key files (mode 0600) and stores them. `None` when the host has its keys.
pub async fn first_start(
    store: &dyn Access,
    data: &Path,
) -> Result<Option<FirstStart>, FirstStartError> {
    let keys = store.keys().map_err(AccessError::from)?;
    if keys.iter().any(|k| k.role == KeyRole::Admin) {
        return Ok(None);
    }
    let tenant = TenantId::default_tenant();
    let (admin_key, admin) = issue(KeyRole::Admin);
    let (tenant_key, tenant_record) = issue(KeyRole::Tenant(tenant.clone()));
    let paths = FirstStart {
        admin: data.join(ADMIN_KEY_FILE),
        tenant: data.join(TENANT_KEY_FILE),
    };
    write_private(&paths.admin, &admin_key)?;
    write_private(&paths.tenant, &tenant_key)?;
    if store.tenant(&tenant).map_err(AccessError::from)?.is_none() {
        store
            .create_tenant(TenantRecord {
                name: tenant,
                created_at_ms: crate::clock::now_ms(),
            })
            .await
            .map_err(AccessError::from)?;
    }
    store
        .create_key(tenant_record)
        .await
        .map_err(AccessError::from)?;
    // The admin key last: its presence is what says the first start is done.
    store.create_key(admin).await.map_err(AccessError::from)?;
    Ok(Some(paths))
}

/// Writes `key` to `path` readable by its owner only, replacing it whole or not at all.
fn write_private(path: &Path, key: &str) -> Result<(), FirstStartError> {
    use std::os::unix::fs::OpenOptionsExt;
    let failed = |source| FirstStartError::File {
        path: path.display().to_string(),
        source,
    };
    let temporary = path.with_extension("key.new");
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&temporary)
        .map_err(failed)?;
    file.write_all(format!("{key}\n").as_bytes())
        .and_then(|()| file.sync_all())
        .map_err(failed)?;
    std::fs::rename(&temporary, path).map_err(failed)?;
    if let Some(dir) = path.parent() {
        std::fs::File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(failed)?;
    }
    Ok(())
}
