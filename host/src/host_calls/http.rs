//! Outgoing HTTP: the live client, and the journaled `http-send` host call with its retries.
//!
//! An `http-send` step is performed as a series of attempts. Before each, the destination
//! (tenant, host:port) must grant a permit (its adaptive concurrency limit, circuit breaker
//! and rate limit); after each, the outcome is reported to it. A transient outcome is retried
//! under the invocation's [`RetryPolicy`] after a backoff; a wait up to a second is spent in
//! memory, a longer one suspends the invocation with the attempts made so far kept on disk.
//! Only the final outcome is journaled, with the number of attempts.

use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::Uri;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

use std::collections::HashMap;
use std::sync::Arc;

use super::egress::{NameDenied, PolicyResolver};
use super::{Live, SHORT_SLEEP, StepRequest, Steps, Suspend, mismatched};
use crate::bindings::{self, HttpRequest};
use crate::journal::{HttpError, HttpOutcome, HttpResponse, Outcome, RetryState, StepEffect};
use crate::metrics::METRICS;
use crate::outbound::{Admit, EgressPolicy, Exhausted, Narrowing, Verdict, retry_after, transient};

/// Timeout of a request that sets none.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
/// Largest response body the host accepts (it is journaled).
pub const MAX_RESPONSE_BYTES: u64 = 16 * 1024 * 1024;
/// The header that lets a receiver drop a request repeated after a crash.
pub const IDEMPOTENCY_KEY: &str = "idempotency-key";

/// Pooled connections, each made under one policy and one narrowing of it.
type Connections = Client<hyper_rustls::HttpsConnector<HttpConnector<PolicyResolver>>, Full<Bytes>>;

/// How many narrowed sets of connections are kept (one per distinct set of rules in use);
/// past it, they are all dropped and made again as needed.
const MAX_NARROWED: usize = 1024;

/// A shared HTTP/1 client for `http://` and `https://` (webpki roots), under an egress
/// policy. A connection is reused only under the rules it was made under: requests under
/// other rules have connections of their own.
#[derive(Clone)]
pub struct HttpClient {
    policy: Arc<EgressPolicy>,
    /// Connections under the host's policy alone.
    open: Connections,
    /// Connections under a tenant's or a deployment's rules besides.
    narrowed: Arc<std::sync::Mutex<HashMap<Arc<Narrowing>, Connections>>>,
}

/// Connections reaching only what `policy` and `narrowing` allow.
fn connections(policy: Arc<EgressPolicy>, narrowing: Arc<Narrowing>) -> Connections {
    let mut http = HttpConnector::new_with_resolver(PolicyResolver::new(policy, narrowing));
    http.enforce_http(false);
    let connector = hyper_rustls::HttpsConnectorBuilder::new()
        .with_webpki_roots()
        .https_or_http()
        .enable_http1()
        .wrap_connector(http);
    Client::builder(TokioExecutor::new())
        .pool_idle_timeout(Duration::from_secs(30))
        .build(connector)
}

impl HttpClient {
    /// A client with the platform-independent webpki trust roots, reaching only what
    /// `policy` allows.
    pub fn new(policy: EgressPolicy) -> Self {
        let policy = Arc::new(policy);
        HttpClient {
            open: connections(policy.clone(), Arc::default()),
            policy,
            narrowed: Arc::default(),
        }
    }

    /// The connections to use under `narrowing`.
    fn connections(&self, narrowing: &Arc<Narrowing>) -> Connections {
        if narrowing.is_open() {
            return self.open.clone();
        }
        let Ok(mut narrowed) = self.narrowed.lock() else {
            // Poisoned: connections of this request's own.
            return connections(self.policy.clone(), narrowing.clone());
        };
        if let Some(made) = narrowed.get(narrowing) {
            return made.clone();
        }
        if narrowed.len() >= MAX_NARROWED {
            narrowed.clear();
        }
        let made = connections(self.policy.clone(), narrowing.clone());
        narrowed.insert(narrowing.clone(), made.clone());
        made
    }

