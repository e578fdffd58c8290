//! Outgoing HTTP: the live client, and the journaled `http-send` host call.

use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::Uri;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

use super::{StepRequest, Steps, mismatched};
use crate::bindings::{HttpError, HttpRequest, HttpResponse};
use crate::journal::Outcome;

/// Timeout of a request that sets none.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
/// Largest response body the host accepts (it is journaled).
pub const MAX_RESPONSE_BYTES: u64 = 16 * 1024 * 1024;
/// The header that lets a receiver drop a request repeated after a crash.
pub const IDEMPOTENCY_KEY: &str = "idempotency-key";

/// A shared HTTP/1 client for `http://` and `https://` (webpki roots).
#[derive(Clone)]
pub struct HttpClient {
    client: Client<hyper_rustls::HttpsConnector<HttpConnector>, Full<Bytes>>,
}

impl HttpClient {
    /// A client with the platform-independent webpki trust roots.
    pub fn new() -> Self {
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_webpki_roots()
            .https_or_http()
            .enable_http1()
            .build();
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(30))
            .build(connector);
        HttpClient { client }
    }

    /// Sends `req` with `Idempotency-Key: idempotency_key` and reads the whole response.
    pub async fn send(
        &self,
        req: &HttpRequest,
        idempotency_key: &str,
    ) -> Result<HttpResponse, HttpError> {
        let request = build(req, idempotency_key)?;
        let timeout = req
            .timeout_ms
            .map_or(DEFAULT_TIMEOUT, |ms| Duration::from_millis(ms.into()));
        let exchange = async {
            let response = self.client.request(request).await.map_err(|e| {
                if e.is_connect() {
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

impl Default for HttpClient {
    fn default() -> Self {
        Self::new()
    }
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

/// Journaled HTTP request.
pub async fn send(
    steps: &mut Steps,
    request: &HttpRequest,
) -> wasmtime::Result<Result<HttpResponse, HttpError>> {
    match steps.take(StepRequest::Http(request)).await? {
        Outcome::Http(result) => Ok(result),
        other => Err(mismatched("http", &other)),
    }
}
