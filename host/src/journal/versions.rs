//! The versions deployed under a name and what still runs on each: which unfinished
//! invocations are pinned to which version, and which versions `gc` may remove.
//!
//! Every deploy keeps its deployment as a version row (tenant, name, version) besides making
//! it the current one; a store written before versions were kept has only the current one,
//! which counts as kept. An invocation is pinned to a component, not a version: it counts
//! under the newest version of its own deployment with that component, else under the newest
//! of its tenant's with it, else under none (`version: None`, code deployed before versions
//! were kept). Component bytes are needed while any kept version, current deployment or
//! unfinished invocation of any tenant points at them; that is what [`needed_components`]
//! gives.

use std::collections::{BTreeMap, BTreeSet};

use super::records::{Deployment, InvocationRecord};
use crate::ids::ComponentHash;

/// One version of a deployment name, and how many unfinished invocations run on it.
#[derive(Clone, Debug, PartialEq)]
pub struct VersionUse {
    /// The deployment name.
    pub name: String,
    /// The version, or `None` for code pinned by invocations but deployed before versions
    /// were kept.
    pub version: Option<u32>,
    /// Its component.
    pub component: ComponentHash,
    /// The deployment as it was deployed (`None` with `version: None`).
    pub deployment: Option<Deployment>,
    /// Whether it is the one the name points at now.
    pub current: bool,
    /// Unfinished invocations pinned to it.
    pub unfinished: u64,
}

impl VersionUse {
    /// Whether `gc` may remove it: an old version nothing unfinished runs on.
    pub fn removable(&self) -> bool {
        self.version.is_some() && !self.current && self.unfinished == 0
    }
}

/// The versions of one tenant's names (`kept`, with `current` the deployments it has now)
/// and the counts of its `unfinished` invocations on each, by name then newest version first.
pub fn uses(
    kept: Vec<Deployment>,
    current: &[Deployment],
    unfinished: &[InvocationRecord],
) -> Vec<VersionUse> {
    let mut versions: BTreeMap<(String, u32), Deployment> = kept
        .into_iter()
        .map(|d| ((d.name.clone(), d.version), d))
        .collect();
    for d in current {
        versions
            .entry((d.name.clone(), d.version))
            .or_insert_with(|| d.clone());
    }
    let current: BTreeSet<(&str, u32)> = current
        .iter()
        .map(|d| (d.name.as_str(), d.version))
        .collect();
    let mut counts: BTreeMap<(String, Option<u32>, ComponentHash), u64> = versions
        .iter()
        .map(|((name, version), d)| ((name.clone(), Some(*version), d.component), 0))
        .collect();
    for record in unfinished {
        let newest = |same_name: bool| {
            versions
                .iter()
                .rev()
                .find(|((name, _), d)| {
                    d.component == record.component && (!same_name || *name == record.deployment)
                })
                .map(|((name, version), _)| (name.clone(), Some(*version)))
        };
        let (name, version) = newest(true)
            .or_else(|| newest(false))
            .unwrap_or_else(|| (record.deployment.clone(), None));
        *counts.entry((name, version, record.component)).or_default() += 1;
    }
    let mut out: Vec<VersionUse> = counts
        .into_iter()
        .map(|((name, version, component), unfinished)| {
            let deployment = version.and_then(|v| versions.get(&(name.clone(), v)).cloned());
            VersionUse {
                current: version.is_some_and(|v| current.contains(&(name.as_str(), v))),
                name,
                version,
                component,
                deployment,
                unfinished,
            }
        })
        .collect();
    out.sort_by(|a, b| a.name.cmp(&b.name).then(b.version.cmp(&a.version)));
    out
}

/// The components still needed by `kept` versions, `current` deployments and `unfinished`
/// invocations (of every tenant).
pub fn needed_components<'a>(
    kept: impl IntoIterator<Item = &'a Deployment>,
    current: impl IntoIterator<Item = &'a Deployment>,
    unfinished: impl IntoIterator<Item = &'a InvocationRecord>,
) -> BTreeSet<ComponentHash> {
    kept.into_iter()
        .chain(current)
        .map(|d| d.component)
        .chain(unfinished.into_iter().map(|r| r.component))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::TenantId;
    use crate::journal::InvocationState;

    fn deployment(name: &str, version: u32, component: u8) -> Deployment {
        Deployment {
            tenant: TenantId::new("acme"),
            name: name.into(),
            component: ComponentHash([component; 32]),
            functions: vec!["run".into()],
            version,
            size: 10,
            deployed_at_ms: u64::from(version),
            policy: Default::default(),
        }
    }

    fn pinned(deployment: &str, component: u8) -> InvocationRecord {
        let mut record = InvocationRecord::pending(
            &TenantId::new("acme"),
            deployment,
            ComponentHash([component; 32]),
            "run".into(),
            b"null".to_vec(),
        );
        record.state = InvocationState::Suspended;
        record
    }

    #[test]
    fn invocations_count_under_the_newest_version_of_their_code_and_old_ones_are_removable() {
        // crm: v1 (code 1), v2 (code 2), v3 (code 1 again, current); v4 of another name.
        let kept = vec![
            deployment("crm", 1, 1),
            deployment("crm", 2, 2),
            deployment("crm", 3, 1),
        ];
        let current = [deployment("crm", 3, 1), deployment("mail", 4, 4)];
        let unfinished = [
            pinned("crm", 1),
            pinned("crm", 2),
            pinned("crm", 2),
            pinned("mail", 2),
            pinned("crm", 9),
        ];
        let uses = uses(kept, &current, &unfinished);
        let rows: Vec<(&str, Option<u32>, bool, u64, bool)> = uses
            .iter()
            .map(|u| {
                (
                    u.name.as_str(),
                    u.version,
                    u.current,
                    u.unfinished,
                    u.removable(),
                )
            })
            .collect();
        assert_eq!(
            rows,
            [
                ("crm", Some(3), true, 1, false),
                ("crm", Some(2), false, 3, false),
                ("crm", Some(1), false, 0, true),
                ("crm", None, false, 1, false),
                ("mail", Some(4), true, 0, false),
            ]
        );
        let needed = needed_components(&[], &current, &unfinished[..2]);
        assert_eq!(
            needed,
            [1, 2, 4]
                .map(|c| ComponentHash([c; 32]))
                .into_iter()
                .collect()
        );
    }
}
