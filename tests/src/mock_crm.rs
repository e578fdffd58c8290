//! A mock Salesforce-like CRM REST API, for tests that export users.
//!
//! Routes:
//!
//! * `POST /services/data/v52.0/sobjects/User` ([`USERS_PATH`]) — needs
//!   `Authorization: Bearer <token>` (else 401) and a JSON object with string
//!   fields `FirstName`, `LastName`, `Email` (else 400 naming the field).
//!   Answers `201 {"id": ID, "success": true, "errors": []}` where `ID` is
//!   [`user_id_for`]`(email)`, so re-runs give identical ids. Every request to
//!   this route is counted under its `Idempotency-Key` header (`""` when
//!   absent); a repeated key for the same user gets the same id and is still
//!   counted; a key reused for a *different* user is answered 422.
//! * `GET /stats` ([`STATS_PATH`]) — a [`StatsSummary`] as JSON.
//!
//! Errors use Salesforce's shape: a JSON array of
//! `{"message", "errorCode", "fields"}` objects.
//!
//! Request handling is split into *admission* (counting, concurrency
//! tracking, limits) and *processing*. Optional limits, like a real SaaS API:
//! at most [`MockCrmConfig::max_concurrency`] requests at once and
//! [`MockCrmConfig::rate_limit`] per second (above either: 429 with
//! `Retry-After: 1`), and an [`Outage`] window answering 503.

use std::collections::{BTreeMap, HashMap};
use std::convert::Infallible;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full, LengthLimitError, Limited};
use hyper::body::Incoming;
use hyper::header::{self, HeaderMap, HeaderValue};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use rand::Rng;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;
use tokio::task::{JoinHandle, JoinSet};

/// Path of the "create user" endpoint.
pub const USERS_PATH: &str = "/services/data/v52.0/sobjects/User";
/// Path of the statistics endpoint.
pub const STATS_PATH: &str = "/stats";
/// Name of the header requests are counted by.
pub const IDEMPOTENCY_KEY_HEADER: &str = "idempotency-key";
/// Bearer token accepted by default.
pub const DEFAULT_TOKEN: &str = "test-token";
/// Port the `mock-crm` binary listens on by default.
pub const DEFAULT_PORT: u16 = 7480;
/// Largest accepted request body; larger ones are answered 413.
pub const MAX_BODY_BYTES: usize = 1 << 20;

/// Response body type of the mock.
type Body = Full<Bytes>;

/// Artificial processing time added to every request to [`USERS_PATH`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Latency {
    /// Answer immediately.
    #[default]
    None,
    /// Always wait this long.
    Fixed(Duration),
    /// Wait a uniformly random time in `min..=max`.
    Uniform {
        /// Shortest wait.
        min: Duration,
        /// Longest wait.
        max: Duration,
    },
}

impl Latency {
    /// A fixed latency of `ms` milliseconds.
    pub fn fixed_ms(ms: u64) -> Self {
        Self::Fixed(Duration::from_millis(ms))
    }

    /// A uniformly random latency between `min_ms` and `max_ms` milliseconds inclusive.
    pub fn uniform_ms(min_ms: u64, max_ms: u64) -> Self {
        Self::Uniform {
            min: Duration::from_millis(min_ms),
            max: Duration::from_millis(max_ms),
        }
    }

    /// Parses `"N"` (fixed) or `"MIN..MAX"` / `"MIN..=MAX"` (uniform, inclusive), in milliseconds.
    pub fn parse_ms(s: &str) -> Result<Self, String> {
        let num = |part: &str| {
            part.trim()
                .parse::<u64>()
                .map_err(|e| format!("invalid milliseconds {part:?}: {e}"))
        };
        match s.trim().split_once("..") {
            Some((min, max)) => {
                let max = max.strip_prefix('=').unwrap_or(max);
                let (min, max) = (num(min)?, num(max)?);
                if min > max {
                    return Err(format!("latency range {s:?} is empty (min > max)"));
                }
                Ok(Self::uniform_ms(min, max))
            }
            None => Ok(Self::fixed_ms(num(s)?)),
        }
    }

