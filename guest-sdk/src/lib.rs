//! Write durable Reprise functions in plain Rust.
//!
//! A Reprise function is an ordinary Rust function compiled to a `wasm32-wasip2`
//! component. Every call it makes to the outside world — HTTP requests, the clock,
//! random numbers, log lines — goes through the host, which journals the outcome
//! before the function sees it. When an invocation is interrupted (crash, restart,
//! deploy), the host replays it: recorded calls return their recorded outcome instead
//! of being performed again, so the function picks up exactly where it stopped.
//!
//! ```no_run
//! use reprise_sdk::{Error, http};
//! use serde::{Deserialize, Serialize};
//!
//! #[derive(Deserialize)]
//! struct Input {
//!     url: String,
//! }
//!
//! #[derive(Serialize)]
//! struct Output {
//!     status: u16,
//! }
//!
//! #[reprise_sdk::function]
//! fn ping(input: Input) -> Result<Output, Error> {
//!     let response = http::post(&input.url).json(&"ping").send()?.error_for_status()?;
//!     reprise_sdk::info!("{} answered {}", input.url, response.status());
//!     Ok(Output { status: response.status() })
//! }
//!
//! reprise_sdk::export!(ping);
//! ```
//!
//! Build with `cargo build --release --target wasm32-wasip2`; the crate must be a
//! `cdylib` and depend on `reprise-sdk` (the generated code refers to `::reprise_sdk`)
//! and `serde`.
//!
//! # Time and randomness from `std` are journaled too
//!
//! Besides [`now`] and [`random_bytes`], the host journals the WASI clocks and random
//! source that `std` and crates such as `getrandom` use. `SystemTime::now()`,
//! `Instant::now()`, `HashMap`'s random seed and `getrandom` therefore return the same
//! values when an invocation is replayed, and are safe to use:
//!
//! ```no_run
//! use std::time::{Instant, SystemTime};
//!
//! let started = Instant::now();
//! let wall = SystemTime::now(); // same value on replay
//! let elapsed = started.elapsed(); // same value on replay
//! reprise_sdk::info!("started at {wall:?}, took {elapsed:?}");
//! ```
//!
//! What is *not* journaled is anything the function computes on its own, which is
//! why it must be deterministic given the outcomes of its host calls: a replay must
//! make the same calls in the same order.
#![warn(missing_docs)]

pub mod children;
mod error;
pub mod http;
pub mod log;
pub mod wait;

use std::time::{Duration, SystemTime};

pub use children::{Handle, gather};
pub use error::{Error, Result};
pub use reprise_sdk_macros::function;
pub use wait::{await_signal, sleep, sleep_until};

/// Bindings generated from `wit/reprise.wit` (inside this crate); used by the SDK's macros.
#[doc(hidden)]
#[allow(unsafe_code, missing_docs)]
pub mod bindings {
    wit_bindgen::generate!({
        path: "wit",
        world: "function",
        pub_export_macro: true,
        export_macro_name: "__export_function",
        default_bindings_module: "reprise_sdk::bindings",
    });
}

use bindings::reprise::function::host;

/// A function a component exports; implemented by `#[reprise_sdk::function]`.
pub trait Function {
    /// The function's name, as callers invoke it.
    const NAME: &'static str;

    /// Decodes `input` (JSON), runs the function and encodes its output (JSON).
    fn call_json(input: &[u8]) -> std::result::Result<Vec<u8>, Error>;
}

/// Exports `#[reprise_sdk::function]`s from the component: `reprise_sdk::export!(a, b);`.
///
/// Use it once per component, at the crate's top level.
#[macro_export]
macro_rules! export {
    ($($f:path),+ $(,)?) => {
        const _: () = {
            #[doc(hidden)]
            struct __RepriseExports;

            impl $crate::bindings::exports::reprise::function::guest::Guest for __RepriseExports {
                fn functions() -> ::std::vec::Vec<::std::string::String> {
                    ::std::vec![$(::std::string::ToString::to_string(
                        <$f as $crate::Function>::NAME
                    )),+]
                }

                fn call(
                    name: ::std::string::String,
                    input: ::std::vec::Vec<u8>,
                ) -> ::core::result::Result<
                    ::std::vec::Vec<u8>,
                    $crate::bindings::exports::reprise::function::guest::CallError,
                > {
                    $(
                        if name == <$f as $crate::Function>::NAME {
                            return <$f as $crate::Function>::call_json(&input)
                                .map_err($crate::__private::call_error);
                        }
                    )+
                    ::core::result::Result::Err($crate::__private::call_error(
                        $crate::Error::msg($crate::__private::unknown_function(
                            &name,
                            &[$(<$f as $crate::Function>::NAME),+],
                        )),
                    ))
                }
            }

            $crate::bindings::__export_function!(__RepriseExports with_types_in $crate::bindings);
        };
    };
}

