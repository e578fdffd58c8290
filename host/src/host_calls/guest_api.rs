//! The `reprise:function/host` interface, implemented over the journal.

use super::InvocationCtx;
use super::{StepRequest, children, clock, http, log, random, waits};
use crate::bindings::reprise::function::types::{AwaitMode, Awaitable};
use crate::bindings::reprise::function::{host, types};
use crate::bindings::{HttpError, HttpRequest, HttpResponse, LogLevel, Timestamp};

impl types::Host for InvocationCtx {}

impl host::Host for InvocationCtx {
    async fn http_send(
        &mut self,
        request: HttpRequest,
    ) -> wasmtime::Result<Result<HttpResponse, HttpError>> {
        http::send(self.steps_mut(), &request).await
    }

    async fn now(&mut self) -> wasmtime::Result<Timestamp> {
        clock::now(self.steps_mut()).await
    }

    async fn random_bytes(&mut self, len: u32) -> wasmtime::Result<Vec<u8>> {
        let request = StepRequest::RandomBytes { len: len.into() };
        random::take_bytes(self.steps_mut(), request).await
    }

    async fn log(&mut self, level: LogLevel, message: String) -> wasmtime::Result<()> {
        log::log(self.steps_mut(), level, &message).await
    }

    async fn dispatch(
        &mut self,
        function: String,
        input: Vec<u8>,
        detached: bool,
    ) -> wasmtime::Result<Result<String, String>> {
        children::dispatch(self.steps_mut(), &function, &input, detached).await
    }

    async fn wait_for(
        &mut self,
        items: Vec<Awaitable>,
        mode: AwaitMode,
    ) -> wasmtime::Result<Vec<Option<Result<Vec<u8>, String>>>> {
        waits::wait_for(self.steps_mut(), items, mode).await
    }

    async fn invocation_id(&mut self) -> wasmtime::Result<String> {
        Ok(self.steps_mut().invocation().to_string())
    }
}
