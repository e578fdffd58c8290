//! The host's execution slots, shared fairly across tenants.
//!
//! - A tenant holds at most seven eighths of the slots (all but one, with fewer than eight):
//!   the rest stay free for other tenants, so one that floods the host cannot make another
//!   wait for a slot to come free.
//! - When invocations wait, a freed slot goes to the tenants in turn (round robin), each
//!   tenant's waiters in arrival order; a tenant at its share is passed over.
//!
//! Invariant: a free slot means no waiter could take it (every waiting tenant is at its share).

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::oneshot;

use crate::ids::TenantId;

/// Execution slots, granted round robin across tenants, each tenant within its share.
pub struct FairSlots {
    /// Most slots one tenant holds.
    share: usize,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    /// Slots nobody holds.
    free: usize,
    /// Slots held, per tenant holding any.
    held: HashMap<TenantId, usize>,
    /// Per tenant, its waiters in arrival order.
    queues: HashMap<TenantId, VecDeque<oneshot::Sender<Slot>>>,
    /// Tenants with waiters, in the order their next waiter is served.
    turn: VecDeque<TenantId>,
}

impl State {
    fn held(&self, tenant: &TenantId) -> usize {
        self.held.get(tenant).copied().unwrap_or(0)
    }

    fn take(&mut self, tenant: &TenantId) {
        // No clone of the name when the tenant holds slots already (the common case).
        match self.held.get_mut(tenant) {
            Some(n) => *n += 1,
            None => {
                self.held.insert(tenant.clone(), 1);
            }
        }
    }

    fn give_back(&mut self, tenant: &TenantId) {
        if let Some(n) = self.held.get_mut(tenant) {
            *n -= 1;
            if *n == 0 {
                self.held.remove(tenant);
            }
        }
    }
}

/// A held slot; dropping it frees it (to the next waiter in turn, if any).
pub struct Slot {
    /// `None` once disarmed: a slot that was never handed over frees nothing.
    slots: Option<Arc<FairSlots>>,
    tenant: TenantId,
}

impl Drop for Slot {
    fn drop(&mut self) {
        if let Some(slots) = self.slots.take() {
            slots.release(&self.tenant);
        }
    }
}

impl FairSlots {
    /// `slots` slots (at least one).
    pub fn new(slots: usize) -> Arc<Self> {
        let slots = slots.max(1);
        let share = if slots >= 8 {
            slots - slots / 8
        } else {
            (slots - 1).max(1)
        };
        Arc::new(FairSlots {
            share,
            state: Mutex::new(State {
                free: slots,
                ..State::default()
            }),
        })
    }

    fn slot(self: &Arc<Self>, tenant: &TenantId) -> Slot {
        Slot {
            slots: Some(self.clone()),
            tenant: tenant.clone(),
        }
    }

    /// Waits for a slot for an invocation of `tenant`.
    pub async fn acquire(self: &Arc<Self>, tenant: &TenantId) -> Slot {
        let waiting = {
            let mut guard = self.state.lock().unwrap_or_else(PoisonError::into_inner);
            let state = &mut *guard;
            if state.free > 0 && state.held(tenant) < self.share {
                state.free -= 1;
                state.take(tenant);
                None
            } else {
                let (tx, rx) = oneshot::channel();
                let queue = state.queues.entry(tenant.clone()).or_default();
                if queue.is_empty() {
                    state.turn.push_back(tenant.clone());
                }
                queue.push_back(tx);
                Some(rx)
            }
        };
        match waiting {
            None => self.slot(tenant),
            // A waiter's sender is dropped only once a slot was sent to it: a closed channel
            // cannot happen while `self` lives, but a slot is a slot either way.
            Some(rx) => match rx.await {
                Ok(slot) => slot,
                Err(_) => Box::pin(self.acquire(tenant)).await,
            },
        }
    }

