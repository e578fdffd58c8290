//! Moving invocations between nodes: export to a bundle file, import one, migrate to another
//! node live, and decide the moves a crash left undecided.
//!
//! A move is decided by the receiving end only (see `journal::departure`): the sender records
//! that the invocation is leaving (it stops running it), sends the bundle, and then drops its
//! rows if the receiver answers that it owns the invocation, or takes it back if the receiver
//! answers that it refused the move — and a refusal is made durable on the receiver first,
//! so a copy of the bundle still in flight can never arrive after it. Without an answer the
//! move stays undecided, and the sender asks again (every few seconds, and at start) until
//! it gets one.

use std::sync::Arc;
use std::time::Duration;

use super::{Inner, InvokeError, Scheduler, executor};
use crate::cluster::{PeerError, Sent};
use crate::ids::{InvocationId, TenantId};
use crate::journal::{Bundle, BundleError, InvocationRecord, Phase, StoreError, WriteError};
use crate::runtime::ComponentError;

/// How often undecided moves are asked about again.
const RESOLVE_EVERY: Duration = Duration::from_secs(2);
/// How long a run is given to reach its next host call before it is stopped at once.
const YIELD_WITHIN: Duration = Duration::from_secs(10);
/// How many times a bundle is sent before the move is asked to be refused instead.
const SENDS: u32 = 3;

/// Why a move did not happen (or is not decided yet).
#[derive(Debug, thiserror::Error)]
pub enum MoveError {
    /// No such invocation here.
    #[error("invocation {0} not found")]
    NotFound(InvocationId),
    /// The bytes are not a bundle this host reads.
    #[error(transparent)]
    Bundle(#[from] BundleError),
    /// The bundle holds another tenant's invocation.
    #[error("the bundle holds an invocation of another tenant; import it with that tenant's key")]
    OtherTenant,
    /// The bundle's component does not load.
    #[error("the bundle's component is refused: {0}")]
    Component(#[from] ComponentError),
    /// The tenant's quotas refuse it here.
    #[error(transparent)]
    Admission(#[from] InvokeError),
    /// The write was refused (moved or moving already, linked, finished, exists…).
    #[error(transparent)]
    Refused(WriteError),
    /// A bundle without its component, which this node does not have (the sender sends it
    /// again with it; nothing is decided).
    #[error("this node does not have component {0}: send the bundle with it")]
    ComponentMissing(crate::ids::ComponentHash),
    /// This node is draining: it takes no new work.
    #[error("this node is draining: it takes no new invocations")]
    Draining,
    /// This node takes part in no moves.
    #[error(
        "this node has no cluster key: start every node with the same --cluster-key-file to move invocations between them"
    )]
    NoCluster,
    /// The target is not a node URL, or is this node.
    #[error("--to `{0}` is not another node's URL (expected e.g. http://10.0.0.2:7420)")]
    BadTarget(String),
    /// The other node refused the move; the invocation stays here, as it was.
    #[error("{to} refused the move: {reason}; the invocation stays here, as it was")]
    TargetRefused { to: String, reason: String },
    /// No answer: the invocation is leaving, owned by neither until the other node answers.
    #[error(
        "the move to {to} is undecided ({why}): the invocation runs nowhere until {to} answers; this host asks again every few seconds"
    )]
    Undecided { to: String, why: String },
    /// Storage failed.
    #[error(transparent)]
    Store(StoreError),
}

impl From<StoreError> for MoveError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::Write(
                err @ (WriteError::Moved { .. }
                | WriteError::Linked { .. }
                | WriteError::InvocationFinished(_)
                | WriteError::InvocationExists(_)
                | WriteError::NoSuchTenant(_)
                | WriteError::OverQuota(_)
                | WriteError::Arrived(_)
                | WriteError::ArrivalRefused(_)
                | WriteError::NotAllowed { .. }),
            ) => MoveError::Refused(err),
            err => MoveError::Store(err),
        }
    }
}

/// How a migration ended.
#[derive(Debug)]
pub struct Migrated {
    /// The invocation, as it left.
    pub record: InvocationRecord,
    /// The node that owns it now.
    pub to: String,
}

