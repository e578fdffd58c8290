//! Reading request bodies with a size limit.

use axum::body::Body;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::StatusCode;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::error::ApiError;

/// Largest component upload.
pub const MAX_COMPONENT_BYTES: usize = 64 * 1024 * 1024;
/// Largest JSON request (invocation input included).
pub const MAX_JSON_BYTES: usize = 4 * 1024 * 1024;

/// How much more than the limit is read and discarded before answering 413, so that a
/// client still sending can finish and read the answer instead of seeing a reset.
const DRAIN_BYTES: usize = 64 * 1024 * 1024;

/// What all uploads being received may buffer together, in KiB permits.
#[derive(Clone)]
pub struct Uploads(Arc<Semaphore>);

impl Uploads {
    /// At most `mib` MiB buffered by all uploads together.
    pub fn new(mib: usize) -> Self {
        let kib = mib.saturating_mul(1024).min(Semaphore::MAX_PERMITS);
        Uploads(Arc::new(Semaphore::new(kib)))
    }
}

/// The whole body, or 413 when it is larger than `limit`.
pub async fn read(body: Body, limit: usize) -> Result<Bytes, ApiError> {
    read_within(body, limit, None).await.map(|(bytes, _)| bytes)
}

/// The whole body, or 413 when it is larger than `limit`; with `budget`, each KiB kept is
/// taken from it as it arrives, and the body is refused with 503 when the budget is spent.
/// The permits returned hold the bytes' share until dropped.
///
/// A body of known length (`Content-Length`) is kept in one allocation of its size (never
/// grown, so never copied); one longer than `limit` is not kept at all, only read (up to a
/// drain) so that its sender sees the answer.
pub async fn read_within(
    mut body: Body,
    limit: usize,
    budget: Option<&Uploads>,
) -> Result<(Bytes, Option<OwnedSemaphorePermit>), ApiError> {
    use hyper::body::Body as _;
    let length = body
        .size_hint()
        .exact()
        .map(|n| usize::try_from(n).unwrap_or(usize::MAX));
    let known_over = length.is_some_and(|n| n > limit);
    let mut held: Option<OwnedSemaphorePermit> = None;
    // Allocated, not touched: resident only as the bytes arrive, which is when the budget is
    // taken (a client that announces a length and sends nothing holds none of it).
    let mut collected = match length {
        Some(n) if !known_over => bytes::BytesMut::with_capacity(n),
        _ => bytes::BytesMut::new(),
    };
    let mut total = 0usize;
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|err| {
            ApiError::bad_request("bad_body", format!("cannot read the request body: {err}"))
        })?;
        let Ok(data) = frame.into_data() else {
            continue;
        };
        total = total.saturating_add(data.len());
        if total <= limit && !known_over {
            if let Some(budget) = budget {
                reserve(&budget.0, &mut held, total.div_ceil(1024))?;
            }
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
    Ok((collected.freeze(), held))
}

/// Makes `held` hold `kib` permits of `budget`, or answers 503 when they are not free.
fn reserve(
    budget: &Arc<Semaphore>,
    held: &mut Option<OwnedSemaphorePermit>,
    kib: usize,
) -> Result<(), ApiError> {
    let have = held.as_ref().map_or(0, OwnedSemaphorePermit::num_permits);
    let more = u32::try_from(kib.saturating_sub(have)).unwrap_or(u32::MAX);
    if more == 0 {
        return Ok(());
    }
    let permit = budget
        .clone()
        .try_acquire_many_owned(more)
        .map_err(|_| ApiError {
            retry_after: Some(1),
            ..ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "busy",
                "the host is receiving as many uploads as it buffers at once \
             (serve --upload-budget-mb); retry shortly",
            )
        })?;
    match held {
        Some(held) => held.merge(permit),
        None => *held = Some(permit),
    }
    Ok(())
}
