//! The JavaScript project template: an app module with one function, the WIT it is built
//! against and the JavaScript SDK vendored beside it, built by componentize-js from npm.

use super::{File, ScaffoldError, Template, fill, function_name, sdk, vendored};

/// The componentize-js the projects are made for (and the test suite builds with).
pub const COMPONENTIZE_JS: &str = "0.23.0";

/// The preview2-shim componentize-js loads when it runs; its package lists it only as a
/// development dependency, so projects name it.
const PREVIEW2_SHIM: &str = "0.25.0";

/// JavaScript's reserved words (and the literals): a function cannot be called one.
const KEYWORDS: &[&str] = &[
    "await",
    "break",
    "case",
    "catch",
    "class",
    "const",
    "continue",
    "debugger",
    "default",
    "delete",
    "do",
    "else",
    "enum",
    "export",
    "extends",
    "false",
    "finally",
    "for",
    "function",
    "if",
    "implements",
    "import",
    "in",
    "instanceof",
    "interface",
    "let",
    "new",
    "null",
    "package",
    "private",
    "protected",
    "public",
    "return",
    "static",
    "super",
    "switch",
    "this",
    "throw",
    "true",
    "try",
    "typeof",
    "var",
    "void",
    "while",
    "with",
    "yield",
];

/// JavaScript project `name` (already checked as a name).
pub(super) fn project(name: &str) -> Result<Template, ScaffoldError> {
    let function = function_name(name, KEYWORDS)?;
    let component = format!("{function}.wasm");
    let build_script = format!("componentize-js app.js --wit wit -n function -o {component}");
    let values = [
        ("name", name),
        ("function", function.as_str()),
        ("component", component.as_str()),
        ("build_script", build_script.as_str()),
        ("componentize_js", COMPONENTIZE_JS),
        ("preview2_shim", PREVIEW2_SHIM),
        ("sdk_version", sdk::RUST_SDK_VERSION),
    ];
    let template = |text: &str| fill(text, &values);
    let mut files: Vec<File> = vec![
        (
            "app.js".into(),
            template(include_str!("templates/js/app.js.tmpl")),
        ),
        (
            "package.json".into(),
            template(include_str!("templates/js/package.json.tmpl")),
        ),
        (
            "README.md".into(),
            template(include_str!("templates/js/README.md.tmpl")),
        ),
        (
            ".gitignore".into(),
            include_str!("templates/js/gitignore").into(),
        ),
        ("wit/reprise.wit".into(), sdk::WIT.into()),
    ];
    files.extend(vendored("vendor", sdk::JS_SDK));
    Ok(Template {
        files,
        component,
        build: vec!["npm install   # once".into(), "npm run build".into()],
    })
}
