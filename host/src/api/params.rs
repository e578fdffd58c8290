//! What a request names in its path and query: extractors that answer a malformed request
//! with an [`ApiError`], and the checks of each query parameter.

use std::time::Duration;

use axum::extract::{FromRequestParts, Path, Query};
use hyper::http::request::Parts;
use serde::de::DeserializeOwned;

use super::error::ApiError;
use crate::ids::{BadInvocationId, InvocationId};
use crate::journal::InvocationState;

/// Longest a request may wait for an invocation to finish.
pub const MAX_WAIT: Duration = Duration::from_secs(300);
/// Most invocations one list returns.
pub const MAX_LIST: usize = 10_000;
/// Invocations a list returns when it names no `limit`.
const DEFAULT_LIST: usize = 100;

/// The route's path parameters, percent-decoded (a `+` stays a plus).
#[derive(Debug)]
pub struct Segments<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Send> FromRequestParts<S> for Segments<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        match Path::<T>::from_request_parts(parts, state).await {
            Ok(Path(value)) => Ok(Segments(value)),
            // E.g. a segment whose escapes decode to invalid UTF-8.
            Err(rejection) => Err(ApiError::new(
                rejection.status(),
                "invalid_path",
                rejection.body_text(),
            )),
        }
    }
}

/// The longest `text=` a list takes.
const MAX_TEXT: usize = 256;

/// The query's parameters, decoded as a form (`+` is a space, `%2B` a plus); of a name
/// given twice, the first counts.
#[derive(Debug, Default)]
pub struct Params(Vec<(String, String)>);

impl<S: Send + Sync> FromRequestParts<S> for Params {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        match Query::try_from_uri(&parts.uri) {
            Ok(Query(pairs)) => Ok(Params(pairs)),
            Err(rejection) => Err(ApiError::bad_request(
                "invalid_query",
                rejection.body_text(),
            )),
        }
    }
}

