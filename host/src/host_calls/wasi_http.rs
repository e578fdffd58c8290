//! `wasi:http/outgoing-handler` over the journal: a component using a standard wasi:http
//! client (`wstd`, `waki`, a language runtime's `fetch`) gets each request journaled as an
//! `http-send` step — replay, `Idempotency-Key`, retries, limits, breaker, egress, metrics.
//!
//! `wasmtime-wasi-http` provides the resources (fields, requests, bodies, streams); this
//! module shadows `handle` and `future-incoming-response`'s `subscribe` and `get`. A client
//! calls `handle` before it writes the request body, so `handle` only starts collecting the
//! body; the future is ready once the guest has finished the body, and the step is taken when
//! the guest asks for the response (`get`), with the whole request in hand. The response is
//! the journaled one, its body served from memory.
//!
//! Invariant: a step is taken only in `get`, once per request; a `get` before the body is
//! finished takes none (not ready). Requests the guest has in flight at once are journaled in
//! the order it asks for their responses.
//!
//! Bounds: the request bodies a store holds in the host, together at most
//! [`MAX_REQUEST_BODY`] bytes (they are outside the guest's linear memory, so its memory quota
//! does not bound them); a response body as for `http-send`
//! ([`super::http::MAX_RESPONSE_BYTES`]). Trailers are not sent.

use std::collections::HashMap;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::header::{HeaderMap, HeaderName, HeaderValue};
use wasmtime::StoreContextMut;
use wasmtime::component::{Linker, Resource};
use wasmtime_wasi::p2::{DynPollable, Pollable};
use wasmtime_wasi_http::p2::bindings::http::types::{ErrorCode, Method, Scheme};
use wasmtime_wasi_http::p2::body::{HostIncomingBody, HyperOutgoingBody};
use wasmtime_wasi_http::p2::types::{
    HostFutureIncomingResponse, HostIncomingResponse, HostOutgoingRequest,
};
use wasmtime_wasi_http::{FieldMap, RequestOptions, WasiHttpHooks};

use super::InvocationCtx;
use crate::bindings::{HttpError, HttpRequest, HttpResponse};

/// The wasi:http version `wasmtime-wasi-http` registers; guests importing any 0.2.x resolve
/// to it.
const WASI_HTTP_VERSION: &str = "0.2.12";

/// Most bytes of request bodies one store holds at once (so of one body).
pub const MAX_REQUEST_BODY: usize = 16 * 1024 * 1024;

type Ctx<'a> = StoreContextMut<'a, InvocationCtx>;

/// What `get` returns: not ready, gone, or the response or why there is none.
type GetResult = Option<Result<Result<Resource<HostIncomingResponse>, ErrorCode>, ()>>;

/// A request handed to `handle` whose response has not been asked for yet.
pub struct Pending {
    /// The request with its body still to come.
    head: HttpRequest,
    /// The body, collected as the guest writes it.
    body: tokio::task::JoinHandle<Result<Vec<u8>, ErrorCode>>,
    /// Whether the body is whole (the guest finished or dropped it).
    done: tokio::sync::watch::Receiver<bool>,
}

/// The requests of one store handed to `handle`, by the rep of their future's resource, and
/// the bytes of their bodies held so far.
#[derive(Default)]
pub struct Outgoing {
    pending: HashMap<u32, Pending>,
    held: Arc<AtomicUsize>,
}

/// The wasi:http hooks of a store: the default header filter; sending is never theirs (the
/// journaled `handle` sends).
pub struct Hooks;

impl WasiHttpHooks for Hooks {
    fn send_request(
        &mut self,
        _request: hyper::Request<wasmtime_wasi_http::WasiBody>,
        _options: Option<RequestOptions>,
        _fut: Box<dyn Future<Output = Result<(), wasmtime_wasi_http::Error>> + Send>,
    ) -> Box<
        dyn Future<
                Output = Result<
                    (
                        hyper::Response<wasmtime_wasi_http::WasiBody>,
                        Box<dyn Future<Output = Result<(), wasmtime_wasi_http::Error>> + Send>,
                    ),
                    wasmtime_wasi_http::Error,
                >,
            > + Send,
    > {
        Box::new(async {
            Err(ErrorCode::InternalError(Some("requests go through the journal".into())).into())
        })
    }
}

