//! API errors: a status code and a JSON body `{"error": {"code", "message"}}`.

use axum::Json;
use axum::response::{IntoResponse, Response};
use hyper::StatusCode;

use super::dto::{ErrorBody, ErrorView};
use crate::access::{AccessError, AuthError};
use crate::journal::{StoreError, WriteError};
use crate::runtime::{ComponentError, WorldError};
use crate::scheduler::{
    ControlError, DeployError, InvokeError, RewindError, ScheduleError, TargetError, WhenError,
};

/// An error answered to an API client.
#[derive(Debug)]
pub struct ApiError {
    /// The HTTP status.
    pub status: StatusCode,
    /// A stable machine-readable code.
    pub code: &'static str,
    /// A message for people.
    pub message: String,
    /// Seconds after which a retry may succeed (`Retry-After`), for a 429.
    pub retry_after: Option<u32>,
}

impl ApiError {
    /// An error with `status`, `code` and `message`.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
            retry_after: None,
        }
    }

    /// A 400.
    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }

    /// A 403: the key holds, but not for this.
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", message)
    }

    /// A 404.
    pub fn not_found(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, code, message)
    }

    /// The 404 for a deployment the caller's tenant does not have.
    pub fn unknown_deployment(name: &str) -> Self {
        Self::not_found(
            "unknown_deployment",
            format!("no deployment named `{name}`"),
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            error: ErrorView {
                code: self.code.to_string(),
                message: self.message,
            },
        };
        let mut response = (self.status, Json(body)).into_response();
        if let Some(seconds) = self.retry_after {
            response
                .headers_mut()
                .insert(hyper::header::RETRY_AFTER, seconds.into());
        }
        response
    }
}

impl From<StoreError> for ApiError {
    fn from(err: StoreError) -> Self {
        if let StoreError::Write(WriteError::OverQuota(over)) = &err {
            let message = format!("nothing was stored: {over}");
            return ApiError::new(StatusCode::INSUFFICIENT_STORAGE, "quota_exceeded", message);
        }
        tracing::error!("storage error answering a request: {err}");
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "storage",
            err.to_string(),
        )
    }
}

impl From<DeployError> for ApiError {
    fn from(err: DeployError) -> Self {
        let message = err.to_string();
        match err {
            DeployError::BadName(_) => ApiError::bad_request("invalid_name", message),
            DeployError::BadPolicy(_) => ApiError::bad_request("invalid_policy", message),
            DeployError::TooLarge { .. } => {
                ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "quota_exceeded", message)
            }
            DeployError::Component(
                ComponentError::Empty | ComponentError::NotWasm | ComponentError::CoreModule,
            ) => ApiError::bad_request("not_a_component", message),
            DeployError::Component(
                ComponentError::WrongWorld(_) | ComponentError::World(WorldError::Export { .. }),
            ) => ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "wrong_world", message),
            DeployError::Component(ComponentError::World(WorldError::Import { .. })) => {
                ApiError::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "unsupported_import",
                    message,
                )
            }
            DeployError::Component(err)
                if matches!(err, ComponentError::Missing(_)) || err.is_host_failure() =>
            {
                ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "host", message)
            }
            DeployError::Component(_) => ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_component",
                message,
            ),
            DeployError::Store(err) => err.into(),
        }
    }
}

impl From<InvokeError> for ApiError {
    fn from(err: InvokeError) -> Self {
        let message = err.to_string();
        match err {
            InvokeError::Target(err) => unusable_target(&err, message),
            InvokeError::BadInput(_) => ApiError::bad_request("invalid_input", message),
            InvokeError::InputTooLarge { .. } => {
                ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "quota_exceeded", message)
            }
            InvokeError::StorageFull(_) => {
                ApiError::new(StatusCode::INSUFFICIENT_STORAGE, "quota_exceeded", message)
            }
            InvokeError::Busy(_) => ApiError {
                retry_after: Some(1),
                ..ApiError::new(StatusCode::TOO_MANY_REQUESTS, "quota_exceeded", message)
            },
            InvokeError::BadKey(_) => ApiError::bad_request("invalid_idempotency_key", message),
            InvokeError::KeyReused { .. } => {
                ApiError::new(StatusCode::CONFLICT, "idempotency_key_reused", message)
            }
            InvokeError::Draining => ApiError {
                retry_after: Some(60),
                ..ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "draining", message)
            },
            InvokeError::Store(err) => err.into(),
        }
    }
}

/// The answer to a target that names no function: malformed, ambiguous or unknown.
fn unusable_target(err: &TargetError, message: String) -> ApiError {
    match err {
        TargetError::Malformed(_) => ApiError::bad_request("invalid_function", message),
        TargetError::Ambiguous { .. } => ApiError::bad_request("ambiguous_function", message),
        _ => ApiError::not_found("unknown_function", message),
    }
}

