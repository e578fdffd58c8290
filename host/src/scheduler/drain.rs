//! Draining a node: moving every unfinished invocation of every tenant to another node, a
//! few at a time, while the node takes no new work.
//!
//! A drain runs in the background; its progress is kept in memory and read by
//! `GET /v1/drain`. It passes over the node's unfinished invocations until a pass moves none,
//! so that what woke, dispatched or resumed meanwhile goes too. The node refuses new
//! invocations and imports from the start of a drain until the process stops (a restart ends
//! the drain: undecided moves are still decided, the rest stays).

use serde::Serialize;
use tokio::task::JoinSet;

use super::{Inner, MoveError, Scheduler};
use crate::ids::{InvocationId, TenantId};
use crate::journal::{InvocationState, StoreError};

/// Migrations a drain runs at once.
const AT_ONCE: usize = 32;
/// Invocations read per page of a pass.
const PAGE: usize = 1000;
/// Refusals a drain keeps to show.
const KEPT_REFUSALS: usize = 20;

/// Where a drain is.
#[derive(Clone, Debug, Default, Serialize, serde::Deserialize)]
pub struct DrainProgress {
    /// The node it moves to.
    pub to: String,
    /// Moved so far.
    pub moved: u64,
    /// Left here (refused or undecided) by the last pass.
    pub skipped: u64,
    /// The last pass's first refusals: (invocation, why).
    pub refusals: Vec<(String, String)>,
    /// Unfinished invocations found in the last pass.
    pub found: u64,
    /// Whether it has ended.
    pub done: bool,
}

/// Why a drain does not start.
#[derive(Debug, thiserror::Error)]
pub enum DrainError {
    /// A drain is under way.
    #[error("a drain to {0} is under way")]
    Running(String),
    /// The target is not usable, or the node is not in a cluster.
    #[error(transparent)]
    Move(#[from] MoveError),
}

impl Scheduler {
    /// Starts moving every unfinished invocation to the node at `to`; from now on this node
    /// takes no new invocation or import.
    pub fn drain(&self, to: &str) -> Result<DrainProgress, DrainError> {
        let to = self.target(to)?;
        let progress = {
            let Ok(mut drain) = self.inner.drain.lock() else {
                return Err(DrainError::Running(to));
            };
            if let Some(running) = drain.as_ref().filter(|d| !d.done) {
                return Err(DrainError::Running(running.to.clone()));
            }
            let progress = DrainProgress {
                to: to.clone(),
                ..DrainProgress::default()
            };
            *drain = Some(progress.clone());
            progress
        };
        let scheduler = self.clone();
        tokio::spawn(async move {
            if let Err(err) = scheduler.drain_passes(&to).await {
                tracing::error!("the drain to {to} stopped: {err}");
            }
            scheduler.inner.update_drain(|p| p.done = true);
        });
        Ok(progress)
    }

    /// Where the drain of this node is (`None`: none was started).
    pub fn drain_progress(&self) -> Option<DrainProgress> {
        self.inner.drain.lock().ok().and_then(|d| d.clone())
    }

    /// Whether this node is draining (and so takes no new work).
    pub fn draining(&self) -> bool {
        self.inner.draining()
    }

    /// Passes over the unfinished invocations until one moves none.
    async fn drain_passes(&self, to: &str) -> Result<(), StoreError> {
        loop {
            let unfinished = self.unfinished()?;
            // What a pass leaves here is counted anew: the last pass's is what stays.
            self.inner.update_drain(|p| {
                p.found = unfinished.len() as u64;
                p.skipped = 0;
                p.refusals.clear();
            });
            let mut moved = 0u64;
            let mut running = JoinSet::new();
            for (tenant, id) in unfinished {
                while running.len() >= AT_ONCE {
                    moved += u64::from(
                        running
                            .join_next()
                            .await
                            .unwrap_or(Ok(false))
                            .unwrap_or(false),
                    );
                }
                let (scheduler, to) = (self.clone(), to.to_string());
                running.spawn(async move { scheduler.drain_one(&tenant, id, &to).await });
            }
            while let Some(done) = running.join_next().await {
                moved += u64::from(done.unwrap_or(false));
            }
            if moved == 0 {
                return Ok(());
            }
        }
    }

    /// Moves one invocation; returns whether it moved.
    async fn drain_one(&self, tenant: &TenantId, id: InvocationId, to: &str) -> bool {
        match self.migrate(tenant, id, to).await {
            Ok(_) => {
                self.inner.update_drain(|p| p.moved += 1);
                true
            }
            // Finished meanwhile: nothing to move.
            Err(MoveError::NotFound(_))
            | Err(MoveError::Refused(crate::journal::WriteError::InvocationFinished(_))) => false,
            Err(err) => {
                self.inner.update_drain(|p| {
                    p.skipped += 1;
                    if p.refusals.len() < KEPT_REFUSALS {
                        p.refusals.push((id.to_string(), err.to_string()));
                    }
                });
                false
            }
        }
    }

    /// Every unfinished invocation of every tenant that has not moved.
    fn unfinished(&self) -> Result<Vec<(TenantId, InvocationId)>, StoreError> {
        let store = &self.inner.store;
        let mut out = Vec::new();
        for tenant in store.tenants()? {
            let keep = |r: &crate::journal::InvocationRecord| {
                !r.state.is_terminal() && r.state != InvocationState::Moved
            };
            let mut before = None;
            loop {
                let page = store.invocations(&tenant.name, &keep, before, PAGE)?;
                before = page.last().map(|r| r.id);
                let full = page.len() == PAGE;
                out.extend(page.into_iter().map(|r| (r.tenant, r.id)));
                if !full {
                    break;
                }
            }
        }
        Ok(out)
    }
}

impl Inner {
    /// Whether a drain has started (it goes on until the process stops).
    pub(super) fn draining(&self) -> bool {
        self.drain.lock().map(|d| d.is_some()).unwrap_or(true)
    }

    fn update_drain(&self, f: impl FnOnce(&mut DrainProgress)) {
        if let Ok(mut drain) = self.drain.lock()
            && let Some(progress) = drain.as_mut()
        {
            f(progress);
        }
    }
}

/// The drain of a node, once one started (in `Inner`).
pub(super) type DrainState = std::sync::Mutex<Option<DrainProgress>>;
