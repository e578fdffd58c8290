//! Log lines written to the invocation's log (journaled: not repeated on replay).
//!
//! Use the functions with a ready message, or the macros with format arguments:
//! `reprise_sdk::info!("exported user {id}")`.

use crate::bindings::reprise::function::host;
use crate::bindings::reprise::function::types::LogLevel;

/// Severity of a log line.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Level {
    /// Very detailed diagnostics.
    Trace,
    /// Diagnostics.
    Debug,
    /// Normal progress.
    Info,
    /// Something unexpected that the function recovered from.
    Warn,
    /// A failure.
    Error,
}

/// Writes `message` at `level`.
pub fn log(level: Level, message: impl AsRef<str>) {
    let level = match level {
        Level::Trace => LogLevel::Trace,
        Level::Debug => LogLevel::Debug,
        Level::Info => LogLevel::Info,
        Level::Warn => LogLevel::Warn,
        Level::Error => LogLevel::Error,
    };
    host::log(level, message.as_ref());
}

/// Writes `message` at trace level.
pub fn trace(message: impl AsRef<str>) {
    log(Level::Trace, message);
}

/// Writes `message` at debug level.
pub fn debug(message: impl AsRef<str>) {
    log(Level::Debug, message);
}

/// Writes `message` at info level.
pub fn info(message: impl AsRef<str>) {
    log(Level::Info, message);
}

/// Writes `message` at warn level.
pub fn warn(message: impl AsRef<str>) {
    log(Level::Warn, message);
}

/// Writes `message` at error level.
pub fn error(message: impl AsRef<str>) {
    log(Level::Error, message);
}

/// Logs a formatted line at trace level: `reprise_sdk::trace!("x = {x}")`.
#[macro_export]
macro_rules! trace {
    ($($arg:tt)+) => { $crate::log::log($crate::log::Level::Trace, ::std::format!($($arg)+)) };
}

/// Logs a formatted line at debug level: `reprise_sdk::debug!("x = {x}")`.
#[macro_export]
macro_rules! debug {
    ($($arg:tt)+) => { $crate::log::log($crate::log::Level::Debug, ::std::format!($($arg)+)) };
}

/// Logs a formatted line at info level: `reprise_sdk::info!("x = {x}")`.
#[macro_export]
macro_rules! info {
    ($($arg:tt)+) => { $crate::log::log($crate::log::Level::Info, ::std::format!($($arg)+)) };
}

/// Logs a formatted line at warn level: `reprise_sdk::warn!("x = {x}")`.
#[macro_export]
macro_rules! warn {
    ($($arg:tt)+) => { $crate::log::log($crate::log::Level::Warn, ::std::format!($($arg)+)) };
}

/// Logs a formatted line at error level: `reprise_sdk::error!("x = {x}")`.
#[macro_export]
macro_rules! error {
    ($($arg:tt)+) => { $crate::log::log($crate::log::Level::Error, ::std::format!($($arg)+)) };
}
