//! Rust bindings of the WIT contract (`guest-sdk/wit/reprise.wit`, linked as `wit/`), shared by
//! the runtime and the journal.

wasmtime::component::bindgen!({
    world: "function",
    path: "../guest-sdk/wit",
    imports: { default: async | trappable },
    exports: { default: async },
    additional_derives: [PartialEq, Eq],
});

pub use self::reprise::function::types::{
    HttpError, HttpRequest, HttpResponse, LogLevel, Timestamp,
};