impl Scheduler {
    /// Exports unfinished invocation `id` as a bundle file's bytes: it stops running here
    /// (a running one at once, as for a pause) and is owned by whichever node imports the
    /// bundle — this one too, which takes it back. Exporting it again gives the same bundle.
    pub async fn export(&self, tenant: &TenantId, id: InvocationId) -> Result<Vec<u8>, MoveError> {
        let store = &self.inner.store;
        let move_id = match store.departure(tenant, id)? {
            Some(d) if d.to.is_empty() && d.phase == Phase::Leaving => d.move_id,
            _ => {
                let move_id = rand::random();
                self.leave(tenant, id, "", move_id).await?;
                move_id
            }
        };
        let bundle = self.bundle_of(tenant, id).await?;
        debug_assert_eq!(bundle.move_id, move_id);
        Ok(bundle.to_bytes())
    }

    /// Imports the bundle file `bytes` for `tenant` (the caller): this node owns the
    /// invocation from now on, and runs it (replaying its journal) or lets it wait on.
    pub async fn import(
        &self,
        tenant: &TenantId,
        bytes: &[u8],
    ) -> Result<InvocationRecord, MoveError> {
        let bundle = Bundle::from_bytes(bytes)?;
        if bundle.record.tenant != *tenant {
            return Err(MoveError::OtherTenant);
        }
        if bundle.component.is_empty() {
            return Err(MoveError::Bundle(BundleError::Inconsistent(
                "it has no component (only a node omits one, for another that has it)".into(),
            )));
        }
        let record = bundle.record.clone();
        self.arrive(bundle).await?;
        Ok(self
            .inner
            .store
            .invocation(tenant, record.id)?
            .unwrap_or(record))
    }

    /// Takes the bundle another node sends (`bytes`): `Ok` once this node owns its
    /// invocation (now, or since an earlier copy of the same move), else the refusal, made
    /// durable first so that this move never arrives later.
    pub async fn receive(&self, bytes: &[u8]) -> Result<(), MoveError> {
        let bundle = Bundle::from_bytes(bytes)?;
        let (move_id, tenant, id) = (
            bundle.move_id,
            bundle.record.tenant.clone(),
            bundle.record.id,
        );
        match self.arrive(bundle).await {
            Ok(()) | Err(MoveError::Refused(WriteError::Arrived(_))) => Ok(()),
            // Undecided: nothing is recorded, the sender sends again.
            Err(err @ (MoveError::Store(_) | MoveError::ComponentMissing(_))) => Err(err),
            Err(refused) => match self.refuse_arrival(move_id, &tenant, id).await? {
                true => Ok(()),
                false => Err(refused),
            },
        }
    }

    /// Refuses move `move_id` of `id` unless it arrived; returns whether it had arrived.
    pub async fn refuse_arrival(
        &self,
        move_id: u128,
        tenant: &TenantId,
        id: InvocationId,
    ) -> Result<bool, MoveError> {
        match self.inner.store.refuse_arrival(move_id, tenant, id).await {
            Ok(()) => Ok(false),
            Err(StoreError::Write(WriteError::Arrived(_))) => Ok(true),
            Err(err) => Err(err.into()),
        }
    }

    /// Moves unfinished invocation `id` to the node at `to`, live: it stops here (a running
    /// one at once, as for a pause), is sent, and runs there. Returns once `to` owns it; if
    /// `to` refuses, it stays here as it was.
    pub async fn migrate(
        &self,
        tenant: &TenantId,
        id: InvocationId,
        to: &str,
    ) -> Result<Migrated, MoveError> {
        let to = self.target(to)?;
        let to = to.as_str();
        let store = &self.inner.store;
        // A move to the same node left undecided is taken up again, once whoever decides it
        // now (the resolver) is done; a new move is this call's to decide from its start.
        let deciding = match store.departure(tenant, id)? {
            Some(d) if d.to == to && d.phase == Phase::Leaving => {
                Deciding::wait(&self.inner, d.move_id).await
            }
            _ => {
                let move_id = rand::random::<u128>();
                let deciding = Deciding::wait(&self.inner, move_id).await;
                self.leave(tenant, id, to, move_id).await?;
                deciding
            }
        };
        let record = store
            .invocation(tenant, id)?
            .ok_or(MoveError::NotFound(id))?;
        self.decide(tenant, id, Some(deciding)).await?;
        // Decided meanwhile by another (the resolver): as it was decided.
        match store.departure(tenant, id)? {
            Some(d) if d.phase == Phase::Left && d.to == to => {}
            Some(d) if d.phase == Phase::Leaving => {
                return Err(MoveError::Undecided {
                    to: to.to_string(),
                    why: "no answer yet".into(),
                });
            }
            _ => {
                return Err(MoveError::TargetRefused {
                    to: to.to_string(),
                    reason: "refused".into(),
                });
            }
        }
        Ok(Migrated {
            record,
            to: to.to_string(),
        })
    }

