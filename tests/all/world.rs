//! Deploying components the way other toolchains build them: listing functions serves clock
//! and random reads, imports the host lacks are refused before compiling, and a refused upload
//! leaves no compiled code on disk.

use std::path::Path;

use hyper::{Method, StatusCode};
use reprise_tests::host::{Host, guest};
use serde_json::Value;

/// A function component (`hello`) whose `functions()` first reads the monotonic clock and a
/// random number, as language runtimes (CPython's, SpiderMonkey's) do on their first call.
const READS_AT_DISCOVERY: &str = r#"
(component
  (import "wasi:random/random@0.2.0" (instance $random
    (export "get-random-u64" (func (result u64)))))
  (import "wasi:clocks/monotonic-clock@0.2.0" (instance $clock
    (export "now" (func (result u64)))))
  (alias export $random "get-random-u64" (func $get-random-u64))
  (alias export $clock "now" (func $now))
  (core func $random (canon lower (func $get-random-u64)))
  (core func $now (canon lower (func $now)))
  (core module $m
    (import "host" "random" (func $random (result i64)))
    (import "host" "now" (func $now (result i64)))
    (memory (export "memory") 1)
    (data (i32.const 16) "hello")
    (data (i32.const 32) "\10\00\00\00\05\00\00\00")
    (data (i32.const 48) "\20\00\00\00\01\00\00\00")
    (global $heap (mut i32) (i32.const 1024))
    (func (export "realloc") (param i32 i32 i32 i32) (result i32)
      (local $at i32)
      (local.set $at (i32.and (i32.add (global.get $heap) (i32.const 7)) (i32.const -8)))
      (global.set $heap (i32.add (local.get $at) (local.get 3)))
      (local.get $at))
    (func (export "functions") (result i32)
      (drop (call $random))
      (drop (call $now))
      (i32.const 48))
    (func (export "call") (param i32 i32 i32 i32) (result i32)
      unreachable))
  (core instance $host (export "random" (func $random)) (export "now" (func $now)))
  (core instance $i (instantiate $m (with "host" (instance $host))))
  (type $call-error' (record (field "message" string) (field "retryable" bool)))
  (export $call-error "call-error" (type $call-error'))
  (func $functions (result (list string))
    (canon lift (core func $i "functions")
      (memory (core memory $i "memory")) (realloc (core func $i "realloc"))))
  (func $call (param "name" string) (param "input" (list u8))
    (result (result (list u8) (error $call-error)))
    (canon lift (core func $i "call")
      (memory (core memory $i "memory")) (realloc (core func $i "realloc"))))
  (instance $guest
    (export "call-error" (type $call-error))
    (export "functions" (func $functions))
    (export "call" (func $call)))
  (export "reprise:function/guest@0.1.0" (instance $guest)))
"#;

/// `READS_AT_DISCOVERY` with one more import.
fn importing(import: &str) -> Vec<u8> {
    let text = READS_AT_DISCOVERY.replacen("(component", &format!("(component {import}"), 1);
    wat::parse_str(text).expect("wat")
}

/// Deploys `bytes` as `name` through the API: the status and the error (or deployment) body.
async fn deploy(host: &Host, name: &str, bytes: Vec<u8>) -> (StatusCode, Value) {
    let path = format!("/v1/deployments/{name}");
    let (status, body) = host
        .api
        .raw(Method::PUT, &path, "application/wasm", bytes)
        .await
        .expect("deploy request");
    let body = serde_json::from_slice(&body)
        .unwrap_or_else(|_| panic!("not JSON: {}", String::from_utf8_lossy(&body)));
    (status, body)
}

/// The compiled components the host keeps on disk.
fn compiled(data: &Path) -> Vec<String> {
    let dir = data.join("compiled");
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return Vec::new();
    };
    entries
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_runtime_reading_clock_and_random_while_listing_functions_deploys() {
    let dir = tempfile::tempdir().expect("tempdir");
    let host = Host::start(dir.path());
    let (status, view) = deploy(
        &host,
        "reads",
        wat::parse_str(READS_AT_DISCOVERY).expect("wat"),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{view}");
    assert_eq!(view["functions"], serde_json::json!(["hello"]), "{view}");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_import_the_host_lacks_is_refused_before_compiling_and_leaves_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let host = Host::start(dir.path());

    let store = importing(r#"(import "wasi:keyvalue/store@0.2.0-draft" (instance))"#);
    let (status, error) = deploy(&host, "kv", store).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{error}");
    assert_eq!(error["error"]["code"], "unsupported_import", "{error}");
    let message = error["error"]["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("`wasi:keyvalue/store@0.2.0-draft`") && message.contains("durable"),
        "{message}"
    );
    // A wasi:http client's imports are provided.
    let client = importing(r#"(import "wasi:http/outgoing-handler@0.2.0" (instance))"#);
    let (status, view) = deploy(&host, "client", client).await;
    assert_eq!(status, StatusCode::CREATED, "{view}");
    let deployed = compiled(&host.data).len();

    let other = importing(r#"(import "acme:db/query@1.0.0" (instance))"#);
    let (_, error) = deploy(&host, "db", other).await;
    let message = error["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains("`acme:db/query@1.0.0`"), "{message}");

    // A wasi:http server is not a function: the export it lacks is named.
    let server = wat::parse_str(
        r#"(component (instance $h) (export "wasi:http/incoming-handler@0.2.0" (instance $h)))"#,
    )
    .expect("wat");
    let (status, error) = deploy(&host, "server", server).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{error}");
    assert_eq!(error["error"]["code"], "wrong_world", "{error}");
    let message = error["error"]["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("reprise:function/guest") && message.contains("wasi:http server"),
        "{message}"
    );
    assert_eq!(
        compiled(&host.data).len(),
        deployed,
        "only the deployed one is on disk"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_component_refused_after_compiling_leaves_no_compiled_code() {
    let dir = tempfile::tempdir().expect("tempdir");
    let host = Host::start(dir.path());
    let path = guest("hello");
    let path = path.to_str().expect("utf-8 path");

    // It compiles, then its policy names a function it does not export.
    let policy = r#"{"functions": {"nope": {"retry": {"max_attempts": 2}}}}"#;
    let out = host.cli(&["deploy", "hi", path, "--policy", policy]);
    assert!(!out.status.success(), "a bad policy deployed");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("nope"), "{stderr}");
    assert_eq!(compiled(&host.data), Vec::<String>::new());

    // Deployed, its compiled code is kept; a refused deploy of the same bytes keeps it too.
    host.deploy("hi", "hello");
    assert_eq!(compiled(&host.data).len(), 1);
    let out = host.cli(&["deploy", "again", path, "--policy", policy]);
    assert!(!out.status.success(), "a bad policy deployed");
    assert_eq!(compiled(&host.data).len(), 1);
    let greeting = host.cli_ok(&["invoke", "hi", "--wait", "--input", r#"{"name":"Ada"}"#]);
    assert!(greeting.contains("Ada"), "{greeting}");
}
