//! The SDK outside the repository: `reprise new` writes a project that builds from an empty
//! directory elsewhere, and the SDK crates package on their own.

use std::path::{Path, PathBuf};
use std::process::Command;

use reprise_tests::host::Host;

/// The repository's root.
fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ has a parent")
        .to_path_buf()
}

/// `cargo` with `args` in `dir`, building into `target` (kept between runs, so the registry's
/// crates are compiled once); panics with its output if it fails.
fn cargo(dir: &Path, target: &Path, args: &[&str]) {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    succeeds(
        dir,
        Command::new(cargo)
            .args(args)
            .env("CARGO_TARGET_DIR", target),
    );
}

/// Runs `command` in `dir`; panics with its output if it fails.
fn succeeds(dir: &Path, command: &mut Command) {
    let out = command
        .current_dir(dir)
        .output()
        .unwrap_or_else(|e| panic!("run {command:?}: {e}"));
    assert!(
        out.status.success(),
        "{command:?} in {} failed:\n{}{}",
        dir.display(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Deploys `wasm` as `name` and checks that the template's function greets Ada.
fn greets_ada(host: &Host, name: &str, wasm: &Path) {
    host.cli_ok(&["deploy", name, wasm.to_str().expect("utf-8 path")]);
    let input = r#"{"name": "Ada"}"#;
    let greeting = host.cli_ok(&["invoke", name, "--input", input, "--wait"]);
    assert!(greeting.contains("Hello, Ada!"), "{greeting}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_new_rust_project_builds_outside_the_repository_and_runs() {
    let data = tempfile::tempdir().expect("tempdir");
    let host = Host::start(data.path());
    // An empty directory outside the repository (the system's temporary directory).
    let empty = tempfile::tempdir().expect("tempdir");
    assert!(!empty.path().starts_with(root()), "the temp dir is outside");
    let dir = empty.path().to_str().expect("utf-8 path");
    let made = host.cli_ok(&["new", "send-welcome", "--dir", dir]);
    assert!(made.contains("cargo build --release"), "{made}");
    let project = empty.path().join("send-welcome");

    let target = root().join("target/scaffold");
    cargo(&project, &target, &["build", "--release"]);
    greets_ada(
        &host,
        "send-welcome",
        &target.join("wasm32-wasip2/release/send_welcome.wasm"),
    );

    // Made twice, the second is refused and the first is left as it was.
    let out = host.cli(&["new", "send-welcome", "--dir", dir]);
    assert!(!out.status.success(), "made over an existing project");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("already exists"), "{stderr}");
    assert!(project.join("src/lib.rs").is_file());
}

#[test]
fn the_sdk_and_its_macros_package_on_their_own() {
    let target = root().join("target/package");
    cargo(
        &root(),
        &target,
        &[
            "package",
            "--allow-dirty",
            "-p",
            "reprise-sdk-macros",
            "-p",
            "reprise-sdk",
        ],
    );
    let crates = target.join("package");
    for name in ["reprise-sdk-0.1.0.crate", "reprise-sdk-macros-0.1.0.crate"] {
        assert!(crates.join(name).is_file(), "{name} not packaged");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_new_python_project_builds_outside_the_repository_and_runs() {
    let data = tempfile::tempdir().expect("tempdir");
    let host = Host::start(data.path());
    let empty = tempfile::tempdir().expect("tempdir");
    let dir = empty.path().to_str().expect("utf-8 path");
    let made = host.cli_ok(&["new", "greet-py", "--lang", "python", "--dir", dir]);
    assert!(made.contains("componentize-py"), "{made}");
    let project = empty.path().join("greet-py");

    // The project's build command, with the componentize-py scripts/build-guests.sh installed
    // (the README's `.venv` would install the same version from PyPI).
    let componentize = root().join("target/python-tools/bin/componentize-py");
    succeeds(
        &project,
        Command::new(&componentize)
            .args(["-q", "-d", "wit", "-w", "function", "componentize"])
            .args(["-p", ".", "-p", "vendor", "app", "-o", "greet_py.wasm"]),
    );
    greets_ada(&host, "greet-py", &project.join("greet_py.wasm"));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_new_js_project_builds_outside_the_repository_and_runs() {
    let data = tempfile::tempdir().expect("tempdir");
    let host = Host::start(data.path());
    let empty = tempfile::tempdir().expect("tempdir");
    let dir = empty.path().to_str().expect("utf-8 path");
    let made = host.cli_ok(&["new", "greet-js", "--lang", "js", "--dir", dir]);
    assert!(made.contains("npm run build"), "{made}");
    let project = empty.path().join("greet-js");

    // The project's own commands: componentize-js from npm (scripts/build-guests.sh has filled
    // npm's cache with the same version), then its build script.
    succeeds(
        &project,
        Command::new("npm").args(["install", "--no-audit", "--no-fund"]),
    );
    succeeds(&project, Command::new("npm").args(["run", "build"]));
    greets_ada(&host, "greet-js", &project.join("greet_js.wasm"));
}