/// Adds wasi:http to `linker`, with `handle` and `future-incoming-response.get` journaled.
pub fn add_journaled_http(linker: &mut Linker<InvocationCtx>) -> wasmtime::Result<()> {
    wasmtime_wasi_http::p2::add_only_http_to_linker_async(linker)?;
    linker.allow_shadowing(true);
    let mut handler =
        linker.instance(&format!("wasi:http/outgoing-handler@{WASI_HTTP_VERSION}"))?;
    handler.func_wrap_async(
        "handle",
        |mut store: Ctx<'_>,
         (request, options): (
            Resource<HostOutgoingRequest>,
            Option<Resource<RequestOptions>>,
        )| { Box::new(async move { Ok((handle(store.data_mut(), request, options)?,)) }) },
    )?;
    let mut types = linker.instance(&format!("wasi:http/types@{WASI_HTTP_VERSION}"))?;
    types.func_wrap(
        "[method]future-incoming-response.subscribe",
        |mut store: Ctx<'_>, (future,): (Resource<HostFutureIncomingResponse>,)| {
            Ok((subscribe(store.data_mut(), &future)?,))
        },
    )?;
    types.func_wrap_async(
        "[method]future-incoming-response.get",
        |mut store: Ctx<'_>, (future,): (Resource<HostFutureIncomingResponse>,)| {
            Box::new(async move { Ok((get(store.data_mut(), future).await?,)) })
        },
    )?;
    linker.allow_shadowing(false);
    Ok(())
}

/// Takes the request out of the table and starts collecting its body; its future is a
/// placeholder whose response [`get`] makes.
fn handle(
    ctx: &mut InvocationCtx,
    request: Resource<HostOutgoingRequest>,
    options: Option<Resource<RequestOptions>>,
) -> wasmtime::Result<Result<Resource<HostFutureIncomingResponse>, ErrorCode>> {
    let (table, outgoing, _) = ctx.http_parts();
    let options = match options {
        Some(options) => Some(table.delete(options)?),
        None => None,
    };
    let request = table.delete(request)?;
    let head = match head(&request, options) {
        Ok(head) => head,
        Err(code) => return Ok(Err(code)),
    };
    let (finished, done) = tokio::sync::watch::channel(false);
    let held = outgoing.held.clone();
    let body = tokio::spawn(async move {
        let body = collect(request.body, &held).await;
        let _ = finished.send(true);
        body
    });
    let future = table.push(HostFutureIncomingResponse::Consumed)?;
    outgoing
        .pending
        .insert(future.rep(), Pending { head, body, done });
    Ok(Ok(future))
}

/// A pollable ready once the request behind `future` has its whole body (at once if its
/// response was already taken).
fn subscribe(
    ctx: &mut InvocationCtx,
    future: &Resource<HostFutureIncomingResponse>,
) -> wasmtime::Result<Resource<DynPollable>> {
    let (table, outgoing, _) = ctx.http_parts();
    let done = outgoing.pending.get(&future.rep()).map(|p| p.done.clone());
    let pollable = table.push(BodyDone(done))?;
    wasmtime_wasi::p2::subscribe(table, pollable)
}

/// Ready when its body is whole (or when there is no body to wait for).
struct BodyDone(Option<tokio::sync::watch::Receiver<bool>>);