/// Support code for the SDK's macros; not a stable API.
#[doc(hidden)]
pub mod __private {
    pub use serde;
    use serde::Serialize;
    use serde::de::DeserializeOwned;

    /// Decodes a function's JSON input.
    pub fn decode_input<T: DeserializeOwned>(
        function: &str,
        input: &[u8],
    ) -> Result<T, crate::Error> {
        serde_json::from_slice(input).map_err(|err| {
            crate::Error::msg(format!("invalid input for function `{function}`: {err}"))
        })
    }

    /// Encodes a function's output as JSON.
    pub fn encode_output<T: Serialize + ?Sized>(
        function: &str,
        output: &T,
    ) -> Result<Vec<u8>, crate::Error> {
        serde_json::to_vec(output).map_err(|err| {
            crate::Error::msg(format!(
                "cannot encode the output of function `{function}`: {err}"
            ))
        })
    }

    /// What the host is told of a failure.
    pub fn call_error(
        error: crate::Error,
    ) -> crate::bindings::exports::reprise::function::guest::CallError {
        crate::bindings::exports::reprise::function::guest::CallError {
            retryable: error.is_retryable(),
            message: error.message().to_string(),
        }
    }

    /// A function's error `E`, as an SDK error: kept as it is when it is one (retryable or
    /// not), else its `Display` text. Pick with `(&Wrap(&e)).to_sdk_error()` (autoref
    /// chooses [`SdkError`] for `reprise_sdk::Error`, [`DisplayError`] for the rest).
    pub struct Wrap<'a, E>(pub &'a E);

    /// [`Wrap`] of an SDK error.
    pub trait SdkError {
        /// The error.
        fn to_sdk_error(&self) -> crate::Error;
    }

    impl SdkError for Wrap<'_, crate::Error> {
        fn to_sdk_error(&self) -> crate::Error {
            self.0.detached()
        }
    }

    /// [`Wrap`] of any other error.
    pub trait DisplayError {
        /// The error's text as an SDK error.
        fn to_sdk_error(&self) -> crate::Error;
    }

    impl<E: std::fmt::Display> DisplayError for &Wrap<'_, E> {
        fn to_sdk_error(&self) -> crate::Error {
            crate::Error::msg(self.0)
        }
    }

    /// Starts a child invocation of a function of this component (`NAME::dispatch`).
    pub fn dispatch<I: Serialize + ?Sized, T>(
        function: &str,
        input: &I,
        detached: bool,
    ) -> crate::Handle<T> {
        crate::children::dispatch(function, input, detached)
            .unwrap_or_else(|err| panic!("cannot dispatch `{function}`: {err}"))
    }

    /// The error for a call to a function the component does not export.
    pub fn unknown_function(name: &str, exported: &[&str]) -> String {
        format!(
            "unknown function `{name}`; this component exports: {}",
            exported.join(", ")
        )
    }
}

/// The current wall-clock time, from the host (journaled: the same value on replay).
pub fn now() -> SystemTime {
    let host::Timestamp {
        seconds,
        nanoseconds,
    } = host::now();
    SystemTime::UNIX_EPOCH
        .checked_add(Duration::new(seconds, nanoseconds))
        .expect("host timestamp out of range for SystemTime")
}

/// `len` cryptographically secure random bytes from the host (journaled).
pub fn random_bytes(len: usize) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(len);
    while bytes.len() < len {
        let chunk = u32::try_from(len - bytes.len()).unwrap_or(u32::MAX);
        let received = host::random_bytes(chunk);
        assert!(
            !received.is_empty(),
            "the host returned no random bytes ({chunk} requested)"
        );
        bytes.extend(received);
    }
    bytes.truncate(len);
    bytes
}

/// The id of the running invocation (stable across replays).
pub fn invocation_id() -> String {
    host::invocation_id()
}