    /// Draws one delay.
    pub fn sample(&self) -> Duration {
        match *self {
            Self::None => Duration::ZERO,
            Self::Fixed(d) => d,
            Self::Uniform { min, max } => {
                let (lo, hi) = if min <= max { (min, max) } else { (max, min) };
                if lo == hi {
                    lo
                } else {
                    rand::rng().random_range(lo..=hi)
                }
            }
        }
    }
}

/// Configuration of a [`MockCrm`]; build with `..Default::default()`.
#[derive(Debug, Clone)]
pub struct MockCrmConfig {
    /// Address to bind; the default `127.0.0.1:0` picks a free port.
    pub listen: SocketAddr,
    /// Bearer token required on [`USERS_PATH`].
    pub token: String,
    /// Artificial latency of each [`USERS_PATH`] request.
    pub latency: Latency,
    /// Most requests handled at once; more get 429.
    pub max_concurrency: Option<usize>,
    /// Most requests accepted per second (sliding one-second window); more get 429.
    pub rate_limit: Option<usize>,
    /// A window of 503s.
    pub outage: Option<Outage>,
}

/// A maintenance window: every request to [`USERS_PATH`] is answered 503 from `start` after
/// the first request, for `length`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Outage {
    /// Since the first request.
    pub start: Duration,
    /// How long it lasts.
    pub length: Duration,
}

impl Outage {
    /// Parses `START+LENGTH` in seconds, e.g. `5+10`.
    pub fn parse_secs(s: &str) -> Result<Self, String> {
        let (start, length) = s
            .split_once('+')
            .ok_or_else(|| format!("outage must be START+LENGTH in seconds, got {s:?}"))?;
        let secs = |part: &str| {
            part.trim()
                .parse::<f64>()
                .ok()
                .filter(|v| v.is_finite() && *v >= 0.0)
                .map(Duration::from_secs_f64)
                .ok_or_else(|| format!("invalid seconds {part:?} in outage {s:?}"))
        };
        Ok(Self {
            start: secs(start)?,
            length: secs(length)?,
        })
    }
}

impl Default for MockCrmConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 0),
            token: DEFAULT_TOKEN.to_owned(),
            latency: Latency::None,
            max_concurrency: None,
            rate_limit: None,
            outage: None,
        }
    }
}

/// What the mock saw of one request to [`USERS_PATH`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestRecord {
    /// `Idempotency-Key` header (lossily decoded), `""` if absent.
    pub key: String,
    /// The body's `Email` field, if it had a string one.
    pub email: Option<String>,
    /// Status answered; `None` while in flight or if the client went away.
    pub status: Option<StatusCode>,
    /// When the request's headers were received.
    pub received: Instant,
    /// When the response was handed to the connection; `None` as for `status`.
    pub responded: Option<Instant>,
}

/// Snapshot of everything a [`MockCrm`] has seen.
#[derive(Debug, Clone, Default)]
pub struct Stats {
    /// Requests to [`USERS_PATH`], whatever their outcome.
    pub requests: usize,
    /// Request count per idempotency key (`""` for requests without one).
    pub per_key: BTreeMap<String, u32>,
    /// Receive instants per idempotency key, in arrival order.
    pub received: BTreeMap<String, Vec<Instant>>,
    /// Every request, in arrival order.
    pub records: Vec<RequestRecord>,
    /// Distinct users created (by email).
    pub users: usize,
    /// Id of every created user, by email.
    pub user_ids: BTreeMap<String, String>,
    /// Requests currently being handled.
    pub in_flight: usize,
    /// Highest number of requests handled at once.
    pub max_concurrency: usize,
    /// Requests answered 429 (over the concurrency or rate limit).
    pub throttled: usize,
    /// Requests answered 503 (outage).
    pub unavailable: usize,
    /// When the first request arrived.
    pub first_request: Option<Instant>,
}

