//! Deploy and invoke through the real CLI and API; naming, status, journal, ls, failures.

use std::time::Duration;

use reprise_tests::host::{Host, InvocationView, JournalView, guest};
use serde_json::{Value, json};

fn json_out(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

#[tokio::test(flavor = "multi_thread")]
async fn deploy_invoke_and_inspect_through_the_cli() {
    let dir = tempfile::tempdir().expect("tempdir");
    let host = Host::start(dir.path());
    let hello = guest("hello");
    let out = host.cli_ok(&["deploy", "hello", hello.to_str().expect("path")]);
    assert!(out.contains("invoke it as `hello`"), "{out}");

    let out = host.cli_ok(&["invoke", "hello", "--input", r#"{"name":"Ada"}"#, "--wait"]);
    assert_eq!(json_out(&out), json!({"greeting": "Hello, Ada!"}));

    // Without --wait the id is printed; status --wait then shows the result.
    let id = host
        .cli_ok(&["invoke", "hello", "--input", r#"{"name":"Bo"}"#])
        .trim()
        .to_string();
    assert_eq!(id.len(), 26, "{id}");
    let view: InvocationView =
        serde_json::from_str(&host.cli_ok(&["status", &id, "--wait", "30", "--json"]))
            .expect("status JSON");
    assert_eq!(view.state, "completed");
    assert_eq!(view.attempts, 1);
    assert_eq!(view.function, "hello.hello");
    assert_eq!(view.output, Some(json!({"greeting": "Hello, Bo!"})));
    let text = host.cli_ok(&["status", &id]);
    assert!(text.contains("state:     completed"), "{text}");

    let list = json_out(&host.cli_ok(&["ls", "--json"]));
    assert_eq!(list["invocations"].as_array().map(Vec::len), Some(2));
    let failed = json_out(&host.cli_ok(&["ls", "--state", "failed", "--json"]));
    assert_eq!(failed["invocations"].as_array().map(Vec::len), Some(0));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_component_with_several_functions_is_invoked_as_name_dot_function() {
    let dir = tempfile::tempdir().expect("tempdir");
    let host = Host::start(dir.path());
    host.deploy("tg", "reprise_test_guests");

    let out = host.cli(&["invoke", "tg", "--input", "{}", "--wait"]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("`tg.FUNCTION`") && stderr.contains("echo"),
        "{stderr}"
    );

    let out = host.cli_ok(&["invoke", "tg.echo", "--input", r#"{"a":[1,2]}"#, "--wait"]);
    assert_eq!(json_out(&out), json!({"a": [1, 2]}));

    // Logs are journaled steps.
    let view = host.invoke("tg.log_lines", json!({"count": 3})).await;
    let done = host.finished(&view.id, Duration::from_secs(30)).await;
    assert_eq!(done.output, Some(json!(3)));
    let journal: JournalView =
        serde_json::from_str(&host.cli_ok(&["journal", &view.id, "--json"])).expect("journal");
    let kinds: Vec<&str> = journal.steps.iter().map(|s| s.kind.as_str()).collect();
    assert_eq!(kinds, ["log", "log", "log"]);
    assert_eq!(journal.steps[2].request, "info: line 2");
    let text = host.cli_ok(&["journal", &view.id]);
    assert!(text.contains("info: line 1"), "{text}");
}

#[tokio::test(flavor = "multi_thread")]
async fn function_errors_and_panics_fail_the_invocation_with_their_message() {
    let dir = tempfile::tempdir().expect("tempdir");
    let host = Host::start(dir.path());
    host.deploy("tg", "reprise_test_guests");

    let out = host.cli(&[
        "invoke",
        "tg.fail_error",
        "--input",
        r#"{"message":"no such user"}"#,
        "--wait",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("function_error") && stderr.contains("no such user"),
        "{stderr}"
    );

    let view = host
        .invoke("tg.fail_panic", json!({"message": "boom-4711"}))
        .await;
    let done = host.finished(&view.id, Duration::from_secs(30)).await;
    assert_eq!(done.state, "failed");
    let error = done.error.expect("error");
    assert_eq!(error.kind, "trap");
    assert!(error.message.contains("boom-4711"), "{}", error.message);
    let status = host.cli_ok(&["status", &view.id]);
    assert!(status.contains("boom-4711"), "{status}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_restarted_host_loads_compiled_components_from_disk() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut host = Host::start(dir.path());
    host.deploy("hello", "hello");
    let compiled: Vec<_> = std::fs::read_dir(dir.path().join("compiled"))
        .expect("compiled dir")
        .filter_map(Result::ok)
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(compiled.len(), 1, "{compiled:?}");
    assert!(compiled[0].ends_with(".cwasm"), "{compiled:?}");

    // A corrupt file is not trusted: it is compiled again.
    host.kill();
    std::fs::write(dir.path().join("compiled").join(&compiled[0]), b"garbage").expect("write");
    host.restart();
    let out = host.cli_ok(&["invoke", "hello", "--input", r#"{"name":"Cy"}"#, "--wait"]);
    assert_eq!(json_out(&out), json!({"greeting": "Hello, Cy!"}));
    let len = std::fs::metadata(dir.path().join("compiled").join(&compiled[0]))
        .expect("rewritten")
        .len();
    assert!(
        len > 1000,
        "the compiled file was written again ({len} bytes)"
    );

    // After a clean restart it is loaded, and runs.
    host.kill();
    host.restart();
    let out = host.cli_ok(&["invoke", "hello", "--input", r#"{"name":"Di"}"#, "--wait"]);
    assert_eq!(json_out(&out), json!({"greeting": "Hello, Di!"}));
}

/// A reader that goes away after the first bytes (`reprise status ID | head -c 20`) ends the
/// CLI quietly: success, nothing on stderr, no panic.
#[tokio::test(flavor = "multi_thread")]
async fn the_cli_ends_quietly_when_its_reader_goes_away() {
    use std::io::Read;
    use std::process::Stdio;
    let dir = tempfile::tempdir().expect("tempdir");
    let host = Host::start(dir.path());
    host.deploy("tg", "reprise_test_guests");
    // A 2 MiB output: more than a pipe holds, so the CLI writes into a closed pipe.
    let v = host.invoke("tg.big_output", json!(2)).await;
    let done = host.finished(&v.id, Duration::from_secs(60)).await;
    assert_eq!(done.state, "completed", "{:?}", done.error);
    for args in [
        vec!["status", v.id.as_str()],
        vec!["status", &v.id, "--json"],
    ] {
        let mut child = host
            .cli_command(&args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn the CLI");
        let mut head = [0u8; 20];
        child
            .stdout
            .take()
            .expect("stdout")
            .read_exact(&mut head)
            .expect("the first bytes");
        let out = child.wait_with_output().expect("the CLI ends");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{args:?}: {:?} {stderr}", out.status);
        assert!(stderr.is_empty(), "{args:?}: {stderr}");
    }
}
