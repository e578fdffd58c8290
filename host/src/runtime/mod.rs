//! The WebAssembly runtime: one engine, one linker, a cache of pre-instantiated components, and
//! the check of a component's world before it is compiled.

mod compiled;
mod components;
mod engine;
mod world;

pub use compiled::CompiledCache;
pub use components::{ComponentError, Components, Prepared};
pub use engine::{EPOCH_TICK, new_engine};
pub use world::{GUEST_EXPORT, WorldError};