impl Stats {
    /// Number of non-empty idempotency keys that got exactly one 201 and no other 2xx.
    pub fn delivered_once(&self) -> usize {
        let mut created: BTreeMap<&str, u32> = BTreeMap::new();
        for record in &self.records {
            if record.status == Some(StatusCode::CREATED) && !record.key.is_empty() {
                *created.entry(&record.key).or_default() += 1;
            }
        }
        created.values().filter(|&&n| n == 1).count()
    }

    /// Highest number of requests in flight at once among those received at or after
    /// `from` (from the request records).
    pub fn peak_concurrency_since(&self, from: Instant) -> usize {
        let mut events: Vec<(Instant, i32)> = Vec::new();
        for r in &self.records {
            if r.received >= from {
                events.push((r.received, 1));
                events.push((r.responded.unwrap_or(r.received), -1));
            }
        }
        events.sort();
        let (mut now, mut peak) = (0i32, 0i32);
        for (_, delta) in events {
            now += delta;
            peak = peak.max(now);
        }
        peak.max(0) as usize
    }

    /// Number of requests seen with idempotency key `key`.
    pub fn count(&self, key: &str) -> u32 {
        self.per_key.get(key).copied().unwrap_or(0)
    }

    /// Number of distinct non-empty idempotency keys.
    pub fn distinct_keys(&self) -> usize {
        self.keyed().count()
    }

    /// Number of non-empty idempotency keys seen more than once.
    pub fn duplicate_keys(&self) -> usize {
        self.keyed().filter(|&(_, &n)| n > 1).count()
    }

    /// Number of requests beyond the first per non-empty idempotency key.
    pub fn duplicate_requests(&self) -> usize {
        self.keyed()
            .map(|(_, &n)| n.saturating_sub(1) as usize)
            .sum()
    }

    /// Number of requests without an idempotency key.
    pub fn unkeyed_requests(&self) -> usize {
        self.count("") as usize
    }

    /// The counters served by `GET /stats`.
    pub fn summary(&self) -> StatsSummary {
        StatsSummary {
            requests: self.requests,
            distinct_keys: self.distinct_keys(),
            duplicate_keys: self.duplicate_keys(),
            duplicate_requests: self.duplicate_requests(),
            unkeyed_requests: self.unkeyed_requests(),
            users: self.users,
            in_flight: self.in_flight,
            max_concurrency: self.max_concurrency,
            throttled: self.throttled,
            unavailable: self.unavailable,
        }
    }

    /// Per-key counts without the `""` (no key) entry.
    fn keyed(&self) -> impl Iterator<Item = (&String, &u32)> {
        self.per_key.iter().filter(|(k, _)| !k.is_empty())
    }
}

/// The JSON body of `GET /stats`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct StatsSummary {
    /// See [`Stats::requests`].
    pub requests: usize,
    /// See [`Stats::distinct_keys`].
    pub distinct_keys: usize,
    /// See [`Stats::duplicate_keys`].
    pub duplicate_keys: usize,
    /// See [`Stats::duplicate_requests`].
    pub duplicate_requests: usize,
    /// See [`Stats::unkeyed_requests`].
    pub unkeyed_requests: usize,
    /// See [`Stats::users`].
    pub users: usize,
    /// See [`Stats::in_flight`].
    pub in_flight: usize,
    /// See [`Stats::max_concurrency`].
    pub max_concurrency: usize,
    /// See [`Stats::throttled`].
    #[serde(default)]
    pub throttled: usize,
    /// See [`Stats::unavailable`].
    #[serde(default)]
    pub unavailable: usize,
}

impl StatsSummary {
    /// This summary as a one-line JSON object.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|e| format!(r#"{{"error":"{e}"}}"#))
    }
}

/// The deterministic id of the user with this email: `"005"` + 12 hex digits of its SHA-256.
pub fn user_id_for(email: &str) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let digest = Sha256::digest(email.as_bytes());
    let mut id = String::with_capacity(15);
    id.push_str("005");
    for &b in digest.iter().take(6) {
        id.push(char::from(HEX[usize::from(b >> 4)]));
        id.push(char::from(HEX[usize::from(b & 0x0f)]));
    }
    id
}

