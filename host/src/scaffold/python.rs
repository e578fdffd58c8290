//! The Python project template: an app module with one function, the WIT it is built against
//! and the Python SDK vendored beside it, built by componentize-py.

use super::{File, ScaffoldError, Template, fill, function_name, sdk, vendored};

/// The componentize-py the projects are made for (and the test suite builds with).
pub const COMPONENTIZE_PY: &str = "0.25.1";

/// Python's keywords: a function cannot be called one.
const KEYWORDS: &[&str] = &[
    "and", "as", "assert", "async", "await", "break", "class", "continue", "def", "del", "elif",
    "else", "except", "false", "finally", "for", "from", "global", "if", "import", "in", "is",
    "lambda", "none", "nonlocal", "not", "or", "pass", "raise", "return", "true", "try", "while",
    "with", "yield",
];

/// Python project `name` (already checked as a name).
pub(super) fn project(name: &str) -> Result<Template, ScaffoldError> {
    let function = function_name(name, KEYWORDS)?;
    let component = format!("{function}.wasm");
    let build = format!(
        ".venv/bin/componentize-py -d wit -w function componentize -p . -p vendor app -o {component}"
    );
    let values = [
        ("name", name),
        ("function", function.as_str()),
        ("component", component.as_str()),
        ("build", build.as_str()),
        ("componentize_py", COMPONENTIZE_PY),
        ("sdk_version", sdk::RUST_SDK_VERSION),
    ];
    let template = |text: &str| fill(text, &values);
    let mut files: Vec<File> = vec![
        (
            "app.py".into(),
            template(include_str!("templates/python/app.py.tmpl")),
        ),
        (
            "README.md".into(),
            template(include_str!("templates/python/README.md.tmpl")),
        ),
        (
            ".gitignore".into(),
            include_str!("templates/python/gitignore").into(),
        ),
        ("wit/reprise.wit".into(), sdk::WIT.into()),
    ];
    files.extend(vendored("vendor", sdk::PYTHON_SDK));
    Ok(Template {
        files,
        component,
        build: vec![
            format!(
                "python3 -m venv .venv && .venv/bin/pip install componentize-py=={COMPONENTIZE_PY}   # once"
            ),
            build,
        ],
    })
}
