//! The resource limiter of one store: the engine's store limits, the tenant's memory quota
//! and the host's memory budget for all instances together. It remembers a memory growth it
//! refused, so that the trap that follows can say which limit it was over.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use wasmtime::{ResourceLimiter, StoreLimits};

/// The linear memory all instances of the host hold together, and its cap.
pub struct MemoryBudget {
    cap: u64,
    used: AtomicU64,
}

impl MemoryBudget {
    /// At most `cap` bytes of linear memory across all instances.
    pub fn new(cap: u64) -> Arc<Self> {
        Arc::new(MemoryBudget {
            cap,
            used: AtomicU64::new(0),
        })
    }

    /// Bytes held now.
    pub fn used(&self) -> u64 {
        self.used.load(Ordering::Relaxed)
    }

    /// Takes `bytes` if they fit.
    fn take(&self, bytes: u64) -> bool {
        self.used
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |used| {
                used.checked_add(bytes).filter(|total| *total <= self.cap)
            })
            .is_ok()
    }

    fn give(&self, bytes: u64) {
        self.used.fetch_sub(bytes, Ordering::AcqRel);
    }
}

/// A memory growth a limiter refused, and the limit it was over.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refused {
    /// Over the tenant's `memory_bytes` per instance.
    Quota { desired: usize, limit: u64 },
    /// Over the host's budget for all instances together.
    Budget { desired: usize, cap: u64 },
}

/// Store limits within a tenant's quota and the host's budget.
pub struct Limiter {
    limits: StoreLimits,
    /// The quota on linear memory, in bytes.
    memory_bytes: u64,
    budget: Arc<MemoryBudget>,
    /// What this store holds of the budget.
    held: u64,
    refused: Option<Refused>,
}

impl Limiter {
    /// `limits`, which allow at most `memory_bytes` of linear memory, within `budget`.
    pub fn new(limits: StoreLimits, memory_bytes: u64, budget: Arc<MemoryBudget>) -> Self {
        Limiter {
            limits,
            memory_bytes,
            budget,
            held: 0,
            refused: None,
        }
    }

    /// The last memory growth refused, if one was.
    pub fn refused(&self) -> Option<Refused> {
        self.refused
    }
}

impl Drop for Limiter {
    fn drop(&mut self) {
        self.budget.give(self.held);
    }
}

impl ResourceLimiter for Limiter {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if !self.limits.memory_growing(current, desired, maximum)? {
            let limit = self.memory_bytes;
            self.refused = Some(Refused::Quota { desired, limit });
            return Ok(false);
        }
        let more = desired.saturating_sub(current) as u64;
        if !self.budget.take(more) {
            let cap = self.budget.cap;
            self.refused = Some(Refused::Budget { desired, cap });
            return Ok(false);
        }
        self.held += more;
        Ok(true)
    }

    fn table_growing(
        &mut self,
        current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        self.limits.table_growing(current, desired, maximum)
    }

    fn instances(&self) -> usize {
        self.limits.instances()
    }

    fn tables(&self) -> usize {
        self.limits.tables()
    }

    fn memories(&self) -> usize {
        self.limits.memories()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stores_share_the_budget_and_give_it_back_when_dropped() {
        let budget = MemoryBudget::new(100);
        let limits = || wasmtime::StoreLimitsBuilder::new().memory_size(80).build();
        let mut a = Limiter::new(limits(), 80, budget.clone());
        let mut b = Limiter::new(limits(), 80, budget.clone());
        assert!(a.memory_growing(0, 60, None).expect("grow"));
        assert!(!b.memory_growing(0, 60, None).expect("grow"));
        assert_eq!(
            b.refused(),
            Some(Refused::Budget {
                desired: 60,
                cap: 100
            })
        );
        assert!(!a.memory_growing(60, 90, None).expect("grow"));
        assert_eq!(
            a.refused(),
            Some(Refused::Quota {
                desired: 90,
                limit: 80
            })
        );
        assert_eq!(budget.used(), 60);
        drop(a);
        assert_eq!(budget.used(), 0);
        assert!(b.memory_growing(0, 60, None).expect("grow"));
    }
}