/// A running mock CRM server; stops on [`MockCrm::shutdown`] or drop.
#[derive(Debug)]
pub struct MockCrm {
    /// Bound address.
    addr: SocketAddr,
    /// State shared with the connection tasks.
    shared: Arc<Shared>,
    /// Tells the accept loop to stop.
    stop: Option<oneshot::Sender<()>>,
    /// The accept loop.
    task: Option<JoinHandle<()>>,
}

impl MockCrm {
    /// Binds `config.listen` and serves on the current tokio runtime (error if there is none).
    pub fn start(config: MockCrmConfig) -> io::Result<Self> {
        let runtime = tokio::runtime::Handle::try_current().map_err(io::Error::other)?;
        let listener = std::net::TcpListener::bind(config.listen)?;
        listener.set_nonblocking(true)?;
        let listener = {
            let _entered = runtime.enter();
            TcpListener::from_std(listener)?
        };
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared {
            config,
            state: Mutex::new(State::default()),
        });
        let (stop, stopped) = oneshot::channel();
        let task = runtime.spawn(accept_loop(listener, Arc::clone(&shared), stopped));
        Ok(Self {
            addr,
            shared,
            stop: Some(stop),
            task: Some(task),
        })
    }

    /// The address the server is bound to.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Base URL, e.g. `http://127.0.0.1:7480` (loopback if bound to an unspecified address).
    pub fn url(&self) -> String {
        let ip = match self.addr.ip() {
            IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
            IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
            ip => ip,
        };
        format!("http://{}", SocketAddr::new(ip, self.addr.port()))
    }

    /// Full URL of the "create user" endpoint.
    pub fn users_url(&self) -> String {
        format!("{}{USERS_PATH}", self.url())
    }

    /// The configuration the server runs with.
    pub fn config(&self) -> &MockCrmConfig {
        &self.shared.config
    }

    /// A snapshot of the counters and request records.
    pub fn stats(&self) -> Stats {
        self.shared.lock().snapshot()
    }

    /// Stops accepting, closes open connections and waits for the server task to end.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for MockCrm {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

/// State shared between the handle and the connection tasks.
#[derive(Debug)]
struct Shared {
    /// Immutable configuration.
    config: MockCrmConfig,
    /// Mutable counters.
    state: Mutex<State>,
}

impl Shared {
    /// Locks the state, ignoring poisoning (nothing panics while holding it).
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Counters and records behind [`Shared::state`].
#[derive(Debug, Default)]
struct State {
    /// See [`Stats::requests`].
    requests: usize,
    /// See [`Stats::per_key`].
    per_key: BTreeMap<String, u32>,
    /// See [`Stats::received`].
    received: BTreeMap<String, Vec<Instant>>,
    /// See [`Stats::records`].
    records: Vec<RequestRecord>,
    /// Email each non-empty key first created a user for.
    key_emails: HashMap<String, String>,
    /// See [`Stats::user_ids`].
    user_ids: BTreeMap<String, String>,
    /// See [`Stats::in_flight`].
    in_flight: usize,
    /// See [`Stats::max_concurrency`].
    max_concurrency: usize,
    /// See [`Stats::throttled`].
    throttled: usize,
    /// See [`Stats::unavailable`].
    unavailable: usize,
    /// See [`Stats::first_request`].
    first_request: Option<Instant>,
    /// When each request accepted in the last second arrived (for the rate limit).
    accepted: std::collections::VecDeque<Instant>,
}

impl State {
    /// Copies the state into a [`Stats`].
    fn snapshot(&self) -> Stats {
        Stats {
            requests: self.requests,
            per_key: self.per_key.clone(),
            received: self.received.clone(),
            records: self.records.clone(),
            users: self.user_ids.len(),
            user_ids: self.user_ids.clone(),
            in_flight: self.in_flight,
            max_concurrency: self.max_concurrency,
            throttled: self.throttled,
            unavailable: self.unavailable,
            first_request: self.first_request,
        }
    }

