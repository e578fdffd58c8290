//! Versions and upgrades: what runs on each version of a deployment, moving an unfinished
//! invocation onto another version once that version has replayed its journal identically,
//! and removing old versions nothing unfinished runs on.
//!
//! An invocation stays pinned to the component it started on, whatever is deployed later;
//! only an upgrade moves it. Before anything is written, the new component replays every
//! step of the journal in a store of its own that journals nothing (as a rewind checks); a
//! step it asks for differently is a determinism violation naming the step, and nothing
//! changes. A running invocation is stopped at its next host call first and held there, so
//! the journal that was checked is the one it goes on from.

use super::{RewindError, Scheduler, executor};
use crate::ids::{ComponentHash, InvocationId, TenantId};
use crate::journal::{
    InvocationRecord, InvocationState, StoreError, UpgradePlan, VersionUse, WriteError,
};
use crate::target::TargetError;

/// Why an upgrade was refused; nothing was changed.
#[derive(Debug, thiserror::Error)]
pub enum UpgradeError {
    /// No invocation of the tenant has this id.
    #[error("no invocation {0}")]
    NotFound(InvocationId),
    /// A finished invocation runs no more code.
    #[error("invocation {0} is {1}: only an unfinished invocation can be upgraded")]
    Finished(InvocationId, &'static str),
    /// It left this node.
    #[error("invocation {id} moved to {to}: upgrade it there")]
    Moved { id: InvocationId, to: String },
    /// Its deployment has no such version.
    #[error(
        "deployment `{name}` has no version {version}; its versions: {known} (see `reprise deployments {name}`)"
    )]
    NoSuchVersion {
        name: String,
        version: u32,
        known: String,
    },
    /// It runs on that version's component already.
    #[error("invocation {id} runs on version {version} of `{name}` already")]
    AlreadyOn {
        id: InvocationId,
        name: String,
        version: u32,
    },
    /// The new version does not replay its journal (the message names the step).
    #[error(transparent)]
    Replay(#[from] RewindError),
    /// The invocation changed while it was checked.
    #[error("invocation {0} changed while it was being checked; try again")]
    Changed(InvocationId),
    /// Storage failed; nothing was changed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// An upgrade made.
#[derive(Clone, Debug)]
pub struct Upgraded {
    /// The invocation's record after it.
    pub record: InvocationRecord,
    /// The component it ran on.
    pub from: ComponentHash,
    /// The version it runs on now.
    pub to_version: u32,
    /// How many steps the new version replayed.
    pub steps: u32,
}

impl Scheduler {
    /// The versions of `tenant`'s deployment `name` (newest first), with how many
    /// unfinished invocations run on each.
    pub fn versions(
        &self,
        tenant: &TenantId,
        name: &str,
    ) -> Result<Vec<VersionUse>, VersionsError> {
        let versions: Vec<VersionUse> = self
            .store()
            .versions(tenant)?
            .into_iter()
            .filter(|v| v.name == name)
            .collect();
        if versions.is_empty() {
            return Err(TargetError::UnknownDeployment(name.to_string()).into());
        }
        Ok(versions)
    }

    /// Removes (or, `dry_run`, only lists) `tenant`'s old versions that no unfinished
    /// invocation runs on, with the component bytes nothing needs any more; returns them.
    pub async fn gc_versions(
        &self,
        tenant: &TenantId,
        dry_run: bool,
    ) -> Result<Vec<VersionUse>, StoreError> {
        let store = self.store();
        let removable = |all: Vec<VersionUse>| -> Vec<VersionUse> {
            all.into_iter().filter(VersionUse::removable).collect()
        };
        let before = removable(store.versions(tenant)?);
        if dry_run || before.is_empty() {
            return Ok(before);
        }
        store.drop_versions(tenant, None).await?;
        let kept = store.versions(tenant)?;
        let removed: Vec<VersionUse> = before
            .into_iter()
            .filter(|v| {
                !kept
                    .iter()
                    .any(|k| k.name == v.name && k.version == v.version)
            })
            .collect();
        for version in &removed {
            if store.component(&version.component)?.is_none() {
                self.inner.components.forget(&version.component);
            }
        }
        Ok(removed)
    }

    /// Moves unfinished invocation `id` onto version `to` of its deployment (the current
    /// one if `None`), once that version has replayed its whole journal identically.
    pub async fn upgrade(
        &self,
        tenant: &TenantId,
        id: InvocationId,
        to: Option<u32>,
    ) -> Result<Upgraded, UpgradeError> {
        let record = self.upgradable(tenant, id)?;
        let name = record.deployment.clone();
        let versions = self
            .store()
            .versions(tenant)?
            .into_iter()
            .filter(|v| v.name == name && v.deployment.is_some());
        let versions: Vec<VersionUse> = versions.collect();
        let target = match to {
            Some(n) => versions.iter().find(|v| v.version == Some(n)),
            None => versions.iter().find(|v| v.current),
        };
        let Some(target) = target.cloned() else {
            let known: Vec<String> = versions
                .iter()
                .filter_map(|v| v.version.map(|n| n.to_string()))
                .collect();
            return Err(UpgradeError::NoSuchVersion {
                name,
                version: to.unwrap_or_default(),
                known: if known.is_empty() {
                    "none".into()
                } else {
                    known.join(", ")
                },
            });
        };
        let to_version = target.version.unwrap_or_default();
        if target.component == record.component {
            return Err(UpgradeError::AlreadyOn {
                id,
                name,
                version: to_version,
            });
        }
        // Held, the turn keeps a run from starting (or going on) while the journal is
        // checked and the upgrade written.
        let (turn, stopped) = executor::Turn::stopping(&self.inner, id, None).await;
        let result = self
            .upgrade_held(tenant, &record, target.component, to_version)
            .await;
        drop(turn);
        if stopped {
            self.spawn(tenant.clone(), id);
        }
        result
    }

    /// The upgrade of `record` onto `to` (version `to_version`), its turn held.
    async fn upgrade_held(
        &self,
        tenant: &TenantId,
        record: &InvocationRecord,
        to: ComponentHash,
        to_version: u32,
    ) -> Result<Upgraded, UpgradeError> {
        let id = record.id;
        let now = self.upgradable(tenant, id)?;
        if now.component != record.component {
            return Err(UpgradeError::Changed(id));
        }
        let journal = self.store().recorded(id)?;
        let steps = journal.remaining() as u32;
        self.check_replay(&now, to, journal, steps).await?;
        let plan = UpgradePlan {
            steps,
            from: now.component,
            to,
            to_version,
        };
        match self.store().upgrade(tenant, id, plan).await {
            Ok(()) => {}
            Err(StoreError::Write(WriteError::InvocationChanged(_))) => {
                return Err(UpgradeError::Changed(id));
            }
            Err(StoreError::Write(WriteError::InvocationFinished(_))) => {
                return Err(UpgradeError::Finished(id, "finished"));
            }
            Err(err) => return Err(err.into()),
        }
        Ok(Upgraded {
            record: self.upgradable(tenant, id)?,
            from: now.component,
            to_version,
            steps,
        })
    }

    /// The record of `tenant`'s invocation `id`, if it can be upgraded.
    fn upgradable(
        &self,
        tenant: &TenantId,
        id: InvocationId,
    ) -> Result<InvocationRecord, UpgradeError> {
        let record = self
            .store()
            .invocation(tenant, id)?
            .ok_or(UpgradeError::NotFound(id))?;
        if record.state.is_terminal() {
            return Err(UpgradeError::Finished(id, record.state.as_str()));
        }
        if record.state == InvocationState::Moved {
            let to = self
                .store()
                .departure(tenant, id)?
                .map(|d| d.to)
                .unwrap_or_default();
            return Err(UpgradeError::Moved { id, to });
        }
        Ok(record)
    }
}

/// Why a deployment's versions cannot be listed.
#[derive(Debug, thiserror::Error)]
pub enum VersionsError {
    /// The tenant has no deployment of that name.
    #[error(transparent)]
    Target(#[from] TargetError),
    /// Storage failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}
