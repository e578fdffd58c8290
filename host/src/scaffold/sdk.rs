//! The Rust SDK as this binary was built with it, to write into new projects.

/// The version of the embedded SDK.
pub(super) const RUST_SDK_VERSION: &str = "0.1.0";

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
    (
        "wit/reprise.wit",
        include_str!("../../../guest-sdk/wit/reprise.wit"),
    ),
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

    #[test]
    fn every_file_of_the_sdk_is_embedded_and_its_version_is_the_crates() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../guest-sdk");
        let mut on_disk = Vec::new();
        files(&root, &root, &mut on_disk);
        on_disk.sort();
        let mut embedded: Vec<String> = RUST_SDK.iter().map(|(p, _)| p.to_string()).collect();
        embedded.sort();
        assert_eq!(
            embedded, on_disk,
            "host/src/scaffold/sdk.rs lists the SDK's files"
        );
        let manifest = RUST_SDK[0].1;
        assert!(
            manifest.contains(&format!("version = \"{RUST_SDK_VERSION}\"")),
            "{manifest}"
        );
    }
}
