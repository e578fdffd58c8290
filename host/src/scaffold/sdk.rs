//! The SDKs as this binary was built with them, to write into new projects.

/// The version of the embedded SDK.
pub(super) const RUST_SDK_VERSION: &str = "0.1.0";

/// The WIT contract (`reprise:function@0.1.0`).
pub(super) const WIT: &str = include_str!("../../../guest-sdk/wit/reprise.wit");

/// The files of the Python SDK (`guest-sdk-python/`): the `reprise` package.
pub(super) const PYTHON_SDK: &[(&str, &str)] = &[
    (
        "reprise/__init__.py",
        include_str!("../../../guest-sdk-python/reprise/__init__.py"),
    ),
    (
        "reprise/_errors.py",
        include_str!("../../../guest-sdk-python/reprise/_errors.py"),
    ),
    (
        "reprise/_guest.py",
        include_str!("../../../guest-sdk-python/reprise/_guest.py"),
    ),
    (
        "reprise/_wait.py",
        include_str!("../../../guest-sdk-python/reprise/_wait.py"),
    ),
    (
        "reprise/http.py",
        include_str!("../../../guest-sdk-python/reprise/http.py"),
    ),
    (
        "reprise/log.py",
        include_str!("../../../guest-sdk-python/reprise/log.py"),
    ),
];

/// The files of the JavaScript SDK (`guest-sdk-js/`): the `reprise` modules.
pub(super) const JS_SDK: &[(&str, &str)] = &[
    (
        "reprise/errors.js",
        include_str!("../../../guest-sdk-js/reprise/errors.js"),
    ),
    (
        "reprise/guest.js",
        include_str!("../../../guest-sdk-js/reprise/guest.js"),
    ),
    (
        "reprise/http.js",
        include_str!("../../../guest-sdk-js/reprise/http.js"),
    ),
    (
        "reprise/index.js",
        include_str!("../../../guest-sdk-js/reprise/index.js"),
    ),
    (
        "reprise/json.js",
        include_str!("../../../guest-sdk-js/reprise/json.js"),
    ),
    (
        "reprise/log.js",
        include_str!("../../../guest-sdk-js/reprise/log.js"),
    ),
    (
        "reprise/wait.js",
        include_str!("../../../guest-sdk-js/reprise/wait.js"),
    ),
];

/// The files of the `reprise-sdk` crate (with its macros crate and its WIT), relative to the
/// crate's directory.
pub(super) const RUST_SDK: &[(&str, &str)] = &[
    ("Cargo.toml", include_str!("../../../guest-sdk/Cargo.toml")),
    ("src/lib.rs", include_str!("../../../guest-sdk/src/lib.rs")),
    (
        "src/children.rs",
        include_str!("../../../guest-sdk/src/children.rs"),
    ),
    (
        "src/error.rs",
        include_str!("../../../guest-sdk/src/error.rs"),
    ),
    (
        "src/http.rs",
        include_str!("../../../guest-sdk/src/http.rs"),
    ),
    ("src/log.rs", include_str!("../../../guest-sdk/src/log.rs")),
    (
        "src/wait.rs",
        include_str!("../../../guest-sdk/src/wait.rs"),
    ),
    ("wit/reprise.wit", WIT),
    (
        "macros/Cargo.toml",
        include_str!("../../../guest-sdk/macros/Cargo.toml"),
    ),
    (
        "macros/src/lib.rs",
        include_str!("../../../guest-sdk/macros/src/lib.rs"),
    ),
];

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    /// Every file under `dir`, relative to `root`.
    fn files(root: &Path, dir: &Path, out: &mut Vec<String>) {
        for entry in std::fs::read_dir(dir).expect("read_dir") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                files(root, &path, out);
            } else {
                let relative = path.strip_prefix(root).expect("under root");
                out.push(relative.to_string_lossy().into_owned());
            }
        }
    }

    /// The files under `dir` on disk against `embedded`'s paths.
    fn assert_whole(dir: &str, embedded: &[(&str, &str)]) {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join(dir);
        let mut on_disk = Vec::new();
        files(&root, &root, &mut on_disk);
        // Not the SDK: Python's byte code, and the npm manifest of the JavaScript toolchain.
        on_disk.retain(|p| !p.contains("__pycache__") && !p.starts_with("tools/"));
        on_disk.sort();
        let mut listed: Vec<String> = embedded.iter().map(|(p, _)| p.to_string()).collect();
        listed.sort();
        assert_eq!(
            listed, on_disk,
            "host/src/scaffold/sdk.rs lists every file of {dir}"
        );
    }

    #[test]
    fn every_file_of_the_sdks_is_embedded_and_the_crate_version_is_ours() {
        assert_whole("../guest-sdk", RUST_SDK);
        assert_whole("../guest-sdk-python", PYTHON_SDK);
        assert_whole("../guest-sdk-js", JS_SDK);
        let manifest = RUST_SDK[0].1;
        assert!(
            manifest.contains(&format!("version = \"{RUST_SDK_VERSION}\"")),
            "{manifest}"
        );
    }
}
