//! The WebAssembly runtime: one engine, one linker, a cache of pre-instantiated components.

mod compiled;
mod components;
mod engine;

pub use compiled::CompiledCache;
pub use components::{ComponentError, Components, Prepared};
pub use engine::{EPOCH_TICK, new_engine};
