//! The per-store state of one running invocation (or of a deploy-time function listing).

use wasmtime::component::ResourceTable;
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::{WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};

use super::{Limiter, Steps};

/// How much of the guest's stderr is kept for failure messages.
const STDERR_CAPACITY: usize = 64 * 1024;

/// Store data: WASI context (no files, no sockets), limits, captured stderr and the journal cursor.
pub struct InvocationCtx {
    wasi: WasiCtx,
    table: ResourceTable,
    /// Memory and table limits for this store.
    pub limits: Limiter,
    stderr: MemoryOutputPipe,
    steps: Steps,
}

impl InvocationCtx {
    /// A sandboxed context around the journal cursor `steps`, within `limits`.
    pub fn new(steps: Steps, limits: Limiter) -> Self {
        let stderr = MemoryOutputPipe::new(STDERR_CAPACITY);
        let wasi = WasiCtxBuilder::new()
            .stderr(stderr.clone())
            .allow_tcp(false)
            .allow_udp(false)
            .allow_ip_name_lookup(false)
            .build();
        InvocationCtx {
            wasi,
            table: ResourceTable::new(),
            limits,
            stderr,
            steps,
        }
    }

    /// The last memory growth refused, and the limit it was over, if one was refused.
    pub fn memory_refused(&self) -> Option<super::Refused> {
        self.limits.refused()
    }

    /// The journal cursor.
    pub fn steps_mut(&mut self) -> &mut Steps {
        &mut self.steps
    }

    /// What the guest wrote to stderr (e.g. a panic message), lossily decoded.
    pub fn stderr_text(&self) -> String {
        String::from_utf8_lossy(&self.stderr.contents())
            .trim_end()
            .to_string()
    }
}

impl WasiView for InvocationCtx {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}