    /// The limit a request arriving at `now` breaks, if any (counting it when it does not).
    fn check_limits(&mut self, config: &MockCrmConfig, now: Instant) -> Option<StatusCode> {
        let first = *self.first_request.get_or_insert(now);
        if let Some(outage) = config.outage {
            let since = now.duration_since(first);
            if since >= outage.start && since < outage.start + outage.length {
                self.unavailable += 1;
                return Some(StatusCode::SERVICE_UNAVAILABLE);
            }
        }
        // `in_flight` already counts this request.
        if config
            .max_concurrency
            .is_some_and(|max| self.in_flight > max)
        {
            self.throttled += 1;
            return Some(StatusCode::TOO_MANY_REQUESTS);
        }
        if let Some(rate) = config.rate_limit {
            while self
                .accepted
                .front()
                .is_some_and(|t| now.duration_since(*t) >= Duration::from_secs(1))
            {
                self.accepted.pop_front();
            }
            if self.accepted.len() >= rate {
                self.throttled += 1;
                return Some(StatusCode::TOO_MANY_REQUESTS);
            }
            self.accepted.push_back(now);
        }
        None
    }
}

/// One counted, in-flight request to [`USERS_PATH`]; leaves the in-flight count on drop.
#[derive(Debug)]
struct Admission {
    /// Where to report.
    shared: Arc<Shared>,
    /// Index of this request's [`RequestRecord`].
    record: usize,
}

impl Admission {
    /// Counts a request that arrived at `received` with idempotency key `key`.
    fn admit(shared: &Arc<Shared>, key: String, received: Instant) -> Self {
        let mut state = shared.lock();
        state.requests += 1;
        let count = state.per_key.entry(key.clone()).or_default();
        *count = count.saturating_add(1);
        state
            .received
            .entry(key.clone())
            .or_default()
            .push(received);
        state.in_flight += 1;
        state.max_concurrency = state.max_concurrency.max(state.in_flight);
        let record = state.records.len();
        state.records.push(RequestRecord {
            key,
            email: None,
            status: None,
            received,
            responded: None,
        });
        Self {
            shared: Arc::clone(shared),
            record,
        }
    }

    /// Records the outcome; the in-flight count drops when `self` does.
    fn finish(self, email: Option<String>, status: StatusCode) {
        let mut state = self.shared.lock();
        if let Some(record) = state.records.get_mut(self.record) {
            record.email = email;
            record.status = Some(status);
            record.responded = Some(Instant::now());
        }
    }
}

impl Drop for Admission {
    fn drop(&mut self) {
        let mut state = self.shared.lock();
        state.in_flight = state.in_flight.saturating_sub(1);
    }
}

/// Accepts connections until `stopped` fires (or its sender is dropped).
async fn accept_loop(
    listener: TcpListener,
    shared: Arc<Shared>,
    mut stopped: oneshot::Receiver<()>,
) {
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            _ = &mut stopped => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _peer)) => {
                    connections.spawn(serve_connection(stream, Arc::clone(&shared)));
                }
                // E.g. out of file descriptors: back off instead of spinning.
                Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
            },
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
    drop(listener);
    connections.shutdown().await;
}

/// Serves HTTP/1.1 on one connection.
async fn serve_connection(stream: TcpStream, shared: Arc<Shared>) {
    let _ = stream.set_nodelay(true);
    let service = service_fn(move |req| route(Arc::clone(&shared), req));
    // Connection errors (client went away, malformed HTTP) only end this connection.
    let _ = http1::Builder::new()
        .serve_connection(TokioIo::new(stream), service)
        .await;
}

/// Dispatches one request by path.
async fn route(shared: Arc<Shared>, req: Request<Incoming>) -> Result<Response<Body>, Infallible> {
    let response = match req.uri().path() {
        USERS_PATH => create_user(&shared, req).await,
        STATS_PATH if req.method() == Method::GET => {
            let summary = shared.lock().snapshot().summary();
            json_response(StatusCode::OK, summary.to_json())
        }
        STATS_PATH => method_not_allowed("GET"),
        _ => sf_error(
            StatusCode::NOT_FOUND,
            "NOT_FOUND",
            "The requested resource does not exist",
            &[],
        ),
    };
    Ok(response)
}