    /// Sends `req` with `Idempotency-Key: idempotency_key` and reads the whole response,
    /// under the host's policy narrowed by `narrowing`. A request either denies is never
    /// sent: it is an invalid request.
    pub async fn send(
        &self,
        req: &HttpRequest,
        idempotency_key: &str,
        narrowing: &Arc<Narrowing>,
    ) -> HttpOutcome {
        let request = build(req, idempotency_key)?;
        self.check_egress(request.uri(), narrowing).await?;
        let timeout = req
            .timeout_ms
            .map_or(DEFAULT_TIMEOUT, |ms| Duration::from_millis(ms.into()));
        let client = self.connections(narrowing);
        let exchange = async {
            let response = client.request(request).await.map_err(|e| {
                if let Some(denied) = name_denied(&e) {
                    HttpError::InvalidRequest(denied.to_string())
                } else if e.is_connect() {
                    HttpError::Connect(error_chain(&e))
                } else {
                    HttpError::Transport(error_chain(&e))
                }
            })?;
            let (parts, body) = response.into_parts();
            let body = Limited::new(body, MAX_RESPONSE_BYTES as usize)
                .collect()
                .await
                .map_err(|e| {
                    if e.is::<http_body_util::LengthLimitError>() {
                        HttpError::ResponseTooLarge(MAX_RESPONSE_BYTES)
                    } else {
                        HttpError::Transport(e.to_string())
                    }
                })?
                .to_bytes();
            let headers = parts
                .headers
                .iter()
                .map(|(name, value)| {
                    (
                        name.as_str().to_string(),
                        String::from_utf8_lossy(value.as_bytes()).into_owned(),
                    )
                })
                .collect();
            Ok(HttpResponse {
                status: parts.status.as_u16(),
                headers,
                body: body.to_vec(),
            })
        };
        tokio::time::timeout(timeout, exchange)
            .await
            .unwrap_or(Err(HttpError::Timeout))
    }
}

impl HttpClient {
    /// Refuses `uri` before anything is sent if `narrowing` does not allow its host and port,
    /// if its host is an address the policy denies, or if it is the host's own API (by
    /// address, or by a name that resolves to it).
    async fn check_egress(&self, uri: &Uri, narrowing: &Narrowing) -> Result<(), HttpError> {
        let denied = |d: crate::outbound::Denied| HttpError::InvalidRequest(d.to_string());
        let host = uri.host().unwrap_or_default();
        let host = host.trim_start_matches('[').trim_end_matches(']');
        let https = uri.scheme_str() == Some("https");
        let port = uri.port_u16().unwrap_or(if https { 443 } else { 80 });
        narrowing
            .check_request(host, port)
            .map_err(|n| HttpError::InvalidRequest(n.to_string()))?;
        if let Ok(ip) = host.parse::<std::net::IpAddr>() {
            return self
                .policy
                .check(std::net::SocketAddr::new(ip, port))
                .map_err(denied);
        }
        // A name: its addresses are checked again as the connection resolves it; here, only
        // whether it names the host's own API.
        if self.policy.guards_port(port)
            && let Ok(addrs) = tokio::net::lookup_host((host, port)).await
        {
            for addr in addrs {
                self.policy.check(addr).map_err(denied)?;
            }
        }
        Ok(())
    }
}

/// The egress refusal in `err`'s chain of causes, if there is one.
fn name_denied<'e>(err: &'e (dyn std::error::Error + 'static)) -> Option<&'e NameDenied> {
    let mut source = Some(err);
    while let Some(cause) = source {
        if let Some(denied) = cause.downcast_ref::<NameDenied>() {
            return Some(denied);
        }
        // The resolver's refusal travels inside an `io::Error`, whose `source` skips it.
        if let Some(denied) = cause
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
            .and_then(|inner| inner.downcast_ref::<NameDenied>())
        {
            return Some(denied);
        }
        source = cause.source();
    }
    None
}

/// Validates `req` and turns it into a hyper request.
fn build(
    req: &HttpRequest,
    idempotency_key: &str,
) -> Result<hyper::Request<Full<Bytes>>, HttpError> {
    let invalid = |m: String| HttpError::InvalidRequest(m);
    let method = hyper::Method::from_bytes(req.method.as_bytes())
        .map_err(|_| invalid(format!("`{}` is not an HTTP method", req.method)))?;
    let uri: Uri = req
        .url
        .parse()
        .map_err(|e| invalid(format!("`{}` is not a URL: {e}", req.url)))?;
    match uri.scheme_str() {
        Some("http" | "https") if uri.host().is_some() => {}
        _ => {
            return Err(invalid(format!(
                "`{}` is not an absolute http:// or https:// URL",
                req.url
            )));
        }
    }
    let mut builder = hyper::Request::builder().method(method).uri(uri);
    for (name, value) in &req.headers {
        if name.eq_ignore_ascii_case(IDEMPOTENCY_KEY) {
            continue;
        }
        let name = hyper::header::HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| invalid(format!("`{name}` is not a valid header name")))?;
        let value = hyper::header::HeaderValue::from_str(value)
            .map_err(|_| invalid(format!("the value of header `{name}` is not valid")))?;
        builder = builder.header(name, value);
    }
    builder
        .header(IDEMPOTENCY_KEY, idempotency_key)
        .body(Full::new(Bytes::copy_from_slice(&req.body)))
        .map_err(|e| invalid(e.to_string()))
}

