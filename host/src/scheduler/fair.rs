//! The host's execution slots, shared fairly: when invocations wait for a slot, a freed slot
//! goes to the tenants in turn (round robin), and within a tenant in arrival order, so a
//! tenant that queued 100,000 invocations delays another's next one by one slot's turn, not by
//! the whole queue.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::oneshot;

use crate::ids::TenantId;

/// Execution slots, granted round robin across tenants.
pub struct FairSlots {
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    /// Slots nobody holds or waits for.
    free: usize,
    /// Per tenant, its waiters in arrival order.
    queues: HashMap<TenantId, VecDeque<oneshot::Sender<Slot>>>,
    /// Tenants with waiters, in the order their next waiter is served.
    turn: VecDeque<TenantId>,
}

/// A held slot; dropping it frees it (to the next tenant's waiter, if any).
pub struct Slot {
    /// `None` once disarmed: a slot that was never handed over frees nothing.
    slots: Option<Arc<FairSlots>>,
}

impl Slot {
    fn of(slots: &Arc<FairSlots>) -> Slot {
        Slot {
            slots: Some(slots.clone()),
        }
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        if let Some(slots) = self.slots.take() {
            slots.release();
        }
    }
}

impl FairSlots {
    /// `slots` slots.
    pub fn new(slots: usize) -> Arc<Self> {
        Arc::new(FairSlots {
            state: Mutex::new(State {
                free: slots,
                ..State::default()
            }),
        })
    }

    /// Waits for a slot for an invocation of `tenant`.
    pub async fn acquire(self: &Arc<Self>, tenant: &TenantId) -> Slot {
        let waiting = {
            let mut guard = self.state.lock().unwrap_or_else(PoisonError::into_inner);
            let state = &mut *guard;
            if state.free > 0 && state.turn.is_empty() {
                state.free -= 1;
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
            None => Slot::of(self),
            // The sender is dropped only by `release` handing the slot over: a closed channel
            // cannot happen while `self` lives, but a slot is a slot either way.
            Some(rx) => match rx.await {
                Ok(slot) => slot,
                Err(_) => Box::pin(self.acquire(tenant)).await,
            },
        }
    }

    /// Hands a freed slot to the next waiter in turn, or keeps it free.
    fn release(self: &Arc<Self>) {
        let mut guard = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        let state = &mut *guard;
        while let Some(tenant) = state.turn.pop_front() {
            let Some(queue) = state.queues.get_mut(&tenant) else {
                continue;
            };
            let Some(waiter) = queue.pop_front() else {
                state.queues.remove(&tenant);
                continue;
            };
            if queue.is_empty() {
                state.queues.remove(&tenant);
            } else {
                state.turn.push_back(tenant);
            }
            // A waiter that gave up hands the slot back at once: disarm it (releasing it would
            // take this lock again) and hand it on here instead.
            match waiter.send(Slot::of(self)) {
                Ok(()) => return,
                Err(mut slot) => drop(slot.slots.take()),
            }
        }
        state.free += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_freed_slot_goes_to_the_tenants_in_turn() {
        let slots = FairSlots::new(1);
        let (heavy, light) = (TenantId::from("heavy"), TenantId::from("light"));
        let first = slots.acquire(&heavy).await;
        let (tx, mut order) = tokio::sync::mpsc::unbounded_channel();
        let mut tasks = Vec::new();
        // Ten of heavy's wait, then one of light's.
        for i in 0..10 {
            let (slots, tenant, tx) = (slots.clone(), heavy.clone(), tx.clone());
            tasks.push(tokio::spawn(async move {
                let _slot = slots.acquire(&tenant).await;
                let _ = tx.send(format!("heavy {i}"));
            }));
            tokio::task::yield_now().await;
        }
        let (s, t, tx2) = (slots.clone(), light.clone(), tx.clone());
        tasks.push(tokio::spawn(async move {
            let _slot = s.acquire(&t).await;
            let _ = tx2.send("light".to_string());
        }));
        tokio::task::yield_now().await;
        drop(first);
        for task in tasks {
            task.await.expect("task");
        }
        drop(tx);
        let mut seen = Vec::new();
        while let Some(who) = order.recv().await {
            seen.push(who);
        }
        // heavy's first waiter, then light's (its turn), then the rest of heavy's in order.
        assert_eq!(seen[0], "heavy 0");
        assert_eq!(seen[1], "light");
        let rest: Vec<String> = (1..10).map(|i| format!("heavy {i}")).collect();
        assert_eq!(seen[2..], rest[..]);
        // Every slot came back.
        let a = slots.acquire(&light).await;
        assert!(
            tokio::time::timeout(std::time::Duration::from_millis(50), slots.acquire(&heavy))
                .await
                .is_err()
        );
        drop(a);
        let _b = slots.acquire(&heavy).await;
    }

    #[tokio::test]
    async fn a_waiter_that_gives_up_loses_no_slot() {
        let slots = FairSlots::new(1);
        let t = TenantId::from("t");
        let held = slots.acquire(&t).await;
        let gave_up =
            tokio::time::timeout(std::time::Duration::from_millis(20), slots.acquire(&t)).await;
        assert!(gave_up.is_err());
        drop(held);
        let _again = tokio::time::timeout(std::time::Duration::from_secs(1), slots.acquire(&t))
            .await
            .expect("the slot is free again");
    }
}