    /// Frees `tenant`'s slot: hands it to the next waiter in turn whose tenant is below its
    /// share, or keeps it free.
    fn release(self: &Arc<Self>, tenant: &TenantId) {
        let mut guard = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        let state = &mut *guard;
        state.give_back(tenant);
        // Each waiting tenant is looked at once per release; those at their share keep their
        // place at the back of the turn.
        for _ in 0..state.turn.len() {
            let Some(next) = state.turn.pop_front() else {
                break;
            };
            if state.held(&next) >= self.share {
                state.turn.push_back(next);
                continue;
            }
            let Some(queue) = state.queues.get_mut(&next) else {
                continue;
            };
            while let Some(waiter) = queue.pop_front() {
                // A waiter that gave up hands the slot back at once: disarm it (releasing it
                // would take this lock again) and try the next.
                match waiter.send(self.slot(&next)) {
                    Ok(()) => {
                        if queue.is_empty() {
                            state.queues.remove(&next);
                        } else {
                            state.turn.push_back(next.clone());
                        }
                        state.take(&next);
                        return;
                    }
                    Err(mut slot) => drop(slot.slots.take()),
                }
            }
            state.queues.remove(&next);
        }
        state.free += 1;
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    /// Acquires a slot for `tenant` in a task that reports `name` on `tx`, then holds the slot
    /// until `release` fires.
    fn waiter(
        slots: &Arc<FairSlots>,
        tenant: &TenantId,
        name: String,
        tx: &tokio::sync::mpsc::UnboundedSender<String>,
        release: &tokio::sync::watch::Receiver<bool>,
    ) -> tokio::task::JoinHandle<()> {
        let (slots, tenant, tx, mut release) =
            (slots.clone(), tenant.clone(), tx.clone(), release.clone());
        tokio::spawn(async move {
            let _slot = slots.acquire(&tenant).await;
            let _ = tx.send(name);
            let _ = release.wait_for(|r| *r).await;
        })
    }

    #[tokio::test]
    async fn a_flooding_tenant_leaves_slots_for_others_and_freed_ones_go_in_turn() {
        let slots = FairSlots::new(8); // a share of 7
        let (heavy, light) = (TenantId::from("heavy"), TenantId::from("light"));
        let (tx, mut order) = tokio::sync::mpsc::unbounded_channel();
        let (release, released) = tokio::sync::watch::channel(false);
        let mut tasks = Vec::new();
        for i in 0..20 {
            tasks.push(waiter(&slots, &heavy, format!("heavy {i}"), &tx, &released));
            tokio::task::yield_now().await;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
        // Heavy holds its share, 7; the eighth slot waits for another tenant.
        let mut seen = Vec::new();
        while let Ok(who) = order.try_recv() {
            seen.push(who);
        }
        assert_eq!(seen.len(), 7, "{seen:?}");
        let light_slot = tokio::time::timeout(Duration::from_secs(1), slots.acquire(&light))
            .await
            .expect("light gets the free slot at once");
        drop(light_slot);
        // Released, heavy's waiters go on in arrival order and every slot comes back.
        release.send_replace(true);
        for task in tasks {
            task.await.expect("task");
        }
        while let Ok(who) = order.try_recv() {
            seen.push(who);
        }
        let expected: Vec<String> = (0..20).map(|i| format!("heavy {i}")).collect();
        assert_eq!(seen, expected);
        let all: Vec<Slot> = futures_all(&slots, &light, 7).await;
        assert_eq!(all.len(), 7);
    }

    /// `n` slots for `tenant`, each within a second.
    async fn futures_all(slots: &Arc<FairSlots>, tenant: &TenantId, n: usize) -> Vec<Slot> {
        let mut out = Vec::new();
        for _ in 0..n {
            let slot = tokio::time::timeout(Duration::from_secs(1), slots.acquire(tenant))
                .await
                .expect("a slot");
            out.push(slot);
        }
        out
    }

    #[tokio::test]
    async fn a_freed_slot_goes_to_the_next_tenant_in_turn() {
        let slots = FairSlots::new(2); // a share of 1 each
        let (a, b) = (TenantId::from("a"), TenantId::from("b"));
        let first_a = slots.acquire(&a).await;
        let first_b = slots.acquire(&b).await;
        let (tx, mut order) = tokio::sync::mpsc::unbounded_channel();
        let (_release, released) = tokio::sync::watch::channel(false);
        let _a2 = waiter(&slots, &a, "a".into(), &tx, &released);
        tokio::task::yield_now().await;
        let _b2 = waiter(&slots, &b, "b".into(), &tx, &released);
        tokio::task::yield_now().await;
        // b's slot frees: a is first in turn but at its share, so b's waiter takes it.
        drop(first_b);
        assert_eq!(order.recv().await.as_deref(), Some("b"));
        drop(first_a);
        assert_eq!(order.recv().await.as_deref(), Some("a"));
    }

    #[tokio::test]
    async fn a_waiter_that_gives_up_loses_no_slot() {
        let slots = FairSlots::new(1);
        let t = TenantId::from("t");
        let held = slots.acquire(&t).await;
        let gave_up = tokio::time::timeout(Duration::from_millis(20), slots.acquire(&t)).await;
        assert!(gave_up.is_err());
        drop(held);
        let _again = tokio::time::timeout(Duration::from_secs(1), slots.acquire(&t))
            .await
            .expect("the slot is free again");
    }
}