/// An error and its sources, joined with ": ".
fn error_chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// Live part of an HTTP step: attempts until an outcome is final; returns it, the number of
/// attempts, and what appending it entails (dropping the attempts kept while it was
/// suspended). Fails with [`Suspend::Retry`] when the next attempt is more than a second away.
pub(super) async fn perform(
    live: &Live<'_>,
    req: &HttpRequest,
) -> wasmtime::Result<(HttpOutcome, u32, StepEffect)> {
    let running = live.running;
    let policy = &running.retry;
    let key = running.idempotency_key(live.seq, live.store.history_len(running.id)?);
    let kept = live.store.retry_state(running.id, live.seq)?;
    let effect = match kept {
        Some(_) => StepEffect::EndRetries,
        None => StepEffect::None,
    };
    let RetryState {
        mut attempts,
        first_ms,
    } = kept.unwrap_or(RetryState {
        attempts: 0,
        first_ms: crate::clock::now_ms(),
    });
    let destination =
        destination_of(req).map(|d| live.services.destinations.get(running.tenant.as_str(), &d));
    loop {
        let permit = match &destination {
            Some(d) => match d.admit().await {
                Admit::Go(permit) => Some(permit),
                Admit::Wait(wait) => {
                    pause(live, wait, RetryState { attempts, first_ms }).await?;
                    continue;
                }
            },
            None => None,
        };
        let outcome = live.services.http.send(req, &key, &running.egress).await;
        attempts += 1;
        METRICS.http_attempt(live.running.tenant.as_str());
        if let (Some(d), Some(permit)) = (&destination, permit) {
            d.record(permit, verdict(&outcome));
        }
        if transient(&outcome) && attempts < policy.max_attempts {
            let wait = policy.backoff(attempts, outcome.as_ref().ok().and_then(retry_after));
            let next_ms = crate::clock::now_ms() + wait.as_millis() as u64;
            if next_ms <= first_ms.saturating_add(policy.deadline_ms) {
                METRICS.http_retry();
                pause(live, wait, RetryState { attempts, first_ms }).await?;
                continue;
            }
        }
        if transient(&outcome) && running.exhausted == Exhausted::Pause {
            let last = match &outcome {
                Ok(response) => format!("HTTP {}", response.status),
                Err(err) => err.to_string(),
            };
            return Err(Suspend::Exhausted {
                seq: live.seq,
                why: format!(
                    "{attempts} attempts at {} {} failed, the last with {last}",
                    req.method, req.url
                ),
            }
            .into());
        }
        return Ok((outcome, attempts, effect));
    }
}

/// Waits `wait` in memory if it is short, else suspends the invocation until then.
async fn pause(live: &Live<'_>, wait: Duration, retry: RetryState) -> wasmtime::Result<()> {
    if wait <= SHORT_SLEEP {
        tokio::time::sleep(wait).await;
        return Ok(());
    }
    Err(Suspend::Retry {
        seq: live.seq,
        due_ms: crate::clock::now_ms() + wait.as_millis() as u64,
        retry,
    }
    .into())
}

/// What an outcome says about its destination.
fn verdict(outcome: &HttpOutcome) -> Verdict {
    match outcome {
        Ok(response) => match response.status {
            408 | 429 => Verdict::Overloaded,
            500..=599 => Verdict::Failed,
            _ => Verdict::Success,
        },
        Err(HttpError::Timeout) => Verdict::Overloaded,
        Err(HttpError::Connect(_) | HttpError::Transport(_)) => Verdict::Failed,
        Err(HttpError::InvalidRequest(_) | HttpError::ResponseTooLarge(_)) => Verdict::Success,
    }
}

/// `host:port` of the request's URL (the default port of its scheme when none is given).
fn destination_of(req: &HttpRequest) -> Option<String> {
    let uri: Uri = req.url.parse().ok()?;
    let host = uri.host()?;
    let port = uri
        .port_u16()
        .unwrap_or(if uri.scheme_str() == Some("https") {
            443
        } else {
            80
        });
    Some(format!("{host}:{port}"))
}

/// Journaled HTTP request.
pub async fn send(
    steps: &mut Steps,
    request: &HttpRequest,
) -> wasmtime::Result<Result<bindings::HttpResponse, bindings::HttpError>> {
    match steps.take(StepRequest::Http(request)).await? {
        Outcome::Http(result) => Ok(result.map(to_guest_response).map_err(to_guest_error)),
        other => Err(mismatched("http", &other)),
    }
}

/// A recorded response as the guest receives it.
fn to_guest_response(response: HttpResponse) -> bindings::HttpResponse {
    bindings::HttpResponse {
        status: response.status,
        headers: response.headers,
        body: response.body,
    }
}

/// A recorded transport error as the guest receives it.
fn to_guest_error(error: HttpError) -> bindings::HttpError {
    match error {
        HttpError::InvalidRequest(m) => bindings::HttpError::InvalidRequest(m),
        HttpError::Connect(m) => bindings::HttpError::Connect(m),
        HttpError::Timeout => bindings::HttpError::Timeout,
        HttpError::Transport(m) => bindings::HttpError::Transport(m),
        HttpError::ResponseTooLarge(limit) => bindings::HttpError::ResponseTooLarge(limit),
    }
}
