//! The world check: a component's imports and exports against what this host provides, read
//! from its bytes before anything is compiled.
//!
//! Compiling a large component takes seconds of CPU; a component this host can never link is
//! refused before that, naming the interface and what to use instead. The check reads only
//! the component's own (outermost) import and export sections. It is a first filter: linking
//! the compiled component still checks every function's type.

use wasmparser::{Parser, Payload};

/// The interface functions export, and the only version family of it this host runs.
pub const GUEST_EXPORT: &str = "reprise:function/guest@0.1.0";

/// The reprise package's interfaces a component may import (at 0.1.x).
const REPRISE: &[&str] = &["reprise:function/host", "reprise:function/types"];

/// The WASI 0.2 interfaces the host links: those `wasmtime_wasi::p2::add_to_linker_async`
/// adds (kept in step with it by hand), with clocks and randomness journaled; there are no
/// preopened directories and no network, so files and sockets fail when used.
const WASI: &[&str] = &[
    "wasi:io/error",
    "wasi:io/poll",
    "wasi:io/streams",
    "wasi:clocks/wall-clock",
    "wasi:clocks/monotonic-clock",
    "wasi:random/random",
    "wasi:random/insecure",
    "wasi:random/insecure-seed",
    "wasi:cli/environment",
    "wasi:cli/exit",
    "wasi:cli/stdin",
    "wasi:cli/stdout",
    "wasi:cli/stderr",
    "wasi:cli/terminal-input",
    "wasi:cli/terminal-output",
    "wasi:cli/terminal-stdin",
    "wasi:cli/terminal-stdout",
    "wasi:cli/terminal-stderr",
    "wasi:filesystem/types",
    "wasi:filesystem/preopens",
    "wasi:sockets/network",
    "wasi:sockets/instance-network",
    "wasi:sockets/tcp",
    "wasi:sockets/tcp-create-socket",
    "wasi:sockets/udp",
    "wasi:sockets/udp-create-socket",
    "wasi:sockets/ip-name-lookup",
    // wasmtime-wasi-http's, with `handle` journaled (`host_calls/wasi_http.rs`).
    "wasi:http/types",
    "wasi:http/outgoing-handler",
];

/// Why a component's world is not one this host runs.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum WorldError {
    /// The bytes do not parse as a component.
    #[error("the component is invalid: {0}")]
    Malformed(String),
    /// An import the host does not provide.
    #[error("the component imports `{name}`, which this host does not provide; {advice}")]
    Import {
        /// The import's name as the component spells it.
        name: String,
        /// What to use instead.
        advice: String,
    },
    /// The guest interface is not exported.
    #[error("the component does not export `{GUEST_EXPORT}`; {advice}")]
    Export {
        /// What it is instead, and how to build a function.
        advice: String,
    },
}

/// Checks the imports and exports of component `bytes` against this host.
pub fn check(bytes: &[u8]) -> Result<(), WorldError> {
    let (imports, exports) = surface(bytes).map_err(|e| WorldError::Malformed(e.to_string()))?;
    for name in &imports {
        if let Some(advice) = refusal(name) {
            return Err(WorldError::Import {
                name: name.chars().take(200).collect(),
                advice,
            });
        }
    }
    if !exports.iter().any(|name| is_guest(name)) {
        return Err(WorldError::Export {
            advice: export_advice(&exports),
        });
    }
    Ok(())
}

/// The names of the outermost component's imports and exports.
fn surface(bytes: &[u8]) -> wasmparser::Result<(Vec<String>, Vec<String>)> {
    let (mut imports, mut exports) = (Vec::new(), Vec::new());
    // Nested modules and components are parsed in line; only depth 0 is the component's own.
    let mut depth = 0usize;
    for payload in Parser::new(0).parse_all(bytes) {
        match payload? {
            Payload::ModuleSection { .. } | Payload::ComponentSection { .. } => depth += 1,
            Payload::End(_) => depth = depth.saturating_sub(1),
            Payload::ComponentImportSection(section) if depth == 0 => {
                for import in section {
                    imports.push(import?.name.name.to_string());
                }
            }
            Payload::ComponentExportSection(section) if depth == 0 => {
                for export in section {
                    exports.push(export?.name.name.to_string());
                }
            }
            _ => {}
        }
    }
    Ok((imports, exports))
}

