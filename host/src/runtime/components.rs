//! Components: validation at deploy time, compilation, and the cache of pre-instantiated ones.
//!
//! Each component is compiled once per process and pre-instantiated (`FunctionPre`); every
//! invocation instantiates from that.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::OnceCell;
use wasmtime::component::{Component, Linker};
use wasmtime::{Engine, Store, UpdateDeadline};

use super::compiled::CompiledCache;
use crate::bindings::FunctionPre;
use crate::host_calls::{InvocationCtx, Limiter, MemoryBudget, Steps, shadow_wasi_with_journal};
use crate::ids::ComponentHash;
use crate::journal::{Limits, OverQuota};

/// The linear memory all instances hold together, unless configured (`--memory-budget-mb`).
pub const DEFAULT_MEMORY_BUDGET: u64 = 4 * 1024 * 1024 * 1024;

/// Epoch ticks a component may spend listing its functions at deploy time.
const DISCOVERY_TICKS: u64 = 200;

/// Why a component cannot be deployed or loaded.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ComponentError {
    /// Nothing was uploaded.
    #[error("the upload is empty; expected a WebAssembly component")]
    Empty,
    /// The bytes are not WebAssembly at all.
    #[error("the upload is not WebAssembly: it does not start with the `\\0asm` magic bytes")]
    NotWasm,
    /// A core module instead of a component.
    #[error(
        "the upload is a core WebAssembly module, not a component; \
         build the function with `--target wasm32-wasip2`"
    )]
    CoreModule,
    /// The component does not validate or compile.
    #[error("the component is invalid: {0}")]
    Invalid(String),
    /// The component's imports or exports do not match the world.
    #[error("the component does not implement the `reprise:function/function` world: {0}")]
    WrongWorld(String),
    /// The component imports what the host does not provide, or lacks the guest export
    /// (found before compiling).
    #[error(transparent)]
    World(#[from] super::world::WorldError),
    /// Calling `functions()` failed.
    #[error("listing the component's functions failed: {0}")]
    Discovery(String),
    /// `functions()` returned nothing.
    #[error("the component exports no functions (its `functions()` returned an empty list)")]
    NoFunctions,
    /// A function name the host cannot address.
    #[error(
        "the component exports the function name `{0}`; names must be 1 to 128 characters \
         of letters, digits, `_` and `-`, and unique"
    )]
    BadFunctionName(String),
    /// The component an invocation is pinned to is not in the store.
    #[error("component {0} is not stored on this node")]
    Missing(ComponentHash),
    /// The component cache was poisoned by a panic while it was held.
    #[error("host failure while loading the component: the component cache is poisoned")]
    CachePoisoned,
    /// The task compiling the component failed.
    #[error("host failure while compiling the component: {0}")]
    Task(#[source] Arc<tokio::task::JoinError>),
    /// The component could not be read from storage.
    #[error("host failure while loading the component: {0}")]
    Store(#[source] Arc<crate::journal::StoreError>),
}

impl ComponentError {
    /// Whether the host failed, not the component: the invocation may succeed on a retry.
    pub fn is_host_failure(&self) -> bool {
        matches!(
            self,
            ComponentError::CachePoisoned | ComponentError::Task(_) | ComponentError::Store(_)
        )
    }
}

/// A compiled, pre-instantiated component and the functions it exports.
pub struct Prepared {
    /// The component's sha256.
    pub hash: ComponentHash,
    /// Ready to instantiate.
    pub pre: FunctionPre<InvocationCtx>,
    /// The functions it exports.
    pub functions: Vec<String>,
}

/// The engine, the linker and the per-process cache of prepared components.
pub struct Components {
    engine: Engine,
    compiled: Option<CompiledCache>,
    linker: Linker<InvocationCtx>,
    cache: Mutex<HashMap<ComponentHash, Arc<OnceCell<Arc<Prepared>>>>>,
    /// The linear memory all stores may hold together.
    memory: Arc<MemoryBudget>,
}

impl Components {
    /// Builds the linker (WASI without files or sockets, journaled clocks and random,
    /// wasi:http with journaled requests, the reprise host interface) on `engine`; compiled components are kept in `compiled` when
    /// given.
    pub fn new(engine: Engine, compiled: Option<CompiledCache>) -> wasmtime::Result<Self> {
        let mut linker = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut linker)?;
        shadow_wasi_with_journal(&mut linker)?;
        crate::host_calls::add_journaled_http(&mut linker)?;
        crate::bindings::Function::add_to_linker::<_, wasmtime::component::HasSelf<_>>(
            &mut linker,
            |ctx| ctx,
        )?;
        Ok(Components {
            engine,
            compiled,
            linker,
            cache: Mutex::new(HashMap::new()),
            memory: MemoryBudget::new(DEFAULT_MEMORY_BUDGET),
        })
    }

    /// These components, their stores holding at most `bytes` of linear memory together.
    pub fn with_memory_budget(mut self, bytes: u64) -> Self {
        self.memory = MemoryBudget::new(bytes);
        self
    }

    /// The engine.
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// Whether component `hash` is compiled and prepared in this process.
    pub fn is_cached(&self, hash: &ComponentHash) -> bool {
        self.cache
            .lock()
            .is_ok_and(|cache| cache.get(hash).is_some_and(|cell| cell.initialized()))
    }

    /// A store for one invocation around its journal cursor `steps`, within `limits` (its
    /// tenant's): it yields to other tasks at every epoch tick, and traps with
    /// [`OverQuota`] once its guest code has run for `limits.run_ms` (counted in ticks
    /// that find it running with no host call since the last).
    pub fn new_store(&self, steps: Steps, limits: &Limits) -> Store<InvocationCtx> {
        let mut store = self.limited_store(steps, limits.memory_bytes);
        let tick_ms = super::engine::EPOCH_TICK.as_millis().max(1) as u64;
        let (run_ms, mut ticks_left) = (limits.run_ms, limits.run_ms.div_ceil(tick_ms));
        let mut last_step = 0;
        store.epoch_deadline_callback(move |mut ctx| {
            // A tick that passed while the run awaited a host call is not guest time: only
            // ticks with no step taken since the last one count (a guest taking steps is
            // bounded by the journal quotas instead).
            let step = ctx.data_mut().steps_mut().position();
            if step == last_step {
                if ticks_left == 0 {
                    let over = OverQuota::new("run_ms", run_ms, "ms of guest run time per run");
                    return Err(over.into());
                }
                ticks_left -= 1;
            }
            last_step = step;
            Ok(UpdateDeadline::Yield(1))
        });
        store
    }

    /// A store around `steps` whose linear memory is at most `memory_bytes`, within the
    /// host's budget.
    fn limited_store(&self, steps: Steps, memory_bytes: u64) -> Store<InvocationCtx> {
        let limits = super::engine::store_limits(memory_bytes);
        let limiter = Limiter::new(limits, memory_bytes, self.memory.clone());
        let mut store = Store::new(&self.engine, InvocationCtx::new(steps, limiter));
        store.limiter(|ctx| &mut ctx.limits);
        store
    }

    /// Validates `bytes` as a function component and prepares it (cached by hash).
    pub async fn prepare(&self, bytes: Arc<Vec<u8>>) -> Result<Arc<Prepared>, ComponentError> {
        check_header(&bytes)?;
        super::world::check(&bytes)?;
        let hash = ComponentHash::of(&bytes);
        self.get(hash, || async { Ok(bytes) }).await
    }

    /// Forgets component `hash`, removed from storage: its prepared form here and its
    /// compiled code on disk.
    pub fn forget(&self, hash: &ComponentHash) {
        if let Ok(mut cache) = self.cache.lock() {
            cache.remove(hash);
        }
        if let Some(compiled) = &self.compiled {
            compiled.remove(hash);
        }
    }

    /// The prepared component `hash`, compiling it from `load()` on first use.
    pub async fn get<F, Fut>(
        &self,
        hash: ComponentHash,
        load: F,
    ) -> Result<Arc<Prepared>, ComponentError>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<Arc<Vec<u8>>, ComponentError>>,
    {
        let cell = {
            let mut cache = self
                .cache
                .lock()
                .map_err(|_| ComponentError::CachePoisoned)?;
            cache.entry(hash).or_default().clone()
        };
        let result = cell
            .get_or_try_init(|| async {
                let bytes = load().await?;
                self.compile(hash, bytes).await.map(Arc::new)
            })
            .await
            .cloned();
        if result.is_err()
            && let Ok(mut cache) = self.cache.lock()
            && cache.get(&hash).is_some_and(|c| c.get().is_none())
        {
            // Do not keep an entry for every invalid upload.
            cache.remove(&hash);
        }
        result
    }

    async fn compile(
        &self,
        hash: ComponentHash,
        bytes: Arc<Vec<u8>>,
    ) -> Result<Prepared, ComponentError> {
        let prepared = self.compile_and_check(hash, bytes).await;
        if prepared.is_err()
            && let Some(compiled) = &self.compiled
        {
            compiled.remove(&hash);
        }
        prepared
    }

    /// Compiles (or loads) component `hash`, checks it against the linker and lists its
    /// functions.
    async fn compile_and_check(
        &self,
        hash: ComponentHash,
        bytes: Arc<Vec<u8>>,
    ) -> Result<Prepared, ComponentError> {
        let engine = self.engine.clone();
        let compiled = self.compiled.clone();
        let component = tokio::task::spawn_blocking(move || match compiled {
            Some(cache) => cache.load_or_compile(&engine, &hash, &bytes),
            None => Component::new(&engine, &*bytes),
        })
        .await
        .map_err(|e| ComponentError::Task(Arc::new(e)))?
        .map_err(|e| ComponentError::Invalid(format!("{e:#}")))?;
        let instance_pre = self
            .linker
            .instantiate_pre(&component)
            .map_err(|e| ComponentError::WrongWorld(format!("{e:#}")))?;
        let pre = FunctionPre::new(instance_pre)
            .map_err(|e| ComponentError::WrongWorld(format!("{e:#}")))?;
        let functions = self.discover(&pre).await?;
        Ok(Prepared {
            hash,
            pre,
            functions,
        })
    }

    /// Asks the component for its function names, with no host calls and a short time limit.
    async fn discover(
        &self,
        pre: &FunctionPre<InvocationCtx>,
    ) -> Result<Vec<String>, ComponentError> {
        let memory = crate::journal::Limits::DEFAULT.memory_bytes;
        let mut store = self.limited_store(Steps::discovery(), memory);
        store.set_epoch_deadline(DISCOVERY_TICKS);
        store.epoch_deadline_trap();
        let failed = |e: wasmtime::Error| ComponentError::Discovery(format!("{e:#}"));
        let instance = pre.instantiate_async(&mut store).await.map_err(failed)?;
        let functions = instance
            .reprise_function_guest()
            .call_functions(&mut store)
            .await
            .map_err(failed)?;
        if functions.is_empty() {
            return Err(ComponentError::NoFunctions);
        }
        let mut seen = std::collections::HashSet::new();
        for name in &functions {
            if !crate::names::valid(name) || !seen.insert(name.as_str()) {
                return Err(ComponentError::BadFunctionName(
                    name.chars().take(200).collect(),
                ));
            }
        }
        Ok(functions)
    }
}

/// Tells a component from a core module or from something that is not WebAssembly.
fn check_header(bytes: &[u8]) -> Result<(), ComponentError> {
    const MAGIC: &[u8] = b"\0asm";
    if bytes.is_empty() {
        return Err(ComponentError::Empty);
    }
    if bytes.len() < 8 || &bytes[..4] != MAGIC {
        return Err(ComponentError::NotWasm);
    }
    // Bytes 6..8 are the layer: 0 for a core module, 1 for a component.
    if bytes[6..8] == [0, 0] {
        return Err(ComponentError::CoreModule);
    }
    Ok(())
}
