//! New function projects (`reprise new`): a project that builds outside this repository, with
//! the SDK this binary ships written into it.
//!
//! Invariant: a project is written whole or not at all — into a temporary directory beside the
//! target, renamed into place at the end — and never over an existing file.

mod js;
mod python;
mod rust;
mod sdk;

use std::path::{Path, PathBuf};

/// The languages `reprise new` writes projects in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Lang {
    /// Rust, with the `reprise-sdk` crate.
    Rust,
    /// Python, with the `reprise` package, built by componentize-py.
    Python,
    /// JavaScript, with the `reprise` modules, built by componentize-js.
    Js,
}

/// Why a project could not be written.
#[derive(Debug, thiserror::Error)]
pub enum ScaffoldError {
    /// The name cannot name a project, a deployment and a function.
    #[error(
        "`{0}` cannot name a project: use 1 to 64 lowercase letters, digits, `-` and `_`, \
         starting with a letter (it names the crate, the deployment and the function)"
    )]
    BadName(String),
    /// The name is a word of the language.
    #[error("`{0}` is a keyword of the language; choose another name")]
    Keyword(String),
    /// Something is already there.
    #[error("{} already exists; choose another name or remove it", .0.display())]
    Exists(PathBuf),
    /// Writing failed.
    #[error("cannot write {}: {source}", path.display())]
    Io {
        /// What was being written.
        path: PathBuf,
        /// Why it failed.
        source: std::io::Error,
    },
}

/// A file of a project: its path relative to the project's directory, and its contents.
type File = (String, String);

/// A project written.
#[derive(Clone, Debug)]
pub struct Project {
    /// Its directory.
    pub dir: PathBuf,
    /// Where its build writes the component, relative to `dir`.
    pub component: String,
    /// The commands that build it, in `dir` (a comment says which are needed once).
    pub build: Vec<String>,
}

/// What a language's template makes: the files, where the component lands, how to build it.
struct Template {
    files: Vec<File>,
    component: String,
    build: Vec<String>,
}

/// Writes a new `lang` project called `name` in directory `parent/name`.
pub fn new_project(parent: &Path, name: &str, lang: Lang) -> Result<Project, ScaffoldError> {
    if !valid_name(name) {
        return Err(ScaffoldError::BadName(name.chars().take(100).collect()));
    }
    let Template {
        files,
        component,
        build,
    } = match lang {
        Lang::Rust => rust::project(name)?,
        Lang::Python => python::project(name)?,
        Lang::Js => js::project(name)?,
    };
    let target = parent.join(name);
    if target.symlink_metadata().is_ok() {
        return Err(ScaffoldError::Exists(target));
    }
    let staging = parent.join(format!(".{name}.reprise-new-{}", std::process::id()));
    let written = write_all(&staging, &files).and_then(|()| {
        std::fs::rename(&staging, &target).map_err(|source| ScaffoldError::Io {
            path: target.clone(),
            source,
        })
    });
    if written.is_err() {
        let _ = std::fs::remove_dir_all(&staging);
    }
    written.map(|()| Project {
        dir: target,
        component,
        build,
    })
}

/// The function a project called `name` defines (`-` as `_`), unless it is one of `keywords`.
fn function_name(name: &str, keywords: &[&str]) -> Result<String, ScaffoldError> {
    let function = name.replace('-', "_");
    if keywords.contains(&function.as_str()) {
        return Err(ScaffoldError::Keyword(name.to_string()));
    }
    Ok(function)
}

/// `sdk`'s files (paths relative to the SDK) as files of a project, under directory `dir`.
fn vendored<'a>(dir: &'a str, sdk: &'a [(&str, &str)]) -> impl Iterator<Item = File> + 'a {
    sdk.iter()
        .map(move |(path, text)| (format!("{dir}/{path}"), text.to_string()))
}

/// Whether `name` can name a crate, a deployment and (with `-` as `_`) a function.
fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    name.len() <= 64
        && chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
}

fn write_all(root: &Path, files: &[File]) -> Result<(), ScaffoldError> {
    for (relative, contents) in files {
        let path = root.join(relative);
        let io = |source| ScaffoldError::Io {
            path: path.clone(),
            source,
        };
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(io)?;
        }
        std::fs::write(&path, contents).map_err(io)?;
    }
    Ok(())
}

