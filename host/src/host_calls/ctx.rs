//! The per-store state of one running invocation (or of a deploy-time function listing).

use wasmtime::component::ResourceTable;
use wasmtime_wasi::{WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpHooks, WasiHttpView};

use super::wasi_http::{Hooks, Outgoing};
use super::{Limiter, Steps};
use crate::journal::Stdio;

/// Store data: WASI context (no files, no sockets), wasi:http's, limits, and the journal
/// cursor, which captures stdout and stderr.
pub struct InvocationCtx {
    wasi: WasiCtx,
    http: WasiHttpCtx,
    hooks: Hooks,
    outgoing: Outgoing,
    table: ResourceTable,
    /// Memory and table limits for this store.
    pub limits: Limiter,
    steps: Steps,
}

impl InvocationCtx {
    /// A sandboxed context around the journal cursor `steps`, within `limits`.
    pub fn new(steps: Steps, limits: Limiter) -> Self {
        let output = steps.output();
        let wasi = WasiCtxBuilder::new()
            .stdout(output.stream(Stdio::Stdout))
            .stderr(output.stream(Stdio::Stderr))
            .allow_tcp(false)
            .allow_udp(false)
            .allow_ip_name_lookup(false)
            .build();
        InvocationCtx {
            wasi,
            http: WasiHttpCtx::new(),
            hooks: Hooks,
            outgoing: Outgoing::default(),
            table: ResourceTable::new(),
            limits,
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

    /// What the journaled wasi:http calls work on: the resources, the requests handed to
    /// `handle`, the header filter.
    pub(super) fn http_parts(
        &mut self,
    ) -> (&mut ResourceTable, &mut Outgoing, &mut dyn WasiHttpHooks) {
        (&mut self.table, &mut self.outgoing, &mut self.hooks)
    }

    /// The end of what the guest wrote to stderr in this run (e.g. a panic message).
    pub fn stderr_text(&self) -> String {
        self.steps.output().stderr_text()
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

impl WasiHttpView for InvocationCtx {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView {
            ctx: &mut self.http,
            table: &mut self.table,
            hooks: &mut self.hooks,
        }
    }
}