impl From<ScheduleError> for ApiError {
    fn from(err: ScheduleError) -> Self {
        let message = err.to_string();
        match err {
            ScheduleError::BadName(_) => ApiError::bad_request("invalid_name", message),
            ScheduleError::When(WhenError::BadCron(_)) | ScheduleError::NeverFires(_) => {
                ApiError::bad_request("invalid_cron", message)
            }
            ScheduleError::When(WhenError::BadTz(_)) => {
                ApiError::bad_request("invalid_tz", message)
            }
            ScheduleError::Target(err) => unusable_target(&err, message),
            ScheduleError::BadInput(_) => ApiError::bad_request("invalid_input", message),
            ScheduleError::Exists(_) => {
                ApiError::new(StatusCode::CONFLICT, "schedule_exists", message)
            }
            ScheduleError::NotFound(_) => ApiError::not_found("unknown_schedule", message),
            ScheduleError::Store(err) => err.into(),
        }
    }
}

impl From<RewindError> for ApiError {
    fn from(err: RewindError) -> Self {
        let message = err.to_string();
        let conflict = |code| ApiError::new(StatusCode::CONFLICT, code, message.clone());
        match err {
            RewindError::NotFound(_) => ApiError::not_found("unknown_invocation", message),
            RewindError::NotRewindable(..) => conflict("not_rewindable"),
            RewindError::NoSuchStep { .. } => ApiError::bad_request("invalid_step", message),
            RewindError::ParentUnfinished { .. } => conflict("parent_unfinished"),
            RewindError::UnknownComponent(_) => ApiError::not_found("unknown_component", message),
            RewindError::AmbiguousComponent(_) => {
                ApiError::bad_request("ambiguous_component", message)
            }
            RewindError::Target(TargetError::UnknownDeployment(name)) => {
                ApiError::unknown_deployment(&name)
            }
            RewindError::Target(err) => unusable_target(&err, message),
            RewindError::ForkTakesChild { .. } => conflict("fork_takes_child"),
            RewindError::NoFunction { .. } => ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "unknown_function",
                message,
            ),
            RewindError::Diverged(_) | RewindError::EndedEarly { .. } => {
                conflict("determinism_violation")
            }
            RewindError::Trapped { .. } => conflict("replay_trapped"),
            RewindError::Changed(_) => conflict("invocation_changed"),
            RewindError::Component(err) => DeployError::Component(err).into(),
            RewindError::Refused(err) => err.into(),
            RewindError::Store(err) => err.into(),
        }
    }
}

impl From<ControlError> for ApiError {
    fn from(err: ControlError) -> Self {
        let message = err.to_string();
        match err {
            ControlError::NotFound(_) => ApiError::not_found("unknown_invocation", message),
            ControlError::Finished(..) => {
                ApiError::new(StatusCode::CONFLICT, "invocation_finished", message)
            }
            ControlError::BadSignalName(_) => ApiError::bad_request("invalid_signal_name", message),
            ControlError::BadData(_) => ApiError::bad_request("invalid_data", message),
            ControlError::BadKey(_) => ApiError::bad_request("invalid_idempotency_key", message),
            ControlError::NotPaused(..) => {
                ApiError::new(StatusCode::CONFLICT, "not_paused", message)
            }
            ControlError::KeyReused(_) => {
                ApiError::new(StatusCode::CONFLICT, "idempotency_key_reused", message)
            }
            ControlError::Store(err) => err.into(),
        }
    }
}

impl From<AuthError> for ApiError {
    fn from(err: AuthError) -> Self {
        match err {
            AuthError::Store(err) => err.into(),
            err => ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", err.to_string()),
        }
    }
}

impl From<AccessError> for ApiError {
    fn from(err: AccessError) -> Self {
        let message = err.to_string();
        match err {
            AccessError::BadName(_) => ApiError::bad_request("invalid_name", message),
            AccessError::NoSuchKey(_) => ApiError::not_found("unknown_key", message),
            AccessError::Store(StoreError::Write(WriteError::TenantExists(_))) => {
                ApiError::new(StatusCode::CONFLICT, "tenant_exists", message)
            }
            AccessError::Store(StoreError::Write(
                WriteError::NoSuchTenant(_) | WriteError::NoSuchKey(_),
            )) => ApiError::not_found("unknown_tenant_or_key", message),
            AccessError::Store(StoreError::Write(WriteError::NoSuchDeployment(name))) => {
                ApiError::unknown_deployment(&name)
            }
            AccessError::Store(err) => err.into(),
        }
    }
}