impl Pollable for BodyDone {
    fn ready<'a, 'b>(&'a mut self) -> Pin<Box<dyn Future<Output = ()> + Send + 'b>>
    where
        'a: 'b,
        Self: 'b,
    {
        Box::pin(async move {
            if let Some(done) = &mut self.0 {
                // A closed channel means the collector ended: ready too.
                let _ = done.wait_for(|done| *done).await;
            }
        })
    }
}

/// The request `request` stands for, with an empty body for now.
fn head(
    request: &HostOutgoingRequest,
    options: Option<RequestOptions>,
) -> Result<HttpRequest, ErrorCode> {
    let method = match &request.method {
        Method::Get => "GET",
        Method::Head => "HEAD",
        Method::Post => "POST",
        Method::Put => "PUT",
        Method::Delete => "DELETE",
        Method::Connect => "CONNECT",
        Method::Options => "OPTIONS",
        Method::Trace => "TRACE",
        Method::Patch => "PATCH",
        Method::Other(other) => other.as_str(),
    };
    let scheme = match &request.scheme {
        None | Some(Scheme::Https) => "https",
        Some(Scheme::Http) => "http",
        Some(Scheme::Other(_)) => return Err(ErrorCode::HttpProtocolError),
    };
    let authority = request
        .authority
        .as_deref()
        .filter(|a| !a.is_empty())
        .ok_or(ErrorCode::HttpRequestUriInvalid)?;
    let path = request.path_with_query.as_deref().unwrap_or("/");
    let mut headers = Vec::new();
    for (name, value) in request.headers.iter() {
        let value = value
            .to_str()
            .map_err(|_| ErrorCode::HttpRequestHeaderSize(None))?;
        headers.push((name.as_str().to_string(), value.to_string()));
    }
    let timeout = options.and_then(|o| o.first_byte_timeout.or(o.connect_timeout));
    Ok(HttpRequest {
        method: method.to_string(),
        url: format!("{scheme}://{authority}{path}"),
        headers,
        body: Vec::new(),
        timeout_ms: timeout.map(|t| u32::try_from(t.as_millis()).unwrap_or(u32::MAX)),
    })
}

/// The bytes of `body` (none when the guest never asked for one), counted in `held` (the
/// store's); an error when the guest aborts it or the store would hold more than
/// [`MAX_REQUEST_BODY`], its bytes then no longer counted. A body over the bound is read to
/// its end and dropped, so the guest's writes succeed and `get` tells it why.
async fn collect(
    body: Option<HyperOutgoingBody>,
    held: &AtomicUsize,
) -> Result<Vec<u8>, ErrorCode> {
    let Some(mut body) = body else {
        return Ok(Vec::new());
    };
    let mut bytes = Vec::new();
    let failed = |bytes: &Vec<u8>, code: ErrorCode| {
        held.fetch_sub(bytes.len(), Ordering::Relaxed);
        Err(code)
    };
    while let Some(frame) = body.frame().await {
        let Ok(frame) = frame else {
            return failed(&bytes, ErrorCode::HttpRequestBodySize(None));
        };
        if let Ok(data) = frame.into_data() {
            if held.fetch_add(data.len(), Ordering::Relaxed) + data.len() > MAX_REQUEST_BODY {
                held.fetch_sub(data.len(), Ordering::Relaxed);
                while let Some(Ok(_)) = body.frame().await {}
                let limit = Some(MAX_REQUEST_BODY as u64);
                return failed(&bytes, ErrorCode::HttpRequestBodySize(limit));
            }
            bytes.extend_from_slice(&data);
        }
    }
    Ok(bytes)
}

/// The response to the request behind `future`: its journaled step, taken now; not ready
/// while the guest has not finished the request's body.
async fn get(
    ctx: &mut InvocationCtx,
    future: Resource<HostFutureIncomingResponse>,
) -> wasmtime::Result<GetResult> {
    let pending = &mut ctx.http_parts().1.pending;
    match pending.get(&future.rep()) {
        Some(request) if !*request.done.borrow() => return Ok(None),
        Some(_) => {}
        // Asked for a second time.
        None => return Ok(Some(Err(()))),
    }
    let Some(Pending { mut head, body, .. }) = pending.remove(&future.rep()) else {
        return Ok(Some(Err(())));
    };
    let body = match body.await {
        Ok(Ok(body)) => body,
        Ok(Err(code)) => return Ok(Some(Ok(Err(code)))),
        Err(join) => return Err(wasmtime::Error::msg(format!("request body: {join}"))),
    };
    head.body = body;
    let outcome = super::http::send(ctx.steps_mut(), &head).await;
    ctx.http_parts()
        .1
        .held
        .fetch_sub(head.body.len(), Ordering::Relaxed);
    let outcome = outcome?;
    let (table, _, hooks) = ctx.http_parts();
    let response = match outcome {
        Ok(response) => response,
        Err(error) => return Ok(Some(Ok(Err(error_code(error))))),
    };
    let HttpResponse {
        status,
        headers,
        body,
    } = response;
    let body = Full::new(Bytes::from(body))
        .map_err(|never| match never {})
        .boxed_unsync();
    let incoming = HostIncomingResponse {
        status,
        headers: FieldMap::new_immutable(hooks, header_map(headers)),
        body: Some(HostIncomingBody::new(body)),
    };
    Ok(Some(Ok(Ok(table.push(incoming)?))))
}

/// Recorded response headers as a map (a name or value that does not parse is left out).
fn header_map(headers: Vec<(String, String)>) -> HeaderMap {
    let mut map = HeaderMap::new();
    for (name, value) in headers {
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(&value),
        ) {
            map.append(name, value);
        }
    }
    map
}

/// A journaled transport error as wasi:http's error code (a refused request keeps its reason,
/// e.g. the egress policy's).
fn error_code(error: HttpError) -> ErrorCode {
    match error {
        HttpError::InvalidRequest(message) => ErrorCode::InternalError(Some(message)),
        HttpError::Connect(_) => ErrorCode::ConnectionRefused,
        HttpError::Timeout => ErrorCode::HttpResponseTimeout,
        HttpError::Transport(_) => ErrorCode::ConnectionTerminated,
        HttpError::ResponseTooLarge(limit) => ErrorCode::HttpResponseBodySize(Some(limit)),
    }
}
