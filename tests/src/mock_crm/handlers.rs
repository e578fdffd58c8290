//! The mock's HTTP handlers: dispatch by path, then for [`USERS_PATH`] admission, latency,
//! authentication, the body and the user's creation.

use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use http_body_util::{BodyExt, LengthLimitError, Limited};
use hyper::body::Incoming;
use hyper::header::{self, HeaderMap};
use hyper::{Method, Request, StatusCode};
use serde_json::{Value, json};

use super::admission::Admission;
use super::responses::{json_response, limited, method_not_allowed, sf_error};
use super::state::Shared;
use super::users::{user_id_for, validate_user};
use super::{IDEMPOTENCY_KEY_HEADER, MAX_BODY_BYTES, STATS_PATH, USERS_PATH};
use crate::server::Reply;

/// Dispatches one request by path.
pub(super) async fn route(shared: Arc<Shared>, req: Request<Incoming>) -> Reply {
    match req.uri().path() {
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
    }
}

/// `POST /services/data/v52.0/sobjects/User`: counts, delays, validates, creates.
async fn create_user(shared: &Arc<Shared>, req: Request<Incoming>) -> Reply {
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
) -> (Option<String>, Reply) {
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
async fn read_body(req: Request<Incoming>) -> Result<Bytes, Reply> {
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
