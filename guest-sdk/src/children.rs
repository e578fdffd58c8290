//! Child invocations: start functions durably and wait for their results.
//!
//! `#[reprise_sdk::function] fn send_user(u: User) -> Result<Id, Error>` also generates
//! `send_user::dispatch(&user)`, which starts a child invocation and returns a
//! [`Handle`]. Starting is journaled: a replay returns the same child and never starts it
//! twice. Waiting ([`Handle::join`], [`gather`], [`any`]) suspends the parent until what it
//! waits for is over, however long that takes.
//!
//! ```no_run
//! # use reprise_sdk::Error;
//! # #[derive(serde::Serialize, serde::Deserialize)] struct User;
//! # #[reprise_sdk::function] fn send_user(u: User) -> Result<String, Error> { Ok(String::new()) }
//! # fn export(users: Vec<User>) -> Result<Vec<String>, Error> {
//! let handles: Vec<_> = users.iter().map(send_user::dispatch).collect();
//! let ids = reprise_sdk::children::gather(&handles)?;
//! # Ok(ids) }
//! ```

use std::marker::PhantomData;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::Error;
use crate::bindings::reprise::function::host;
use crate::wait::{self, Awaitable};

/// A started child invocation whose output is a `T`.
pub struct Handle<T> {
    id: String,
    output: PhantomData<fn() -> T>,
}

impl<T> Clone for Handle<T> {
    fn clone(&self) -> Self {
        Handle::from_id(self.id.clone())
    }
}

impl<T> std::fmt::Debug for Handle<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Handle").field(&self.id).finish()
    }
}

impl<T> Handle<T> {
    /// A handle for the child invocation `id` (as returned by [`Handle::id`]).
    pub fn from_id(id: String) -> Self {
        Handle {
            id,
            output: PhantomData,
        }
    }

    /// The child's invocation id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// What to pass to the functions of [`crate::wait`] to wait for this child.
    pub fn awaitable(&self) -> Awaitable {
        Awaitable::Child(self.id.clone())
    }
}

impl<T: DeserializeOwned> Handle<T> {
    /// Waits for the child to finish and returns its output, or its error.
    pub fn join(&self) -> Result<T, Error> {
        gather(std::slice::from_ref(self)).map(|mut outputs| outputs.remove(0))
    }
}

impl<T> From<&Handle<T>> for Awaitable {
    fn from(handle: &Handle<T>) -> Self {
        handle.awaitable()
    }
}

/// Starts a child invocation of `function` — a function of this component, or
/// `deployment.function` of another deployment — with `input`. A `detached` child is not
/// cancelled when this invocation is.
pub fn dispatch<I: Serialize + ?Sized, T>(
    function: &str,
    input: &I,
    detached: bool,
) -> Result<Handle<T>, Error> {
    let input = serde_json::to_vec(input)
        .map_err(|e| Error::msg(format!("cannot encode the input for `{function}`: {e}")))?;
    host::dispatch(function, &input, detached)
        .map(Handle::from_id)
        .map_err(Error::msg)
}

/// Waits for all `handles` and returns their outputs in order; as soon as one fails, returns
/// its error, naming the child.
pub fn gather<T: DeserializeOwned>(handles: &[Handle<T>]) -> Result<Vec<T>, Error> {
    let items: Vec<Awaitable> = handles.iter().map(Handle::awaitable).collect();
    match wait::all(&items) {
        Ok(outputs) => outputs
            .iter()
            .zip(handles)
            .map(|(bytes, handle)| decode(handle, bytes))
            .collect(),
        Err(failed) => Err(child_error(handles, failed.index, failed.outcome)),
    }
}

/// Waits until one of `handles` succeeds and returns its position and output; if all fail,
/// returns every error.
pub fn any<T: DeserializeOwned>(handles: &[Handle<T>]) -> Result<(usize, T), Error> {
    let items: Vec<Awaitable> = handles.iter().map(Handle::awaitable).collect();
    match wait::any(&items) {
        Ok(won) => {
            let bytes = won.outcome.unwrap_or_default();
            Ok((won.index, decode(&handles[won.index], &bytes)?))
        }
        Err(failures) => {
            let all: Vec<String> = failures
                .into_iter()
                .map(|f| {
                    child_error(handles, f.index, f.outcome)
                        .message()
                        .to_string()
                })
                .collect();
            Err(Error::msg(format!(
                "all {} children failed: {}",
                handles.len(),
                all.join("; ")
            )))
        }
    }
}

fn decode<T: DeserializeOwned>(handle: &Handle<T>, bytes: &[u8]) -> Result<T, Error> {
    serde_json::from_slice(bytes).map_err(|e| {
        Error::msg(format!(
            "cannot decode the output of child {}: {e}",
            handle.id
        ))
    })
}

fn child_error<T>(handles: &[Handle<T>], index: usize, outcome: Result<Vec<u8>, String>) -> Error {
    let message = outcome.err().unwrap_or_default();
    Error::msg(format!(
        "child #{index} ({}) failed: {message}",
        handles[index].id
    ))
}
