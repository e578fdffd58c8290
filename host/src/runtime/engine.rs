//! The wasmtime engine configuration and its epoch ticker.

use std::time::Duration;

use wasmtime::{Config, Engine};

/// How often the epoch advances; a running guest yields to other tasks at every tick.
pub const EPOCH_TICK: Duration = Duration::from_millis(10);

/// Creates the engine (component model, epoch interruption) and starts its epoch ticker.
pub fn new_engine() -> wasmtime::Result<Engine> {
    let mut config = Config::new();
    config.wasm_component_model(true);
    config.epoch_interruption(true);
    config.max_wasm_stack(1 << 20);
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