/// `POST /services/data/v52.0/sobjects/User`: counts, delays, validates, creates.
async fn create_user(shared: &Arc<Shared>, req: Request<Incoming>) -> Response<Body> {
    let received = Instant::now();
    let key = req
        .headers()
        .get(IDEMPOTENCY_KEY_HEADER)
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
        .unwrap_or_default();
    let admission = Admission::admit(shared, key.clone(), received);
    let refused = shared.lock().check_limits(&shared.config, received);
    if let Some(status) = refused {
        let response = limited(status);
        admission.finish(None, status);
        return response;
    }

    let delay = shared.config.latency.sample();
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }

    let (email, response) = process_user(shared, &key, req).await;
    admission.finish(email, response.status());
    response
}

/// Everything after admission and latency; returns the email seen (if any) and the response.
async fn process_user(
    shared: &Shared,
    key: &str,
    req: Request<Incoming>,
) -> (Option<String>, Response<Body>) {
    if req.method() != Method::POST {
        return (None, method_not_allowed("POST"));
    }
    if !authorized(req.headers(), &shared.config.token) {
        return (
            None,
            sf_error(
                StatusCode::UNAUTHORIZED,
                "INVALID_SESSION_ID",
                "Session expired or invalid",
                &[],
            ),
        );
    }
    let body = match read_body(req).await {
        Ok(body) => body,
        Err(response) => return (None, response),
    };
    let value: Value = match serde_json::from_slice(&body) {
        Ok(value) => value,
        Err(e) => {
            let message = format!("Request body is not valid JSON: {e}");
            return (
                None,
                sf_error(StatusCode::BAD_REQUEST, "JSON_PARSER_ERROR", &message, &[]),
            );
        }
    };
    let Some(fields) = value.as_object() else {
        return (
            None,
            sf_error(
                StatusCode::BAD_REQUEST,
                "JSON_PARSER_ERROR",
                "Request body must be a JSON object",
                &[],
            ),
        );
    };
    let email_str = match validate_user(fields) {
        Ok(email) => email.to_owned(),
        Err(errors) => {
            let email = fields
                .get("Email")
                .and_then(Value::as_str)
                .map(str::to_owned);
            return (email, json_response(StatusCode::BAD_REQUEST, errors));
        }
    };
    let email = Some(email_str.clone());

    let id = user_id_for(&email_str);
    {
        let mut state = shared.lock();
        if !key.is_empty() {
            match state.key_emails.get(key) {
                Some(first) if *first != email_str => {
                    let message = format!(
                        "Idempotency-Key {key:?} was already used for a different user ({first})"
                    );
                    drop(state);
                    return (
                        email,
                        sf_error(
                            StatusCode::UNPROCESSABLE_ENTITY,
                            "IDEMPOTENCY_KEY_CONFLICT",
                            &message,
                            &[],
                        ),
                    );
                }
                Some(_) => {}
                None => {
                    state.key_emails.insert(key.to_owned(), email_str.clone());
                }
            }
        }
        state.user_ids.insert(email_str, id.clone());
    }
    let body = json!({ "id": id, "success": true, "errors": [] });
    (email, json_response(StatusCode::CREATED, body.to_string()))
}

/// The answer to a request over a limit (429 with `Retry-After: 1`) or during an outage (503).
fn limited(status: StatusCode) -> Response<Body> {
    let (code, message) = if status == StatusCode::TOO_MANY_REQUESTS {
        (
            "REQUEST_LIMIT_EXCEEDED",
            "Too many requests; retry after 1 second",
        )
    } else {
        ("SERVER_UNAVAILABLE", "The service is down for maintenance")
    };
    let mut response = sf_error(status, code, message, &[]);
    if status == StatusCode::TOO_MANY_REQUESTS {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    }
    response
}

