//! The mock's answers in Salesforce's shape: JSON, errors as `[{"message", "errorCode",
//! "fields"}]`, 429 with `Retry-After` and 405 with `Allow`.

use bytes::Bytes;
use http_body_util::Full;
use hyper::header::{self, HeaderValue};
use hyper::{Response, StatusCode};
use serde_json::json;

use crate::server::Reply;

/// The answer to a request over a limit (429 with `Retry-After: 1`) or during an outage (503).
pub(super) fn limited(status: StatusCode) -> Reply {
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

/// A Salesforce-style error response: `[{"message", "errorCode", "fields"}]`.
pub(super) fn sf_error(status: StatusCode, code: &str, message: &str, fields: &[&str]) -> Reply {
    let body = json!([{ "message": message, "errorCode": code, "fields": fields }]);
    json_response(status, body.to_string())
}

/// 405 with an `Allow` header.
pub(super) fn method_not_allowed(allow: &'static str) -> Reply {
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
pub(super) fn json_response(status: StatusCode, body: String) -> Reply {
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json;charset=UTF-8"),
    );
    response
}
