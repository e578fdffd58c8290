//! Outgoing HTTP requests, sent by the host (journaled).
//!
//! Each [`RequestBuilder::send`] is one journaled step: the host records the response
//! (or the error) before the function sees it, and returns the recorded outcome when
//! the invocation is replayed. The host adds an `Idempotency-Key` header that stays the
//! same across retries of the same step.
//!
//! ```no_run
//! # fn run() -> reprise_sdk::Result<()> {
//! use reprise_sdk::http;
//!
//! #[derive(serde::Deserialize)]
//! struct Created {
//!     id: String,
//! }
//!
//! let created: Created = http::post("https://crm.example.com/users")
//!     .bearer("secret")
//!     .json(&serde_json::json!({ "name": "Ada" }))
//!     .send()?
//!     .error_for_status()?
//!     .json()?;
//! # let _ = created.id;
//! # Ok(())
//! # }
//! ```

use std::fmt;
use std::time::Duration;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::Error;
use crate::bindings::reprise::function::host;
use crate::bindings::reprise::function::types;

/// How many bytes of a response body [`HttpError::Status`] keeps.
const BODY_EXCERPT_LIMIT: usize = 512;

/// Starts a `GET` request to `url`.
pub fn get(url: impl Into<String>) -> RequestBuilder {
    request("GET", url)
}

/// Starts a `POST` request to `url`.
pub fn post(url: impl Into<String>) -> RequestBuilder {
    request("POST", url)
}

/// Starts a `PUT` request to `url`.
pub fn put(url: impl Into<String>) -> RequestBuilder {
    request("PUT", url)
}

/// Starts a `PATCH` request to `url`.
pub fn patch(url: impl Into<String>) -> RequestBuilder {
    request("PATCH", url)
}

/// Starts a `DELETE` request to `url`.
pub fn delete(url: impl Into<String>) -> RequestBuilder {
    request("DELETE", url)
}

/// Starts a request with any `method` (e.g. `"HEAD"`) to `url`.
pub fn request(method: impl Into<String>, url: impl Into<String>) -> RequestBuilder {
    RequestBuilder {
        method: method.into(),
        url: url.into(),
        headers: Vec::new(),
        body: Vec::new(),
        timeout: None,
        error: None,
    }
}

/// An HTTP request being built; send it with [`RequestBuilder::send`].
#[derive(Debug)]
#[must_use = "a request does nothing until it is sent with `.send()`"]
pub struct RequestBuilder {
    method: String,
    url: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    timeout: Option<Duration>,
    /// A problem found while building (e.g. JSON encoding), reported by `send`.
    error: Option<HttpError>,
}

impl RequestBuilder {
    /// Adds a header (repeated names are sent as repeated headers).
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Adds `Authorization: Bearer {token}`.
    pub fn bearer(self, token: impl fmt::Display) -> Self {
        self.header("Authorization", format!("Bearer {token}"))
    }

    /// Sets the body to `value` encoded as JSON, and `Content-Type: application/json`
    /// unless a content type is already set. An encoding error is returned by `send`.
    pub fn json<T: Serialize + ?Sized>(mut self, value: &T) -> Self {
        match serde_json::to_vec(value) {
            Ok(body) => {
                self.body = body;
                if !self.has_header("content-type") {
                    self.headers
                        .push(("Content-Type".to_owned(), "application/json".to_owned()));
                }
            }
            Err(err) => {
                self.error = Some(HttpError::Encode(format!(
                    "cannot encode the JSON body for {} {}: {err}",
                    self.method, self.url
                )));
            }
        }
        self
    }

    /// Sets the raw body.
    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.body = body.into();
        self
    }

    /// Sets the timeout for the whole exchange (the host's default otherwise).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Sends the request through the host and waits for the response.
    ///
    /// Any response, including 4xx/5xx, is `Ok`; use [`Response::error_for_status`]
    /// to turn non-2xx statuses into errors.
    pub fn send(self) -> Result<Response, HttpError> {
        if let Some(error) = self.error {
            return Err(error);
        }
        let timeout_ms = self.timeout.map(|timeout| {
            let ms = timeout.as_millis();
            // Round sub-millisecond timeouts up rather than down to "no time at all".
            let ms = if ms == 0 && !timeout.is_zero() { 1 } else { ms };
            u32::try_from(ms).unwrap_or(u32::MAX)
        });
        let request = types::HttpRequest {
            method: self.method,
            url: self.url,
            headers: self.headers,
            body: self.body,
            timeout_ms,
        };
        match host::http_send(&request) {
            Ok(response) => Ok(Response {
                method: request.method,
                url: request.url,
                status: response.status,
                headers: response.headers,
                body: response.body,
            }),
            Err(error) => Err(error.into()),
        }
    }

    fn has_header(&self, name: &str) -> bool {
        self.headers
            .iter()
            .any(|(n, _)| n.eq_ignore_ascii_case(name))
    }
}

