//! Tenants and keys against a real host: the first start's private key files, tenants and
//! keys made with the CLI, revocation, and the isolation matrix — every endpoint on every
//! kind of object of tenant A, asked with tenant B's key, answers exactly as for an object
//! that does not exist, and B's lists never show A's.

use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

use hyper::{Method, StatusCode};
use reprise_tests::host::{Host, ask, guest};
use serde_json::{Value, json};

const WAIT: Duration = Duration::from_secs(60);
/// An id no invocation has.
const MISSING: &str = "01M8A4RJXMKV1SHMKVEN0033VN";

/// The mode bits of `path`.
fn mode(path: &std::path::Path) -> u32 {
    std::fs::metadata(path)
        .expect("metadata")
        .permissions()
        .mode()
        & 0o777
}

/// A new tenant `name` made with the CLI (the admin key from the key file); its key.
fn tenant(host: &Host, name: &str) -> String {
    let out = host.cli_ok(&["tenant", "create", name]);
    let key = out.trim().to_string();
    assert!(key.starts_with("rpk_"), "{out}");
    key
}

/// Invocation ids in a list answer.
fn ids(list: &Value) -> Vec<String> {
    list["invocations"]
        .as_array()
        .expect("invocations")
        .iter()
        .map(|v| v["id"].as_str().expect("id").to_string())
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn another_tenants_objects_answer_as_missing_ones_and_lists_never_show_them() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut host = Host::start(dir.path());

    // The first start: an admin key and the default tenant's, private to this user.
    let data = dir.path();
    assert_eq!(mode(data), 0o700, "the data directory");
    for file in ["admin.key", "default.key", "reprise.redb", "reprise.wal"] {
        assert_eq!(mode(&data.join(file)), 0o600, "{file}");
    }
    let admin = host.key_file("admin.key");

    let (a_key, b_key) = (tenant(&host, "alpha"), tenant(&host, "beta"));
    let (a, b) = (host.client_as(Some(&a_key)), host.client_as(Some(&b_key)));
    let wasm = guest("reprise_test_guests");
    let wasm = wasm.to_str().expect("utf-8 path");
    host.cli_ok(&["--token", &a_key, "deploy", "tg", wasm]);
    host.cli_ok(&["--token", &a_key, "deploy", "only_a", wasm]);

    // A's objects: a suspended invocation waiting for a signal, a finished parent with
    // children.
    let (_, waiting) = ask(
        &a,
        Method::POST,
        "/v1/invocations",
        json!({"function": "tg.signals", "input": {"names": ["go"]}}),
    )
    .await;
    let waiting = waiting["id"].as_str().expect("id").to_string();
    let (status, parent) = ask(
        &a,
        Method::POST,
        "/v1/invocations?wait=60",
        json!({"function": "tg.fan_out", "input": {"count": 2}}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{parent}");
    let parent = parent["id"].as_str().expect("id").to_string();
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        let (_, view) = ask(
            &a,
            Method::GET,
            &format!("/v1/invocations/{waiting}"),
            Value::Null,
        )
        .await;
        if view["state"] == "suspended" {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "never suspended: {view}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    // Every endpoint on each of A's objects, asked by B, answers what it answers for an
    // object that does not exist (the id in the message aside).
    let same_as_missing = async |method: Method, path: &str, id: &str, body: Value| {
        let theirs = ask(&b, method.clone(), &path.replace("{}", id), body.clone()).await;
        let missing = ask(&b, method, &path.replace("{}", MISSING), body).await;
        let missing_text = missing.1.to_string().replace(MISSING, id);
        assert_eq!(theirs.0, missing.0, "{path} for {id}: {}", theirs.1);
        assert_eq!(theirs.1.to_string(), missing_text, "{path} for {id}");
        theirs.0
    };
    for id in [&waiting, &parent] {
        assert_eq!(
            same_as_missing(Method::GET, "/v1/invocations/{}", id, Value::Null).await,
            StatusCode::NOT_FOUND
        );
        same_as_missing(Method::GET, "/v1/invocations/{}?wait=0.1", id, Value::Null).await;
        same_as_missing(Method::GET, "/v1/invocations/{}/journal", id, Value::Null).await;
        same_as_missing(Method::POST, "/v1/invocations/{}/signals/go", id, json!(1)).await;
        same_as_missing(Method::POST, "/v1/invocations/{}/pause", id, Value::Null).await;
        same_as_missing(Method::POST, "/v1/invocations/{}/resume", id, Value::Null).await;
        same_as_missing(Method::POST, "/v1/invocations/{}/cancel", id, Value::Null).await;
        same_as_missing(Method::GET, "/v1/invocations?parent={}", id, Value::Null).await;
        same_as_missing(
            Method::GET,
            "/v1/invocations/{}/journal?history=true",
            id,
            Value::Null,
        )
        .await;
        let step = json!({"to_step": 0});
        assert_eq!(
            same_as_missing(Method::POST, "/v1/invocations/{}/rewind", id, step).await,
            StatusCode::NOT_FOUND
        );
        let step = json!({"at_step": 0});
        assert_eq!(
            same_as_missing(Method::POST, "/v1/invocations/{}/fork", id, step).await,
            StatusCode::NOT_FOUND
        );
    }
    let missing_name = async |path: &str, method: Method, body: Value| {
        let theirs = ask(
            &b,
            method.clone(),
            &path.replace("{}", "only_a"),
            body.clone(),
        )
        .await;
        let missing = ask(&b, method, &path.replace("{}", "never_deployed"), body).await;
        assert_eq!(theirs.0, missing.0, "{path}");
        assert_eq!(
            theirs.1.to_string(),
            missing.1.to_string().replace("never_deployed", "only_a"),
            "{path}"
        );
    };
    missing_name("/v1/deployments/{}", Method::GET, Value::Null).await;
    let rules = json!({"hosts": ["api.example.com"]});
    missing_name("/v1/deployments/{}/egress", Method::GET, Value::Null).await;
    missing_name("/v1/deployments/{}/egress", Method::PUT, rules).await;
    missing_name("/v1/deployments/{}/egress", Method::DELETE, Value::Null).await;
    missing_name(
        "/v1/invocations",
        Method::POST,
        json!({"function": "{}.echo", "input": 1}),
    )
    .await;

    // B's lists never show A's objects, and B's stats count only B's.
    let (_, list) = ask(&b, Method::GET, "/v1/invocations?limit=10000", Value::Null).await;
    assert_eq!(ids(&list), Vec::<String>::new());
    let (_, list) = ask(&b, Method::GET, "/v1/deployments", Value::Null).await;
    assert_eq!(list["deployments"], json!([]));
    let (_, stats) = ask(&b, Method::GET, "/v1/stats", Value::Null).await;
    assert_eq!(stats["invocations"], json!({}));
    let (_, list) = ask(&a, Method::GET, "/v1/invocations?limit=10000", Value::Null).await;
    assert!(ids(&list).contains(&waiting) && ids(&list).contains(&parent));

    // Names are per tenant: B's `tg` is B's first version; A's is untouched.
    let out = host.cli_ok(&["--token", &b_key, "--json", "deploy", "tg", wasm]);
    let deployed: Value = serde_json::from_str(&out).expect("json");
    assert_eq!(deployed["version"], 1);
    let (_, theirs) = ask(&a, Method::GET, "/v1/deployments/tg", Value::Null).await;
    assert_eq!(theirs["version"], 1);

    // A guest dispatches inside its own tenant only: B's relay to `only_a` fails to start.
    let (status, relayed) = ask(
        &b,
        Method::POST,
        "/v1/invocations?wait=60",
        json!({"function": "tg.relay", "input": {"target": "only_a.echo", "input": 5}}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{relayed}");
    assert_eq!(relayed["state"], "failed", "{relayed}");
    let message = relayed["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains("only_a"), "{message}");
    // Nor can B rewind its own invocation onto A's deployment: it is a missing one to B.
    let rewind = format!(
        "/v1/invocations/{}/rewind",
        relayed["id"].as_str().expect("id")
    );
    let onto = |name: &str| json!({"to_step": 0, "deployment": name});
    let theirs = ask(&b, Method::POST, &rewind, onto("only_a")).await;
    let missing = ask(&b, Method::POST, &rewind, onto("never_deployed")).await;
    assert_eq!(theirs.0, StatusCode::NOT_FOUND, "{}", theirs.1);
    assert_eq!(
        theirs.1.to_string(),
        missing.1.to_string().replace("never_deployed", "only_a")
    );
    let (_, own) = ask(
        &a,
        Method::POST,
        "/v1/invocations?wait=60",
        json!({"function": "tg.relay", "input": {"target": "only_a.echo", "input": 5}}),
    )
    .await;
    assert_eq!(own["state"], "completed", "{own}");
    assert_eq!(own["output"], json!(5));

    // B's signal did not reach A's invocation: it still waits; A's does.
    let (status, _) = ask(
        &a,
        Method::POST,
        &format!("/v1/invocations/{waiting}/signals/go"),
        json!("from a"),
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let done = host.client_as(Some(&a_key));
    let (_, view) = ask(
        &done,
        Method::GET,
        &format!("/v1/invocations/{waiting}?wait=60"),
        Value::Null,
    )
    .await;
    assert_eq!(view["output"], json!(["from a"]), "{view}");

    // Revocation holds from the next request, across a restart too; other keys go on.
    let keys = host.cli_ok(&["--json", "key", "ls"]);
    let keys: Value = serde_json::from_str(&keys).expect("json");
    let b_id = keys["keys"]
        .as_array()
        .expect("keys")
        .iter()
        .find(|k| k["tenant"] == "beta")
        .expect("beta's key")["id"]
        .as_str()
        .expect("id")
        .to_string();
    assert!(
        !keys.to_string().contains(&b_key),
        "a listing never shows a key"
    );
    host.cli_ok(&["key", "revoke", &b_id]);
    let (status, body) = ask(&b, Method::GET, "/v1/invocations", Value::Null).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("revoked")
    );
    host.kill();
    host.restart();
    let (b, a) = (host.client_as(Some(&b_key)), host.client_as(Some(&a_key)));
    assert_eq!(
        ask(&b, Method::GET, "/v1/invocations", Value::Null).await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        ask(&a, Method::GET, "/v1/invocations", Value::Null).await.0,
        StatusCode::OK
    );
    assert_eq!(
        host.key_file("admin.key"),
        admin,
        "a restart makes no new keys"
    );

    // A new key for beta works; the CLI's errors name what is wrong.
    let out = host.cli_ok(&["key", "create", "--tenant", "beta"]);
    let again = host.client_as(Some(out.trim()));
    assert_eq!(
        ask(&again, Method::GET, "/v1/invocations", Value::Null)
            .await
            .0,
        StatusCode::OK
    );
    let refused = host.cli(&["--token", &b_key, "ls"]);
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("revoked"));
    let refused = host.cli(&["--token", &a_key, "tenant", "ls"]);
    assert!(String::from_utf8_lossy(&refused.stderr).contains("needs an admin key"));
    let refused = host.cli(&["tenant", "create", "alpha"]);
    assert!(String::from_utf8_lossy(&refused.stderr).contains("tenant `alpha` exists already"));
    let listed = host.cli_ok(&["tenant", "ls"]);
    for name in ["alpha", "beta", "default"] {
        assert!(listed.contains(name), "{listed}");
    }
}
