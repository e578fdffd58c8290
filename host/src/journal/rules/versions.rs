//! What keeping versions writes: each deploy keeps its deployment as a version, an upgrade
//! moves an invocation onto another version's component once that replayed its journal, and
//! `gc` removes old versions nothing unfinished runs on, with the component bytes nothing
//! needs any more (`journal::versions` says what counts as needed).

use super::super::codec::encode;
use super::super::error::WriteError;
use super::super::history::{HistoryEvent, UpgradePlan};
use super::super::records::{Deployment, InvocationState};
use super::super::rows::{RowResult, Rows};
use super::super::versions::{needed_components, uses};
use super::{Applied, Txn, refuse};
use crate::ids::{InvocationId, TenantId};

impl<R: Rows + ?Sized> Txn<'_, R> {
    /// Makes `deployment` the current one of its name, and keeps it as a version.
    pub(super) fn put_version(&mut self, deployment: &Deployment) -> RowResult<()> {
        self.rows.put_deployment(deployment)?;
        self.rows.put_version(deployment)
    }

    /// Keeps `deployment` as a version if it is not kept yet.
    pub(super) fn keep_version(&mut self, deployment: &Deployment) -> RowResult<()> {
        let kept = self.rows.versions(Some(&deployment.tenant))?;
        if !kept
            .iter()
            .any(|d| d.name == deployment.name && d.version == deployment.version)
        {
            self.rows.put_version(deployment)?;
        }
        Ok(())
    }

    /// Moves unfinished `id` from `plan.from` onto `plan.to`, if it is as it was checked.
    pub(super) fn upgrade(
        &mut self,
        tenant: &TenantId,
        id: InvocationId,
        plan: &UpgradePlan,
    ) -> Applied {
        let Some(mut record) = self.rows.record(tenant, id)? else {
            return refuse(WriteError::NoSuchInvocation(id.to_string()));
        };
        if record.state == InvocationState::Moved {
            return self.refuse_moved(tenant, id);
        }
        if record.state.is_terminal() {
            return refuse(WriteError::InvocationFinished(id.to_string()));
        }
        let steps = plan.steps;
        let same_journal = (steps == 0 || self.rows.step_exists(id, steps - 1)?)
            && !self.rows.step_exists(id, steps)?;
        if record.component != plan.from || !same_journal {
            return refuse(WriteError::InvocationChanged(id.to_string()));
        }
        if !self.rows.has_component(&plan.to)? {
            return refuse(WriteError::NoSuchComponent(plan.to.to_string()));
        }
        let event = HistoryEvent::Upgraded {
            at_ms: self.now_ms,
            at_step: steps,
            from_component: plan.from,
            to_component: plan.to,
            to_version: plan.to_version,
        };
        let n = self.rows.history(id)?.len() as u32;
        self.rows.put_history(id, n, &encode(&event))?;
        record.component = plan.to;
        record.updated_at_ms = self.now_ms;
        let state = record.state;
        self.put_record(&record, Some(state))?;
        Ok(Ok(()))
    }

    /// Removes `tenant`'s old versions (of `name`, or of every name) that no unfinished
    /// invocation runs on, then the components they alone pointed at.
    pub(super) fn drop_versions(&mut self, tenant: &TenantId, name: Option<&str>) -> Applied {
        let kept = self.rows.versions(Some(tenant))?;
        let current = self.rows.deployments(Some(tenant))?;
        let unfinished = self.rows.unfinished(Some(tenant))?;
        let mut dropped = Vec::new();
        for version in uses(kept, &current, &unfinished) {
            if !version.removable() || name.is_some_and(|n| n != version.name) {
                continue;
            }
            if let Some(d) = version.deployment {
                self.rows.remove_version(tenant, &d.name, d.version)?;
                self.release_stored(tenant, d.size)?;
                dropped.push(d.component);
            }
        }
        if dropped.is_empty() {
            return Ok(Ok(()));
        }
        let (kept, current) = (self.rows.versions(None)?, self.rows.deployments(None)?);
        let unfinished = self.rows.unfinished(None)?;
        let needed = needed_components(&kept, &current, &unfinished);
        for hash in dropped {
            if !needed.contains(&hash) && self.rows.has_component(&hash)? {
                self.rows.remove_component(&hash)?;
            }
        }
        Ok(Ok(()))
    }
}
