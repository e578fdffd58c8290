//! A probe HTTP server for test functions: records every request, answers `/step`-style
//! posts with a value derived from the input, and holds requests to `/hold…` until released
//! (then answers them the same).
//! `/flaky/N…` answers the first N requests of each `Idempotency-Key` with 503, and
//! `/limited…` the first of each key with 429 and `Retry-After: 2`.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Request, Response};
use tokio::sync::watch;

use crate::server::{Reply, TestServer};

/// A request the probe received.
#[derive(Clone, Debug)]
pub struct Seen {
    /// Method.
    pub method: String,
    /// Path.
    pub path: String,
    /// `Idempotency-Key` header ("" when absent).
    pub key: String,
    /// Body.
    pub body: Vec<u8>,
    /// When it arrived.
    pub at: Instant,
}

struct State {
    seen: Mutex<Vec<Seen>>,
    gate: watch::Sender<bool>,
}

/// The probe server.
pub struct Probe {
    server: TestServer,
    state: Arc<State>,
}

/// The value the probe answers for step input `i`.
pub fn step_value(i: u64) -> u64 {
    i * i + 1
}

impl Probe {
    /// Starts the probe on a free loopback port, with its gate closed.
    pub async fn start() -> Probe {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind probe");
        let (gate, _) = watch::channel(false);
        let state = Arc::new(State {
            seen: Mutex::new(Vec::new()),
            gate,
        });
        let shared = state.clone();
        let server = TestServer::start(listener, move |req| answer(shared.clone(), req))
            .expect("start probe");
        Probe { server, state }
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        self.server.url()
    }

    /// Lets held requests (and later ones) through.
    pub fn open_gate(&self) {
        self.state.gate.send_replace(true);
    }

    /// Every request so far.
    pub fn seen(&self) -> Vec<Seen> {
        self.state
            .seen
            .lock()
            .map(|s| s.clone())
            .unwrap_or_default()
    }

    /// Waits until `count` requests to paths starting with `prefix` arrived.
    pub async fn wait_for(&self, prefix: &str, count: usize, timeout: Duration) -> Vec<Seen> {
        let deadline = Instant::now() + timeout;
        loop {
            let seen: Vec<Seen> = self
                .seen()
                .into_iter()
                .filter(|s| s.path.starts_with(prefix))
                .collect();
            if seen.len() >= count {
                return seen;
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {count} requests to {prefix}; saw {}",
                seen.len()
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

/// Records `req` and answers it (see the module's header).
async fn answer(state: Arc<State>, req: Request<Incoming>) -> Reply {
    let method = req.method().to_string();
    let path = req.uri().path().to_string();
    let key = req
        .headers()
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let body = match req.into_body().collect().await {
        Ok(body) => body.to_bytes().to_vec(),
        Err(_) => Vec::new(),
    };
    if let Ok(mut seen) = state.seen.lock() {
        seen.push(Seen {
            method,
            path: path.clone(),
            key: key.clone(),
            body: body.clone(),
            at: Instant::now(),
        });
    }
    let earlier = state
        .seen
        .lock()
        .map(|seen| {
            seen.iter()
                .filter(|s| s.key == key && s.path == path)
                .count()
                - 1
        })
        .unwrap_or(0);
    if let Some(refusals) = path
        .strip_prefix("/flaky/")
        .and_then(|rest| rest.split('/').next())
        .and_then(|n| n.parse::<usize>().ok())
        && earlier < refusals
    {
        let mut response = Response::new(Full::new(Bytes::from_static(b"down")));
        *response.status_mut() = hyper::StatusCode::SERVICE_UNAVAILABLE;
        return response;
    }
    if path.starts_with("/limited") && earlier == 0 {
        let mut response = Response::new(Full::new(Bytes::from_static(b"slow down")));
        *response.status_mut() = hyper::StatusCode::TOO_MANY_REQUESTS;
        response.headers_mut().insert(
            hyper::header::RETRY_AFTER,
            hyper::header::HeaderValue::from_static("2"),
        );
        return response;
    }
    let i = serde_json::from_slice::<serde_json::Value>(&body)
        .ok()
        .and_then(|v| v.get("i").and_then(serde_json::Value::as_u64))
        .unwrap_or(0);
    let reply = if path.starts_with("/hold") {
        let mut gate = state.gate.subscribe();
        let _ = gate.wait_for(|open| *open).await;
        serde_json::json!({"ok": true, "value": step_value(i)})
    } else {
        serde_json::json!({"value": step_value(i)})
    };
    Response::new(Full::new(Bytes::from(reply.to_string())))
}