    /// `to` as a move's target: another node's URL, this node being in a cluster.
    pub(super) fn target(&self, to: &str) -> Result<String, MoveError> {
        let cluster = self.inner.peer.cluster();
        if !cluster.enabled() {
            return Err(MoveError::NoCluster);
        }
        let to = to.trim_end_matches('/');
        if !(to.starts_with("http://") || to.starts_with("https://")) || to == cluster.advertise {
            return Err(MoveError::BadTarget(to.to_string()));
        }
        Ok(to.to_string())
    }

    /// Decides the undecided moves of this node whose other end answers; left for later
    /// are those it cannot reach.
    pub async fn resolve_moves(&self) -> Result<usize, StoreError> {
        let leaving = self.inner.store.leaving()?;
        let mut decided = 0;
        for (tenant, id, departure) in leaving {
            if departure.to.is_empty() {
                continue;
            }
            if self.decide(&tenant, id, None).await.is_ok() {
                decided += 1;
            }
        }
        Ok(decided)
    }

    /// Starts the service that decides undecided moves (at once, then every few seconds).
    pub fn start_move_resolver(&self) {
        let weak = Arc::downgrade(&self.inner);
        tokio::spawn(async move {
            loop {
                let Some(inner) = weak.upgrade() else { break };
                let scheduler = Scheduler { inner };
                if let Err(err) = scheduler.resolve_moves().await {
                    tracing::warn!("cannot read the moves under way: {err}");
                }
                drop(scheduler);
                tokio::time::sleep(RESOLVE_EVERY).await;
            }
        });
    }

    /// Records that `id` leaves for `to` as move `move_id`, stopping a run of it in this
    /// process at its next host call first.
    async fn leave(
        &self,
        tenant: &TenantId,
        id: InvocationId,
        to: &str,
        move_id: u128,
    ) -> Result<(), MoveError> {
        if self.inner.store.invocation(tenant, id)?.is_none() {
            return Err(MoveError::NotFound(id));
        }
        // A run in this process stops at its next host call, with every step before it
        // journaled; its turn is free once it has. Held, the turn keeps another run from
        // starting before the departure is written (after it, none runs).
        let (turn, stopped) = executor::Turn::stopping(&self.inner, id, Some(YIELD_WITHIN)).await;
        let effects = match self.inner.store.leave(tenant, id, move_id, to).await {
            Ok(effects) => effects,
            Err(err) => {
                // Not leaving after all: a run stopped for the move runs again.
                if stopped {
                    drop(turn);
                    self.spawn(tenant.clone(), id);
                }
                return Err(match err {
                    StoreError::Write(WriteError::NoSuchInvocation(_)) => MoveError::NotFound(id),
                    err => err.into(),
                });
            }
        };
        // One that made no host call in time is stopped at once, as for a pause.
        self.inner.apply(effects);
        if turn.is_none() {
            drop(executor::Turn::take(&self.inner, id).await);
        }
        Ok(())
    }

    /// The bundle of leaving `id`.
    async fn bundle_of(&self, tenant: &TenantId, id: InvocationId) -> Result<Bundle, MoveError> {
        let advertise = &self.inner.peer.cluster().advertise;
        self.inner
            .store
            .bundle(tenant, id, advertise, crate::clock::now_ms())?
            .ok_or(MoveError::NotFound(id))
    }

