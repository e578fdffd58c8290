//! Rust bindings of the WIT contract (`wit/reprise.wit`), shared by the runtime and the journal.

wasmtime::component::bindgen!({
    world: "function",
    path: "../wit",
    imports: { default: async | trappable },
    exports: { default: async },
    additional_derives: [PartialEq, Eq],
});

pub use self::reprise::function::types::{
    HttpError, HttpRequest, HttpResponse, LogLevel, Timestamp,
};
