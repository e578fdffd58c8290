//! The smallest Reprise function: `hello({"name": "Ada"})` returns
//! `{"greeting": "Hello, Ada!"}`.
//!
//! Build with `cargo build --release --target wasm32-wasip2 -p hello`; the component is
//! `target/wasm32-wasip2/release/hello.wasm`.

use reprise_sdk::Error;
use serde::{Deserialize, Serialize};

/// Input of [`hello`].
#[derive(Deserialize)]
pub struct HelloInput {
    /// Who to greet.
    pub name: String,
}

/// Output of [`hello`].
#[derive(Serialize)]
pub struct Greeting {
    /// The greeting, e.g. `"Hello, Ada!"`.
    pub greeting: String,
}

/// Greets `input.name`.
#[reprise_sdk::function]
pub fn hello(input: HelloInput) -> Result<Greeting, Error> {
    if input.name.is_empty() {
        return Err(Error::msg("field `name` must not be empty"));
    }
    Ok(Greeting {
        greeting: format!("Hello, {}!", input.name),
    })
}

reprise_sdk::export!(hello);