/// Whether `headers` carry `Authorization: Bearer <token>`.
fn authorized(headers: &HeaderMap, token: &str) -> bool {
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return false;
    };
    let Ok(value) = value.to_str() else {
        return false;
    };
    let Some((scheme, given)) = value.trim().split_once(' ') else {
        return false;
    };
    scheme.eq_ignore_ascii_case("bearer") && given.trim() == token
}

/// Reads the whole body, up to [`MAX_BODY_BYTES`].
async fn read_body(req: Request<Incoming>) -> Result<Bytes, Response<Body>> {
    let too_large = || {
        sf_error(
            StatusCode::PAYLOAD_TOO_LARGE,
            "REQUEST_ENTITY_TOO_LARGE",
            &format!("Request body exceeds {MAX_BODY_BYTES} bytes"),
            &[],
        )
    };
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|len| len > MAX_BODY_BYTES as u64) {
        return Err(too_large());
    }
    match Limited::new(req.into_body(), MAX_BODY_BYTES)
        .collect()
        .await
    {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(e) if e.downcast_ref::<LengthLimitError>().is_some() => Err(too_large()),
        Err(e) => Err(sf_error(
            StatusCode::BAD_REQUEST,
            "INVALID_REQUEST",
            &format!("Could not read request body: {e}"),
            &[],
        )),
    }
}

/// Checks the three required string fields; returns the email, or the error array as JSON.
fn validate_user(fields: &serde_json::Map<String, Value>) -> Result<&str, String> {
    let mut missing = Vec::new();
    let mut errors = Vec::new();
    for name in ["FirstName", "LastName", "Email"] {
        match fields.get(name) {
            None | Some(Value::Null) => missing.push(name),
            Some(Value::String(s)) if s.trim().is_empty() => missing.push(name),
            Some(Value::String(s)) if name == "Email" && !is_email(s) => errors.push(json!({
                "message": format!("Email: invalid email address: {s}"),
                "errorCode": "INVALID_EMAIL_ADDRESS",
                "fields": [name],
            })),
            Some(Value::String(_)) => {}
            Some(other) => errors.push(json!({
                "message": format!("{name}: expected a string, got {}", json_type(other)),
                "errorCode": "INVALID_TYPE_ON_FIELD_IN_RECORD",
                "fields": [name],
            })),
        }
    }
    if !missing.is_empty() {
        errors.insert(
            0,
            json!({
                "message": format!("Required fields are missing: [{}]", missing.join(", ")),
                "errorCode": "REQUIRED_FIELD_MISSING",
                "fields": missing,
            }),
        );
    }
    match fields.get("Email") {
        Some(Value::String(email)) if errors.is_empty() => Ok(email),
        _ => Err(Value::Array(errors).to_string()),
    }
}

/// A loose email check: `local@domain` with both parts non-empty and no spaces.
fn is_email(s: &str) -> bool {
    match s.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && !domain.is_empty()
                && !domain.contains('@')
                && !s.chars().any(char::is_whitespace)
        }
        None => false,
    }
}

/// JSON type name of `value`, for error messages.
fn json_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// A Salesforce-style error response: `[{"message", "errorCode", "fields"}]`.
fn sf_error(status: StatusCode, code: &str, message: &str, fields: &[&str]) -> Response<Body> {
    let body = json!([{ "message": message, "errorCode": code, "fields": fields }]);
    json_response(status, body.to_string())
}

/// 405 with an `Allow` header.
fn method_not_allowed(allow: &'static str) -> Response<Body> {
    let mut response = sf_error(
        StatusCode::METHOD_NOT_ALLOWED,
        "METHOD_NOT_ALLOWED",
        &format!("Method not allowed; use {allow}"),
        &[],
    );
    response
        .headers_mut()
        .insert(header::ALLOW, HeaderValue::from_static(allow));
    response
}

/// A response with a JSON body.
fn json_response(status: StatusCode, body: String) -> Response<Body> {
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json;charset=UTF-8"),
    );
    response
}
