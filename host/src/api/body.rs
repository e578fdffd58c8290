//! Reading request bodies with a size limit, and building responses.

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::{Response, StatusCode};
use serde::Serialize;

use super::error::ApiError;

/// Largest component upload.
pub const MAX_COMPONENT_BYTES: usize = 64 * 1024 * 1024;
/// Largest JSON request (invocation input included).
pub const MAX_JSON_BYTES: usize = 4 * 1024 * 1024;

/// The whole body, or 413 when it is larger than `limit`.
pub async fn read(body: Incoming, limit: usize) -> Result<Bytes, ApiError> {
    match Limited::new(body, limit).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(err) if err.is::<http_body_util::LengthLimitError>() => Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "body_too_large",
            format!("the request body is larger than {limit} bytes"),
        )),
        Err(err) => Err(ApiError::bad_request(
            "bad_body",
            format!("cannot read the request body: {err}"),
        )),
    }
}

/// A JSON response.
pub fn json(status: StatusCode, value: &impl Serialize) -> Response<Full<Bytes>> {
    let body = serde_json::to_vec(value).unwrap_or_else(|_| b"{}".to_vec());
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    response.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("application/json"),
    );
    response
}
