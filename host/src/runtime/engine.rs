//! The wasmtime engine configuration and its epoch ticker.

use std::time::Duration;

use wasmtime::{
    Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig, StoreLimits,
    StoreLimitsBuilder,
};

/// Most linear memory one invocation may use, whatever its tenant's quota.
pub const MAX_MEMORY_BYTES: usize = 256 * 1024 * 1024;

/// The limits of one invocation's store: at most `memory_bytes` of linear memory (and never
/// more than [`MAX_MEMORY_BYTES`]).
pub fn store_limits(memory_bytes: u64) -> StoreLimits {
    let memory =
        usize::try_from(memory_bytes).map_or(MAX_MEMORY_BYTES, |m| m.min(MAX_MEMORY_BYTES));
    StoreLimitsBuilder::new()
        .memory_size(memory)
        .instances(64)
        .tables(64)
        .memories(16)
        .build()
}

/// How often the epoch advances; a running guest yields to other tasks at every tick.
pub const EPOCH_TICK: Duration = Duration::from_millis(10);

/// Bytes of each pooled memory and table reset in place (not unmapped) when an instance ends.
const KEEP_RESIDENT: usize = 512 << 10;

/// Creates the engine (component model, epoch interruption) and starts its epoch ticker.
/// With `pool_slots`, instances are allocated from a pool for that many live stores
/// (preallocated address space, memories reused copy-on-write), which makes instantiation
/// cheap; a store beyond the pool fails to instantiate.
pub fn new_engine(pool_slots: Option<u32>) -> wasmtime::Result<Engine> {
    let mut config = Config::new();
    config.wasm_component_model(true);
    config.epoch_interruption(true);
    config.max_wasm_stack(1 << 20);
    if let Some(slots) = pool_slots {
        let mut pool = PoolingAllocationConfig::default();
        pool.total_component_instances(slots)
            .total_core_instances(slots.saturating_mul(8))
            .total_memories(slots.saturating_mul(4))
            .total_tables(slots.saturating_mul(8))
            .max_core_instances_per_component(32)
            .max_memories_per_component(8)
            .max_tables_per_module(4)
            .max_memory_size(MAX_MEMORY_BYTES)
            .linear_memory_keep_resident(KEEP_RESIDENT)
            .table_keep_resident(KEEP_RESIDENT)
            .max_unused_warm_slots(16)
            .pagemap_scan(wasmtime::Enabled::Auto);
        config.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
    }
    let engine = Engine::new(&config)?;
    let weak = engine.weak();
    std::thread::Builder::new()
        .name("epoch-ticker".into())
        .spawn(move || {
            while let Some(engine) = weak.upgrade() {
                engine.increment_epoch();
                drop(engine);
                std::thread::sleep(EPOCH_TICK);
            }
        })?;
    Ok(engine)
}