/// A response received from the remote server.
#[derive(Clone, Debug)]
pub struct Response {
    method: String,
    url: String,
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Response {
    /// The status code, e.g. 200.
    pub fn status(&self) -> u16 {
        self.status
    }

    /// Whether the status is 2xx.
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// All headers, in the order received.
    pub fn headers(&self) -> &[(String, String)] {
        &self.headers
    }

    /// The first value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }

    /// The body bytes.
    pub fn body(&self) -> &[u8] {
        &self.body
    }

    /// Consumes the response, returning the body bytes.
    pub fn into_body(self) -> Vec<u8> {
        self.body
    }

    /// The body as UTF-8 text.
    pub fn text(&self) -> Result<String, std::str::Utf8Error> {
        std::str::from_utf8(&self.body).map(str::to_owned)
    }

    /// The body decoded from JSON.
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, Error> {
        serde_json::from_slice(&self.body).map_err(|err| {
            Error::msg(format!(
                "invalid JSON in the response to {} {} (status {}): {err}; body: {}",
                self.method,
                self.url,
                self.status,
                body_excerpt(&self.body)
            ))
        })
    }

    /// Returns the response if its status is 2xx, otherwise [`HttpError::Status`].
    pub fn error_for_status(self) -> Result<Response, HttpError> {
        if self.is_success() {
            Ok(self)
        } else {
            Err(HttpError::Status {
                status: self.status,
                body_excerpt: body_excerpt(&self.body),
            })
        }
    }
}

/// Why an HTTP request failed.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum HttpError {
    /// The request itself is invalid (bad URL, method or header).
    InvalidRequest(String),
    /// Connecting failed (refused, reset, DNS, TLS).
    Connect(String),
    /// No complete response within the timeout.
    Timeout,
    /// The connection broke while exchanging the request or response.
    Transport(String),
    /// The response body exceeded the host's size limit (in bytes).
    ResponseTooLarge(u64),
    /// The server answered with a non-2xx status ([`Response::error_for_status`]).
    Status {
        /// The status code.
        status: u16,
        /// The start of the response body (lossy UTF-8, at most 512 bytes).
        body_excerpt: String,
    },
    /// The request body could not be encoded.
    Encode(String),
}

impl fmt::Display for HttpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HttpError::InvalidRequest(reason) => write!(f, "invalid HTTP request: {reason}"),
            HttpError::Connect(reason) => write!(f, "HTTP connection failed: {reason}"),
            HttpError::Timeout => f.write_str("HTTP request timed out"),
            HttpError::Transport(reason) => write!(f, "HTTP transport error: {reason}"),
            HttpError::ResponseTooLarge(limit) => {
                write!(
                    f,
                    "HTTP response body exceeds the host limit of {limit} bytes"
                )
            }
            HttpError::Status {
                status,
                body_excerpt,
            } => {
                write!(f, "HTTP status {status}")?;
                if !body_excerpt.is_empty() {
                    write!(f, ": {body_excerpt}")?;
                }
                Ok(())
            }
            HttpError::Encode(reason) => f.write_str(reason),
        }
    }
}

impl std::error::Error for HttpError {}

impl From<types::HttpError> for HttpError {
    fn from(error: types::HttpError) -> Self {
        match error {
            types::HttpError::InvalidRequest(reason) => HttpError::InvalidRequest(reason),
            types::HttpError::Connect(reason) => HttpError::Connect(reason),
            types::HttpError::Timeout => HttpError::Timeout,
            types::HttpError::Transport(reason) => HttpError::Transport(reason),
            types::HttpError::ResponseTooLarge(limit) => HttpError::ResponseTooLarge(limit),
        }
    }
}

/// The start of `body` as lossy UTF-8, cut at a character boundary.
fn body_excerpt(body: &[u8]) -> String {
    let truncated = body.len() > BODY_EXCERPT_LIMIT;
    let mut text =
        String::from_utf8_lossy(&body[..body.len().min(BODY_EXCERPT_LIMIT)]).into_owned();
    if truncated {
        // A multi-byte character cut in half decodes as U+FFFD; drop it.
        if text.ends_with('\u{FFFD}') {
            text.pop();
        }
        text.push('…');
    }
    text.trim_end().to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn excerpt_is_bounded() {
        assert_eq!(body_excerpt(b"nope\n"), "nope");
        let long = "é".repeat(400);
        let excerpt = body_excerpt(long.as_bytes());
        assert!(excerpt.ends_with('…'));
        assert_eq!(excerpt.chars().count(), 257);
    }

    #[test]
    fn status_error_display() {
        let error = HttpError::Status {
            status: 401,
            body_excerpt: "bad token".into(),
        };
        assert_eq!(error.to_string(), "HTTP status 401: bad token");
    }

    #[test]
    fn builder_headers() {
        let request = post("http://x").bearer("t").json(&1);
        assert!(request.has_header("authorization"));
        assert!(request.has_header("content-type"));
        assert_eq!(request.body, b"1");
    }
}
