//! The wasmtime engine configuration and its epoch ticker.

use std::time::Duration;

use wasmtime::{
    Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig, StoreLimits,
    StoreLimitsBuilder,
};

/// Most linear memory one invocation may use, whatever its tenant's quota.
pub const MAX_MEMORY_BYTES: usize = 256 * 1024 * 1024;

/// Most elements of one table (8 bytes each in the host: tables are not linear memory, so
/// the memory quota and budget do not count them); a `table.grow` past it fails. The same
/// in the pool and in a store's limits (wasmtime's pool default).
pub const MAX_TABLE_ELEMENTS: usize = 20_000;

/// The limits of one invocation's store: at most `memory_bytes` of linear memory (and never
/// more than [`MAX_MEMORY_BYTES`]), tables of at most [`MAX_TABLE_ELEMENTS`].
pub fn store_limits(memory_bytes: u64) -> StoreLimits {
    let memory =
        usize::try_from(memory_bytes).map_or(MAX_MEMORY_BYTES, |m| m.min(MAX_MEMORY_BYTES));
    StoreLimitsBuilder::new()
        .memory_size(memory)
        .table_elements(MAX_TABLE_ELEMENTS)
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
            .table_elements(MAX_TABLE_ELEMENTS)
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

#[cfg(test)]
mod tests {
    use super::*;

    /// `(module (table 0 funcref) (func (export "grow") (param i32) (result i32)
    /// ref.null func local.get 0 table.grow 0))`: grows its table by its argument.
    const TABLE_GROWER: &[u8] = &[
        0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, // magic, version
        0x01, 0x06, 0x01, 0x60, 0x01, 0x7f, 0x01, 0x7f, // type: (i32) -> i32
        0x03, 0x02, 0x01, 0x00, // function 0 has type 0
        0x04, 0x04, 0x01, 0x70, 0x00, 0x00, // table: funcref, min 0
        0x07, 0x08, 0x01, 0x04, b'g', b'r', b'o', b'w', 0x00, 0x00, // export "grow"
        0x0a, 0x0b, 0x01, 0x09, 0x00, 0xd0, 0x70, 0x20, 0x00, 0xfc, 0x0f, 0x00, 0x0b, // code
    ];

    #[test]
    fn a_table_grows_only_up_to_its_limit_without_trapping_the_host() {
        for pooled in [None, Some(4)] {
            let engine = new_engine(pooled).expect("engine");
            let module = wasmtime::Module::new(&engine, TABLE_GROWER).expect("module");
            let mut store = wasmtime::Store::new(&engine, store_limits(16 << 20));
            store.limiter(|limits| limits);
            store.set_epoch_deadline(1_000_000);
            let instance = wasmtime::Instance::new(&mut store, &module, &[]).expect("instance");
            let grow = instance
                .get_typed_func::<i32, i32>(&mut store, "grow")
                .expect("grow");
            let mut grow = |n: i32| grow.call(&mut store, n).expect("no trap");
            assert_eq!(grow(1_000), 0, "a modest table grows ({pooled:?})");
            assert_eq!(grow(i32::MAX), -1, "a huge growth is refused ({pooled:?})");
            let left = (MAX_TABLE_ELEMENTS - 1_000) as i32;
            assert_eq!(
                grow(left + 1),
                -1,
                "one past the limit is refused ({pooled:?})"
            );
            assert_eq!(grow(left), 1_000, "up to the limit it grows ({pooled:?})");
            assert_eq!(grow(1), -1, "and no further ({pooled:?})");
        }
    }
}
