//! Bad input gets a clear JSON error with the right status, leaves nothing behind, and does
//! not disturb the invocations in progress.

use std::time::Duration;

use hyper::{Method, StatusCode};
use reprise_tests::host::{Host, guest};
use reprise_tests::probe::Probe;
use serde_json::{Value, json};

/// A bad request and the error it must get.
struct Case {
    method: Method,
    path: String,
    body: Vec<u8>,
    status: StatusCode,
    code: &'static str,
    words: &'static str,
}

fn case(
    method: Method,
    path: &str,
    body: &[u8],
    status: StatusCode,
    code: &'static str,
    words: &'static str,
) -> Case {
    Case {
        method,
        path: path.to_string(),
        body: body.to_vec(),
        status,
        code,
        words,
    }
}

async fn expect_error(host: &Host, case: Case) {
    let ctype = if case.method == Method::PUT {
        "application/wasm"
    } else {
        "application/json"
    };
    let (got, body) = host
        .api
        .raw(case.method, &case.path, ctype, case.body)
        .await
        .expect("request");
    let text = String::from_utf8_lossy(&body);
    assert_eq!(got, case.status, "{}: {text}", case.path);
    let error: Value = serde_json::from_slice(&body).unwrap_or_else(|_| panic!("not JSON: {text}"));
    assert_eq!(error["error"]["code"], case.code, "{text}");
    let message = error["error"]["message"].as_str().unwrap_or_default();
    assert!(
        message.contains(case.words),
        "`{message}` lacks `{}`",
        case.words
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_requests_get_clear_errors_while_the_host_keeps_serving() {
    let dir = tempfile::tempdir().expect("tempdir");
    let probe = Probe::start().await;
    let host = Host::start(dir.path());
    host.deploy("hello", "hello");
    host.deploy("tg", "reprise_test_guests");

    // An invocation in progress (held by the probe) while bad requests arrive.
    let busy = host
        .invoke(
            "tg.entropy",
            json!({"url": format!("{}/hold", probe.url())}),
        )
        .await;
    probe.wait_for("/hold", 1, Duration::from_secs(30)).await;

    let hello = std::fs::read(guest("hello")).expect("hello.wasm");
    let (put, post, get) = (Method::PUT, Method::POST, Method::GET);
    let (bad, missing, unprocessable) = (
        StatusCode::BAD_REQUEST,
        StatusCode::NOT_FOUND,
        StatusCode::UNPROCESSABLE_ENTITY,
    );
    let cases = [
        case(
            put.clone(),
            "/v1/deployments/x",
            b"hello world",
            bad,
            "not_a_component",
            "not WebAssembly",
        ),
        case(
            put.clone(),
            "/v1/deployments/x",
            b"",
            bad,
            "not_a_component",
            "empty",
        ),
        case(
            put.clone(),
            "/v1/deployments/x",
            b"\0asm\x01\0\0\0",
            bad,
            "not_a_component",
            "core WebAssembly module",
        ),
        // A valid, empty component: it exports nothing of the world.
        case(
            put.clone(),
            "/v1/deployments/x",
            b"\0asm\x0d\0\x01\0",
            unprocessable,
            "wrong_world",
            "reprise:function",
        ),
        case(
            put.clone(),
            "/v1/deployments/x",
            &hello[..hello.len() / 2],
            unprocessable,
            "invalid_component",
            "invalid",
        ),
        case(
            put.clone(),
            "/v1/deployments/bad.name",
            &hello,
            bad,
            "invalid_name",
            "bad.name",
        ),
        case(
            post.clone(),
            "/v1/invocations",
            br#"{"function": "hello", "input": {"#,
            bad,
            "invalid_json",
            "not a valid invocation",
        ),
        case(
            post.clone(),
            "/v1/invocations",
            br#"{"input": {}}"#,
            bad,
            "invalid_json",
            "missing field `function`",
        ),
        case(
            post.clone(),
            "/v1/invocations",
            br#"{"function": "nope", "input": {}}"#,
            missing,
            "unknown_function",
            "no deployment named `nope`",
        ),
        case(
            post.clone(),
            "/v1/invocations",
            br#"{"function": "tg.nope", "input": {}}"#,
            missing,
            "unknown_function",
            "no function `nope`",
        ),
        case(
            post.clone(),
            "/v1/invocations",
            &vec![b' '; 5 * 1024 * 1024],
            StatusCode::PAYLOAD_TOO_LARGE,
            "body_too_large",
            "larger than",
        ),
        case(
            get.clone(),
            "/v1/invocations/01M8A4RJXMKV1SHMKVEN0033VN",
            b"",
            missing,
            "unknown_invocation",
            "01M8A4RJXMKV1SHMKVEN0033VN",
        ),
        case(
            get.clone(),
            "/v1/invocations/not-an-id/journal",
            b"",
            bad,
            "invalid_id",
            "not-an-id",
        ),
        case(
            get,
            "/v1/invocations?state=sleeping",
            b"",
            bad,
            "invalid_state",
            "sleeping",
        ),
    ];
    for bad_request in cases {
        expect_error(&host, bad_request).await;
    }

    // The CLI refuses malformed input before sending, and says which flag.
    let out = host.cli(&["invoke", "hello", "--input", "{name: Ada}"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--input is not valid JSON"));

    // Nothing was deployed or created by the bad requests.
    let list: Value = host.api.get("/v1/deployments").await.expect("deployments");
    let names: Vec<&str> = list["deployments"]
        .as_array()
        .expect("array")
        .iter()
        .filter_map(|d| d["name"].as_str())
        .collect();
    assert_eq!(names, ["hello", "tg"]);
    // A refused component leaves no compiled code behind: only the two deployed ones are.
    let compiled: Vec<_> = std::fs::read_dir(dir.path().join("compiled"))
        .expect("compiled dir")
        .filter_map(Result::ok)
        .map(|e| e.file_name())
        .collect();
    assert_eq!(compiled.len(), 2, "{compiled:?}");
    let invocations: Value = host.api.get("/v1/invocations").await.expect("list");
    assert_eq!(invocations["invocations"].as_array().map(Vec::len), Some(1));

    // The host still serves, and the busy invocation completes undisturbed.
    let ok = host.invoke("hello", json!({"name": "Ada"})).await;
    let ok = host.finished(&ok.id, Duration::from_secs(30)).await;
    assert_eq!(ok.output, Some(json!({"greeting": "Hello, Ada!"})));
    probe.open_gate();
    let busy = host.finished(&busy.id, Duration::from_secs(30)).await;
    assert_eq!(busy.state, "completed", "{:?}", busy.error);
}
