//! Scripted HTTP: a real server on loopback that answers each method and path with the
//! replies a test scripted, in order (the last one repeating), and keeps every request.
//!
//! It sends no `Date` header, so the same script gives byte-identical responses, and the
//! replay checker can tell a function's divergence from the world's.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;

/// One scripted answer.
#[derive(Clone, Debug)]
pub struct Reply {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Reply {
    /// An answer with `status` and no body.
    pub fn status(status: u16) -> Reply {
        Reply {
            status,
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    /// An answer with `status` and `body` as JSON.
    pub fn json(status: u16, body: &serde_json::Value) -> Reply {
        Reply {
            body: body.to_string().into_bytes(),
            ..Reply::status(status)
        }
        .header("content-type", "application/json")
    }

    /// This answer with header `name: value` too.
    pub fn header(mut self, name: &str, value: &str) -> Reply {
        self.headers.push((name.to_string(), value.to_string()));
        self
    }
}

/// A request the server received.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Received {
    /// Its method, e.g. `POST`.
    pub method: String,
    /// Its path and query, e.g. `/users?page=2`.
    pub path: String,
    /// Its headers (names in lower case).
    pub headers: Vec<(String, String)>,
    /// Its body.
    pub body: Vec<u8>,
}

impl Received {
    /// The first value of header `name` (lower case), if any.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// The replies of one method and path, and how many were given.
struct Route {
    method: String,
    path: String,
    replies: Vec<Reply>,
    given: usize,
}

#[derive(Default)]
struct Script {
    routes: Vec<Route>,
    received: Vec<Received>,
}

/// The scripted server; cloning shares it.
#[derive(Clone)]
pub struct ScriptedHttp {
    addr: SocketAddr,
    script: Arc<Mutex<Script>>,
}

impl ScriptedHttp {
    /// Starts a server on an ephemeral loopback port.
    pub async fn start() -> std::io::Result<ScriptedHttp> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let server = ScriptedHttp {
            addr: listener.local_addr()?,
            script: Arc::default(),
        };
        let serving = server.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let server = serving.clone();
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |request| {
                        let server = server.clone();
                        async move { Ok::<_, Infallible>(server.answer(request).await) }
                    });
                    let _closed = hyper::server::conn::http1::Builder::new()
                        .auto_date_header(false)
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Ok(server)
    }

    /// The URL of `path` (starting with `/`) on this server.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Answers `method path` (the path with its query, if the request has one) with
    /// `replies` in order, the last one to every request after; replaces an earlier script
    /// of the same method and path. A request nothing is scripted for gets 404.
    pub fn on(&self, method: &str, path: &str, replies: impl IntoIterator<Item = Reply>) {
        let replies: Vec<Reply> = replies.into_iter().collect();
        let mut script = self.lock();
        script
            .routes
            .retain(|r| !(r.method == method && r.path == path));
        script.routes.push(Route {
            method: method.to_string(),
            path: path.to_string(),
            replies,
            given: 0,
        });
    }

    /// Every request received so far, in arrival order.
    pub fn received(&self) -> Vec<Received> {
        self.lock().received.clone()
    }

    /// How many requests `method path` received.
    pub fn count(&self, method: &str, path: &str) -> usize {
        self.lock()
            .received
            .iter()
            .filter(|r| r.method == method && r.path == path)
            .count()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Script> {
        self.script.lock().unwrap_or_else(PoisonError::into_inner)
    }

    async fn answer(&self, request: Request<Incoming>) -> Response<Full<Bytes>> {
        let (parts, body) = request.into_parts();
        let body = body
            .collect()
            .await
            .map(|b| b.to_bytes().to_vec())
            .unwrap_or_default();
        let received = Received {
            method: parts.method.to_string(),
            path: parts
                .uri
                .path_and_query()
                .map_or_else(|| parts.uri.path().to_string(), |p| p.to_string()),
            headers: parts
                .headers
                .iter()
                .map(|(n, v)| (n.to_string(), String::from_utf8_lossy(v.as_bytes()).into()))
                .collect(),
            body,
        };
        let reply = {
            let mut script = self.lock();
            let reply = script
                .routes
                .iter_mut()
                .find(|r| {
                    r.method == received.method
                        && (r.path == received.path || r.path == parts.uri.path())
                })
                .and_then(|route| {
                    let reply = route
                        .replies
                        .get(route.given.min(route.replies.len().saturating_sub(1)))
                        .cloned();
                    route.given += 1;
                    reply
                });
            script.received.push(received.clone());
            reply
        };
        let reply = reply.unwrap_or_else(|| Reply {
            body: format!(
                "nothing is scripted for {} {}",
                received.method, received.path
            )
            .into_bytes(),
            ..Reply::status(404)
        });
        let mut response = Response::builder().status(reply.status);
        for (name, value) in &reply.headers {
            response = response.header(name, value);
        }
        response
            .body(Full::new(Bytes::from(reply.body)))
            .unwrap_or_else(|_| {
                let mut bad = Response::new(Full::new(Bytes::from_static(
                    b"the scripted reply has an invalid status or header",
                )));
                *bad.status_mut() = hyper::StatusCode::INTERNAL_SERVER_ERROR;
                bad
            })
    }
}
