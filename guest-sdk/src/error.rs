//! A catch-all error type for function bodies.

use std::error::Error as StdError;
use std::fmt;

/// `Result` with [`Error`] as the default error type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A catch-all error for function bodies: a message, with the source chain of the
/// original error rendered into it (`outer: cause: root cause`).
///
/// Any `std::error::Error + Send + Sync + 'static` converts into it with `?`; build one
/// from a message with [`Error::msg`]. Returned from a `#[reprise_sdk::function]`, its
/// message becomes the invocation's error. (`Error` deliberately does not implement
/// `std::error::Error`, which would conflict with the blanket `From` conversion.)
pub struct Error {
    message: String,
    inner: Option<Box<dyn StdError + Send + Sync + 'static>>,
    retryable: bool,
}

impl Error {
    /// An error with just a message.
    pub fn msg(message: impl fmt::Display) -> Self {
        Error {
            message: message.to_string(),
            inner: None,
            retryable: false,
        }
    }

    /// An error after which the host runs the function again, by replay, under the
    /// deployment's retry policy: steps already journaled are not repeated.
    pub fn retryable(message: impl fmt::Display) -> Self {
        Error {
            retryable: true,
            ..Error::msg(message)
        }
    }

    /// Marks this error retryable (see [`Error::retryable`]).
    pub fn retry(mut self) -> Self {
        self.retryable = true;
        self
    }

    /// Whether the host runs the function again after this error.
    pub fn is_retryable(&self) -> bool {
        self.retryable
    }

    /// A copy without the original error (for returning it to the host).
    pub(crate) fn detached(&self) -> Self {
        Error {
            message: self.message.clone(),
            inner: None,
            retryable: self.retryable,
        }
    }

    /// Prefixes the message with `context`: `"{context}: {message}"`.
    pub fn context(mut self, context: impl fmt::Display) -> Self {
        self.message = format!("{context}: {}", self.message);
        self
    }

    /// The full message, including the rendered source chain.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The original error if it was converted from an `E`.
    pub fn downcast_ref<E: StdError + 'static>(&self) -> Option<&E> {
        self.inner.as_deref()?.downcast_ref::<E>()
    }
}

impl<E: StdError + Send + Sync + 'static> From<E> for Error {
    fn from(error: E) -> Self {
        let mut message = error.to_string();
        let mut source = error.source();
        while let Some(cause) = source {
            let cause_text = cause.to_string();
            // Many errors already include their cause in their own message.
            if !cause_text.is_empty() && !message.contains(&cause_text) {
                message.push_str(": ");
                message.push_str(&cause_text);
            }
            source = cause.source();
        }
        Error {
            message,
            inner: Some(Box::new(error)),
            retryable: false,
        }
    }
}

impl From<Error> for Box<dyn StdError + Send + Sync + 'static> {
    fn from(error: Error) -> Self {
        error.message.into()
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug)]
    struct Outer(std::io::Error);

    impl fmt::Display for Outer {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("cannot export")
        }
    }

    impl StdError for Outer {
        fn source(&self) -> Option<&(dyn StdError + 'static)> {
            Some(&self.0)
        }
    }

    #[test]
    fn renders_source_chain() {
        let error = Error::from(Outer(std::io::Error::other("disk full")));
        assert_eq!(error.to_string(), "cannot export: disk full");
        assert!(error.downcast_ref::<Outer>().is_some());
        assert_eq!(
            error.context("user 7").message(),
            "user 7: cannot export: disk full"
        );
    }

    #[test]
    fn msg_and_question_mark() {
        fn parse() -> Result<u32> {
            Ok("x".parse::<u32>()?)
        }
        assert_eq!(
            parse().expect_err("not a number").to_string(),
            "invalid digit found in string"
        );
        assert_eq!(format!("{:?}", Error::msg("boom")), "boom");
    }
}