/// `template` with each `{key}` of `values` replaced (other braces are left alone).
fn fill(template: &str, values: &[(&str, &str)]) -> String {
    values
        .iter()
        .fold(template.to_string(), |text, (key, value)| {
            text.replace(&format!("{{{key}}}"), value)
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_checked_and_nothing_is_written_over() {
        let dir = tempfile::tempdir().expect("tempdir");
        for bad in ["", "Hello", "1st", "a.b", "a b", &"x".repeat(65)] {
            let err = new_project(dir.path(), bad, Lang::Rust).expect_err(bad);
            assert!(matches!(err, ScaffoldError::BadName(_)), "{bad}: {err}");
        }
        let err = new_project(dir.path(), "match", Lang::Rust).expect_err("keyword");
        assert!(matches!(err, ScaffoldError::Keyword(_)), "{err}");
        std::fs::write(dir.path().join("taken"), "mine").expect("write");
        let err = new_project(dir.path(), "taken", Lang::Rust).expect_err("exists");
        assert!(matches!(err, ScaffoldError::Exists(_)), "{err}");
        assert_eq!(
            std::fs::read_to_string(dir.path().join("taken")).expect("read"),
            "mine"
        );
        // Only the file that was there: no staging directory left behind.
        assert_eq!(std::fs::read_dir(dir.path()).expect("list").count(), 1);
    }

    #[test]
    fn a_rust_project_has_its_manifest_code_and_the_sdk() {
        let dir = tempfile::tempdir().expect("tempdir");
        let made = new_project(dir.path(), "send-welcome", Lang::Rust).expect("new");
        assert_eq!(
            made.component,
            "target/wasm32-wasip2/release/send_welcome.wasm"
        );
        let project = made.dir;
        let manifest = std::fs::read_to_string(project.join("Cargo.toml")).expect("manifest");
        assert!(manifest.contains("name = \"send-welcome\""), "{manifest}");
        assert!(
            manifest.contains("path = \"vendor/reprise-sdk\""),
            "{manifest}"
        );
        let code = std::fs::read_to_string(project.join("src/lib.rs")).expect("lib.rs");
        assert!(code.contains("pub fn send_welcome(input: Input)"), "{code}");
        assert!(
            code.contains("reprise_sdk::export!(send_welcome);"),
            "{code}"
        );
        for file in [
            "vendor/reprise-sdk/Cargo.toml",
            "vendor/reprise-sdk/wit/reprise.wit",
            "vendor/reprise-sdk/macros/src/lib.rs",
            ".cargo/config.toml",
        ] {
            assert!(project.join(file).is_file(), "{file} missing");
        }
    }

    #[test]
    fn a_python_project_has_its_app_the_wit_and_the_sdk() {
        let dir = tempfile::tempdir().expect("tempdir");
        let made = new_project(dir.path(), "send-welcome", Lang::Python).expect("new");
        assert_eq!(made.component, "send_welcome.wasm");
        assert!(
            made.build.iter().any(|c| c.contains("componentize")),
            "{:?}",
            made.build
        );
        let app = std::fs::read_to_string(made.dir.join("app.py")).expect("app.py");
        assert!(app.contains("def send_welcome(user):"), "{app}");
        for file in ["wit/reprise.wit", "vendor/reprise/__init__.py", "README.md"] {
            assert!(made.dir.join(file).is_file(), "{file} missing");
        }
        let err = new_project(dir.path(), "lambda", Lang::Python).expect_err("keyword");
        assert!(matches!(err, ScaffoldError::Keyword(_)), "{err}");
    }

    #[test]
    fn a_js_project_has_its_app_its_package_the_wit_and_the_sdk() {
        let dir = tempfile::tempdir().expect("tempdir");
        let made = new_project(dir.path(), "send-welcome", Lang::Js).expect("new");
        assert_eq!(made.component, "send_welcome.wasm");
        let app = std::fs::read_to_string(made.dir.join("app.js")).expect("app.js");
        assert!(app.contains("send_welcome(user) {"), "{app}");
        let package = std::fs::read_to_string(made.dir.join("package.json")).expect("package");
        let package: serde_json::Value = serde_json::from_str(&package).expect("package is JSON");
        assert_eq!(
            package["devDependencies"]["@bytecodealliance/componentize-js"],
            js::COMPONENTIZE_JS
        );
        assert_eq!(
            package["scripts"]["build"],
            "componentize-js app.js --wit wit -n function -o send_welcome.wasm"
        );
        for file in ["wit/reprise.wit", "vendor/reprise/index.js", "README.md"] {
            assert!(made.dir.join(file).is_file(), "{file} missing");
        }
        let err = new_project(dir.path(), "function", Lang::Js).expect_err("keyword");
        assert!(matches!(err, ScaffoldError::Keyword(_)), "{err}");
    }

    #[test]
    fn fill_replaces_only_the_keys_given() {
        let text = fill("{a} {\"b\": {}} {a}", &[("a", "x")]);
        assert_eq!(text, "x {\"b\": {}} x");
    }
}
