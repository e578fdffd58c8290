//! How an HTTP step's outcome is stored: the journal's own response and error types.
//!
//! They mirror the WIT contract's `http-response` and `http-error`, but are the journal's:
//! a change to the contract cannot silently change what stored journals mean. Field and
//! variant order is the encoding (postcard is positional); `formats` pins it.

use serde::{Deserialize, Serialize};

/// A response received from the remote server.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HttpResponse {
    /// The status code.
    pub status: u16,
    /// Header names and values, as received.
    pub headers: Vec<(String, String)>,
    /// The whole body.
    #[serde(with = "super::bytes")]
    pub body: Vec<u8>,
}

/// Why an HTTP request got no response.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
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
}

impl std::fmt::Display for HttpError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            HttpError::InvalidRequest(m) => write!(f, "invalid request: {m}"),
            HttpError::Connect(m) => write!(f, "connect: {m}"),
            HttpError::Timeout => f.write_str("timeout"),
            HttpError::Transport(m) => write!(f, "transport: {m}"),
            HttpError::ResponseTooLarge(limit) => write!(f, "response larger than {limit} bytes"),
        }
    }
}

/// The outcome of an HTTP step: a response, or why there was none.
pub type HttpOutcome = Result<HttpResponse, HttpError>;