    /// Drives leaving `id`'s move to a decision: sends the bundle (a few times), else asks
    /// the other end to refuse it; then drops or takes back the invocation as answered.
    /// One decision at a time per move in this process: with `held`, the caller decides it
    /// already; else a move being decided by another is left to it.
    async fn decide(
        &self,
        tenant: &TenantId,
        id: InvocationId,
        held: Option<Deciding>,
    ) -> Result<(), MoveError> {
        let store = &self.inner.store;
        let Some(departure) = store.departure(tenant, id)? else {
            return Err(MoveError::NotFound(id));
        };
        if departure.phase != Phase::Leaving || departure.to.is_empty() {
            return Ok(());
        }
        let (to, move_id) = (departure.to.clone(), departure.move_id);
        let _deciding = match held.filter(|d| d.move_id == move_id) {
            Some(held) => held,
            None => match Deciding::take(&self.inner, move_id) {
                Some(deciding) => deciding,
                None => {
                    return Err(MoveError::Undecided {
                        to,
                        why: "it is being decided already".into(),
                    });
                }
            },
        };
        let peer = &self.inner.peer;
        let mut bundle = self.bundle_of(tenant, id).await?;
        let known = (to.clone(), bundle.record.component);
        // A component the target is known to have is not sent again.
        let omitted = self
            .inner
            .known_components
            .lock()
            .is_ok_and(|k| k.contains(&known));
        let mut component = match omitted {
            true => Some(std::mem::take(&mut bundle.component)),
            false => None,
        };
        let mut bytes = bundle.to_bytes();
        let mut answer = Err(PeerError::NoKey);
        for attempt in 0..SENDS {
            answer = peer.send(&to, bytes.clone()).await;
            match &answer {
                Ok(_) | Err(PeerError::NoKey | PeerError::BadUrl(_)) => break,
                Err(PeerError::ComponentMissing) => {
                    if let Ok(mut k) = self.inner.known_components.lock() {
                        k.remove(&known);
                    }
                    if let Some(component) = component.take() {
                        bundle.component = component;
                        bytes = bundle.to_bytes();
                    }
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(200 << attempt)).await,
            }
        }
        if answer.is_ok()
            && let Ok(mut k) = self.inner.known_components.lock()
        {
            k.insert(known);
        }
        if answer.is_err() {
            answer = peer.refuse(&to, move_id, tenant, id).await;
        }
        match answer {
            Ok(Sent::Arrived) => {
                store.depart(tenant, id, move_id).await?;
                // Ends of its children that came while it was leaving go on to it now.
                self.inner.outbox_ready.notify_one();
                self.inner.notify(id);
                tracing::info!(invocation = %id, "moved to {to}");
                Ok(())
            }
            Ok(Sent::Refused(reason)) => {
                let effects = store.stay_home(tenant, id, move_id).await?;
                self.inner.apply(effects);
                self.inner.timers_changed.notify_one();
                Err(MoveError::TargetRefused { to, reason })
            }
            Err(err) => Err(MoveError::Undecided {
                to,
                why: err.to_string(),
            }),
        }
    }

    /// Owns `bundle`'s invocation here: within the tenant's quotas, with a component that
    /// loads.
    async fn arrive(&self, bundle: Bundle) -> Result<(), MoveError> {
        let store = &self.inner.store;
        if let Some(arrival) = store.arrival(bundle.move_id)? {
            return Err(MoveError::Refused(if arrival.arrived {
                WriteError::Arrived(bundle.move_id)
            } else {
                WriteError::ArrivalRefused(bundle.move_id)
            }));
        }
        let tenant = &bundle.record.tenant;
        if store.tenant(tenant)?.is_none() {
            return Err(MoveError::Refused(WriteError::NoSuchTenant(
                tenant.to_string(),
            )));
        }
        if self.inner.draining() {
            return Err(MoveError::Draining);
        }
        if !bundle.record.state.is_terminal() {
            self.admit(tenant, &bundle.record.input)?;
        }
        let hash = bundle.record.component;
        let component = match bundle.component.is_empty() {
            true => match store.component(&hash)? {
                Some(bytes) => Arc::new(bytes),
                None => return Err(MoveError::ComponentMissing(hash)),
            },
            false => Arc::new(bundle.component.clone()),
        };
        self.inner
            .components
            .get(hash, || async { Ok(component) })
            .await?;
        let effects = store.import(bundle).await?;
        self.inner.apply(effects);
        self.inner.timers_changed.notify_one();
        Ok(())
    }
}

/// A move being decided in this process: held while its decision is made.
struct Deciding {
    inner: Arc<Inner>,
    move_id: u128,
}

impl Deciding {
    /// Marks `move_id` as being decided, once no one else decides it.
    async fn wait(inner: &Arc<Inner>, move_id: u128) -> Deciding {
        loop {
            if let Some(deciding) = Deciding::take(inner, move_id) {
                return deciding;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Marks `move_id` as being decided, unless it is already.
    fn take(inner: &Arc<Inner>, move_id: u128) -> Option<Deciding> {
        let mut deciding = inner.deciding.lock().ok()?;
        deciding.insert(move_id).then(|| Deciding {
            inner: inner.clone(),
            move_id,
        })
    }
}

impl Drop for Deciding {
    fn drop(&mut self) {
        if let Ok(mut deciding) = self.inner.deciding.lock() {
            deciding.remove(&self.move_id);
        }
    }
}
