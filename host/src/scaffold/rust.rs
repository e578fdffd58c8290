//! The Rust project template: a `cdylib` for wasm32-wasip2 with one function, and the SDK
//! vendored beside it.

use super::{File, ScaffoldError, Template, fill, function_name, sdk, vendored};

/// Rust's keywords, strict and reserved: a function cannot be called one.
const KEYWORDS: &[&str] = &[
    "as", "async", "await", "break", "const", "continue", "crate", "dyn", "else", "enum", "extern",
    "false", "fn", "for", "gen", "if", "impl", "in", "let", "loop", "match", "mod", "move", "mut",
    "pub", "ref", "return", "self", "static", "struct", "super", "trait", "true", "type", "unsafe",
    "use", "where", "while", "abstract", "become", "box", "do", "final", "macro", "override",
    "priv", "try", "typeof", "unsized", "virtual", "yield",
];

/// Rust project `name` (already checked as a name).
pub(super) fn project(name: &str) -> Result<Template, ScaffoldError> {
    let function = function_name(name, KEYWORDS)?;
    let values = [
        ("name", name),
        ("crate", function.as_str()),
        ("function", function.as_str()),
        ("sdk_version", sdk::RUST_SDK_VERSION),
    ];
    let template = |text: &str| fill(text, &values);
    let mut files: Vec<File> = vec![
        (
            "Cargo.toml".into(),
            template(include_str!("templates/rust/Cargo.toml.tmpl")),
        ),
        (
            "src/lib.rs".into(),
            template(include_str!("templates/rust/lib.rs.tmpl")),
        ),
        (
            ".cargo/config.toml".into(),
            include_str!("templates/rust/config.toml").into(),
        ),
        (
            ".gitignore".into(),
            include_str!("templates/rust/gitignore").into(),
        ),
        (
            "README.md".into(),
            template(include_str!("templates/rust/README.md.tmpl")),
        ),
    ];
    files.extend(vendored("vendor/reprise-sdk", sdk::RUST_SDK));
    Ok(Template {
        files,
        component: format!("target/wasm32-wasip2/release/{function}.wasm"),
        build: vec![
            "rustup target add wasm32-wasip2   # once".into(),
            "cargo build --release".into(),
        ],
    })
}