impl Params {
    /// The value of `name`, if the query has it.
    fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }

    /// `wait=SECONDS` (fractions allowed), capped at [`MAX_WAIT`].
    pub fn wait(&self) -> Result<Option<Duration>, ApiError> {
        let Some(text) = self.get("wait") else {
            return Ok(None);
        };
        text.parse::<f64>()
            .ok()
            .filter(|secs| secs.is_finite() && *secs >= 0.0)
            // Capped before the conversion, which panics past `Duration::MAX`.
            .map(|secs| Some(Duration::from_secs_f64(secs.min(MAX_WAIT.as_secs_f64()))))
            .ok_or_else(|| {
                ApiError::bad_request(
                    "invalid_wait",
                    format!("`wait` must be a number of seconds, got `{text}`"),
                )
            })
    }

    /// `state=STATE`, the state a list keeps.
    pub fn state(&self) -> Result<Option<InvocationState>, ApiError> {
        let Some(text) = self.get("state") else {
            return Ok(None);
        };
        InvocationState::parse(text).map(Some).ok_or_else(|| {
            ApiError::bad_request(
                "invalid_state",
                format!(
                    "`state` must be pending, running, suspended, completed, failed or \
                     cancelled, got `{text}`"
                ),
            )
        })
    }

    /// `limit=N`, how many invocations a list returns (100 unless given, at most [`MAX_LIST`]).
    pub fn limit(&self) -> Result<usize, ApiError> {
        self.limit_within(DEFAULT_LIST, MAX_LIST)
    }

    /// `limit=N` for a page of at most `max` (and `max` unless given).
    pub fn limit_or(&self, max: usize) -> Result<usize, ApiError> {
        self.limit_within(max, max)
    }

    fn limit_within(&self, default: usize, max: usize) -> Result<usize, ApiError> {
        let Some(text) = self.get("limit") else {
            return Ok(default);
        };
        text.parse::<usize>()
            .ok()
            .filter(|n| *n > 0)
            .map(|n| n.min(max))
            .ok_or_else(|| {
                ApiError::bad_request(
                    "invalid_limit",
                    format!("`limit` must be a positive number, got `{text}`"),
                )
            })
    }

    /// `before=ID`, a list page's cursor: only invocations older than `ID`.
    pub fn before(&self) -> Result<Option<InvocationId>, ApiError> {
        self.get("before").map(invocation_id).transpose()
    }

    /// `from=SEQ`, where a page of a journal starts (0 unless given).
    pub fn from(&self) -> Result<u32, ApiError> {
        self.number("from", "invalid_from", "a step number")
    }

    /// `filter=state=S function=D.F since=1h`, the filter of a list (absent: everything).
    pub fn filter(&self) -> Result<crate::scheduler::Filter, ApiError> {
        let Some(text) = self.get("filter") else {
            return Ok(crate::scheduler::Filter::default());
        };
        crate::scheduler::Filter::parse(text, crate::clock::now_ms())
            .map_err(|e| ApiError::bad_request("invalid_filter", e.to_string()))
    }

    /// `text=T`: what a listed invocation's input must contain (at most 256 bytes).
    pub fn text(&self) -> Result<Option<&str>, ApiError> {
        match self.get("text") {
            Some(text) if text.len() > MAX_TEXT => Err(ApiError::bad_request(
                "invalid_text",
                format!("`text` is at most {MAX_TEXT} bytes, got {}", text.len()),
            )),
            text => Ok(text.filter(|t| !t.is_empty())),
        }
    }

    /// `after=N`: how many log lines the caller has seen already (absent: 0).
    pub fn after(&self) -> Result<usize, ApiError> {
        self.number("after", "invalid_after", "a count of lines")
    }

    /// Parameter `name` as a number (absent: 0).
    fn number<N: std::str::FromStr + Default>(
        &self,
        name: &'static str,
        code: &'static str,
        what: &str,
    ) -> Result<N, ApiError> {
        let Some(text) = self.get(name) else {
            return Ok(N::default());
        };
        text.parse().map_err(|_| {
            ApiError::bad_request(
                code,
                format!("`{name}` must be {what} (0 or more), got `{text}`"),
            )
        })
    }

    /// `NAME=true|false` (absent: false).
    pub fn flag(&self, name: &'static str) -> Result<bool, ApiError> {
        match self.get(name) {
            None | Some("false" | "0") => Ok(false),
            Some("true" | "1" | "") => Ok(true),
            Some(other) => Err(ApiError::bad_request(
                "invalid_query",
                format!(
                    "`{name}` must be true or false, got `{}`",
                    other.chars().take(64).collect::<String>()
                ),
            )),
        }
    }

    /// `parent=ID`, the invocation whose children a list shows.
    pub fn parent(&self) -> Result<Option<InvocationId>, ApiError> {
        self.get("parent").map(invocation_id).transpose()
    }
}

/// The invocation id `text` names.
pub fn invocation_id(text: &str) -> Result<InvocationId, ApiError> {
    text.parse()
        .map_err(|e: BadInvocationId| ApiError::bad_request("invalid_id", e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(query: &str) -> Params {
        let uri = format!("/?{query}").parse().expect("uri");
        let Query(pairs) = Query::try_from_uri(&uri).expect("query");
        Params(pairs)
    }

    #[test]
    fn wait_is_seconds_capped_at_the_most_a_request_waits() {
        assert_eq!(params("").wait().expect("none"), None);
        assert_eq!(
            params("wait=0.25").wait().expect("fraction"),
            Some(Duration::from_millis(250))
        );
        for huge in ["301", "1e308", "1.7976931348623157e308"] {
            assert_eq!(
                params(&format!("wait={huge}")).wait().expect(huge),
                Some(MAX_WAIT)
            );
        }
        for bad in ["-1", "-0.5", "abc", "inf", "NaN", "1s"] {
            let err = params(&format!("wait={bad}")).wait().expect_err(bad);
            assert_eq!(err.code, "invalid_wait");
        }
    }

    #[test]
    fn the_first_of_a_repeated_parameter_counts() {
        let limit = params("limit=5&limit=0").limit().expect("first");
        assert_eq!(limit, 5);
        assert_eq!(params("limit=20000").limit().expect("capped"), MAX_LIST);
    }
}
