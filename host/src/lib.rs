//! Reprise: a durable function host.
//!
//! Functions are WebAssembly components (`wasm32-wasip2`). Every host call they make is a
//! journaled step, committed durably in an embedded redb database before the function sees
//! its result; after a crash or restart an invocation is replayed from its journal and goes
//! on live from where it stopped. See `docs/ARCHITECTURE.md` for the invariants.

pub mod access;
pub mod api;
pub mod bindings;
pub mod cli;
pub mod clock;
pub mod cluster;
pub mod console;
pub mod host_calls;
pub mod ids;
pub mod journal;
pub mod metrics;
pub mod names;
pub mod outbound;
pub mod runtime;
pub mod scaffold;
pub mod scheduler;
pub mod server;
pub mod storage;
pub mod target;
pub mod traces;

/// The tenant every request belongs to until API keys arrive.
pub const DEFAULT_TENANT: &str = "default";
