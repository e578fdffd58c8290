//! Reading request bodies with a size limit.

use axum::body::Body;
use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::StatusCode;

use super::error::ApiError;

/// Largest component upload.
pub const MAX_COMPONENT_BYTES: usize = 64 * 1024 * 1024;
/// Largest JSON request (invocation input included).
pub const MAX_JSON_BYTES: usize = 4 * 1024 * 1024;

/// How much more than the limit is read and discarded before answering 413, so that a
/// client still sending can finish and read the answer instead of seeing a reset.
const DRAIN_BYTES: usize = 64 * 1024 * 1024;

/// The whole body, or 413 when it is larger than `limit`.
pub async fn read(mut body: Body, limit: usize) -> Result<Bytes, ApiError> {
    let mut collected = bytes::BytesMut::new();
    let mut total = 0usize;
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|err| {
            ApiError::bad_request("bad_body", format!("cannot read the request body: {err}"))
        })?;
        let Ok(data) = frame.into_data() else {
            continue;
        };
        total = total.saturating_add(data.len());
        if total <= limit {
            collected.extend_from_slice(&data);
        } else if total > limit.saturating_add(DRAIN_BYTES) {
            break;
        }
    }
    if total > limit {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "body_too_large",
            format!("the request body is larger than {limit} bytes"),
        ));
    }
    Ok(collected.freeze())
}