/// `name` split into its interface (`ns:pkg/iface`) and version, if it is versioned.
fn split(name: &str) -> (&str, Option<&str>) {
    match name.split_once('@') {
        Some((interface, version)) => (interface, Some(version)),
        None => (name, None),
    }
}

fn is_guest(name: &str) -> bool {
    let (interface, version) = split(name);
    interface == "reprise:function/guest" && version.is_some_and(|v| v.starts_with("0.1."))
}

/// Why import `name` cannot be linked and what to use instead; `None` when the host has it.
fn refusal(name: &str) -> Option<String> {
    let (interface, version) = split(name);
    let version = version.unwrap_or("");
    let package = interface.split('/').next().unwrap_or(interface);
    if REPRISE.contains(&interface) {
        return (!version.starts_with("0.1.")).then(|| {
            "this host implements reprise:function@0.1.0; build the function against the \
             SDK this host ships (its WIT is reprise:function@0.1.0)"
                .to_string()
        });
    }
    if WASI.contains(&interface) {
        return (!version.starts_with("0.2.")).then(|| {
            format!(
                "this host provides WASI 0.2 (`{interface}@0.2.x`), not {version}; build \
                 for the wasm32-wasip2 target"
            )
        });
    }
    Some(match package {
        "wasi:http" => "of wasi:http the host provides `types` and `outgoing-handler` (outgoing \
                        requests, journaled like `http-send`); a function is not an HTTP \
                        server, so build it without `incoming-handler`"
            .to_string(),
        "wasi:keyvalue" | "wasi:config" | "wasi:blobstore" | "wasi:messaging" => format!(
            "Reprise has no {package}: a function's own variables are durable (the journal \
             replays them), and other services are reached over `http-send`"
        ),
        _ => format!(
            "this host provides `reprise:function/host` and WASI 0.2's io, clocks, random, \
             cli, filesystem and sockets (with no preopened directories and no network); \
             remove the dependency that imports `{package}`"
        ),
    })
}

/// What a component without the guest export is, from its `exports`, and how to make one.
fn export_advice(exports: &[String]) -> String {
    let exported = |interface: &str| exports.iter().any(|name| split(name).0 == interface);
    let what = if exported("reprise:function/guest") {
        "it exports another version of `reprise:function/guest`; build it against the SDK \
         this host ships"
    } else if exported("wasi:http/incoming-handler") {
        "it is a wasi:http server (it exports `wasi:http/incoming-handler`), not a function"
    } else if exported("wasi:cli/run") {
        "it is a command (it exports `wasi:cli/run`), not a function"
    } else {
        "it exports no functions Reprise can call"
    };
    format!(
        "{what}: a function component implements the `reprise:function/function` world \
         (with Rust, `reprise_sdk::export!` in a `cdylib` built for wasm32-wasip2)"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_split_into_interface_and_version() {
        assert_eq!(split("wasi:io/poll@0.2.3"), ("wasi:io/poll", Some("0.2.3")));
        assert_eq!(split("host"), ("host", None));
    }

    #[test]
    fn provided_interfaces_pass_and_others_are_named_with_advice() {
        assert_eq!(refusal("wasi:io/poll@0.2.0"), None);
        assert_eq!(refusal("wasi:clocks/monotonic-clock@0.2.12"), None);
        assert_eq!(refusal("reprise:function/host@0.1.0"), None);
        assert_eq!(refusal("wasi:http/outgoing-handler@0.2.0"), None);
        let server = refusal("wasi:http/incoming-handler@0.2.0").expect("refused");
        assert!(server.contains("outgoing-handler"), "{server}");
        let new_wasi = refusal("wasi:io/poll@0.3.0").expect("refused");
        assert!(new_wasi.contains("wasm32-wasip2"), "{new_wasi}");
        let other = refusal("acme:db/query@1.0.0").expect("refused");
        assert!(other.contains("`acme:db`"), "{other}");
        assert!(refusal("reprise:function/host@0.2.0").is_some());
        assert!(refusal("plain-function").is_some());
    }

    #[test]
    fn the_guest_export_is_required_at_0_1() {
        assert!(is_guest("reprise:function/guest@0.1.0"));
        assert!(is_guest("reprise:function/guest@0.1.7"));
        assert!(!is_guest("reprise:function/guest@0.2.0"));
        assert!(!is_guest("reprise:function/guest"));
        let proxy = export_advice(&["wasi:http/incoming-handler@0.2.0".to_string()]);
        assert!(proxy.contains("wasi:http server"), "{proxy}");
    }
}
