//! The resource limiter of one store: the engine's store limits, remembering a memory growth
//! it refused so that the trap that follows can name the quota.

use wasmtime::{ResourceLimiter, StoreLimits};

/// Store limits that remember the largest memory growth they refused.
pub struct Limiter {
    limits: StoreLimits,
    /// The quota on linear memory, in bytes.
    memory_bytes: u64,
    /// The size a refused growth asked for.
    refused: Option<usize>,
}

impl Limiter {
    /// `limits`, which allow at most `memory_bytes` of linear memory.
    pub fn new(limits: StoreLimits, memory_bytes: u64) -> Self {
        Limiter {
            limits,
            memory_bytes,
            refused: None,
        }
    }

    /// The memory size a refused growth asked for, and the quota it was over.
    pub fn refused(&self) -> Option<(usize, u64)> {
        self.refused.map(|desired| (desired, self.memory_bytes))
    }
}

impl ResourceLimiter for Limiter {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let allowed = self.limits.memory_growing(current, desired, maximum)?;
        if !allowed {
            self.refused = Some(self.refused.map_or(desired, |r| r.max(desired)));
        }
        Ok(allowed)
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
