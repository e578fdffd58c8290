//! A real `reprise serve` process for tests: start, SIGKILL, restart on the same data directory.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use reprise::cli::client::ApiClient;

/// The workspace root (the folder holding the top-level Cargo.toml).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from(".."))
}

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("target"))
}

/// The `reprise` binary built next to this executable (a test in `target/<profile>/deps`,
/// or a binary such as `reprise-bench` in `target/<profile>`).
pub fn reprise_bin() -> PathBuf {
    let exe = std::env::current_exe().expect("executable path");
    let dir = exe.parent().expect("executable directory");
    let bin = [dir.join("reprise"), dir.join("../reprise")]
        .into_iter()
        .find(|path| path.exists())
        .unwrap_or_else(|| dir.join("reprise"));
    assert!(
        bin.exists(),
        "{} is missing: build it with `cargo build -p reprise` (scripts/test.sh does)",
        bin.display()
    );
    bin
}

/// A guest component built by `scripts/build-guests.sh`, e.g. `guest("hello")`.
pub fn guest(name: &str) -> PathBuf {
    let path = target_dir()
        .join("wasm32-wasip2/guest")
        .join(format!("{name}.wasm"));
    assert!(
        path.exists(),
        "{} is missing: build the guests with `scripts/build-guests.sh` (scripts/test.sh does)",
        path.display()
    );
    path
}

/// A running host process.
pub struct Host {
    child: Option<Child>,
    /// Its data directory.
    pub data: PathBuf,
    /// Its API base URL.
    pub url: String,
    /// A client of its API, with the `default` tenant's key.
    pub api: ApiClient,
    /// The `default` tenant's key, from the key file the host's first start wrote.
    pub token: String,
    starts: u32,
    /// Extra arguments of `reprise serve`.
    args: Vec<String>,
    /// The address it listens on (`127.0.0.1:0`: a free port at each start).
    listen: String,
}

impl Host {
    /// Starts a host on `data` listening on a free loopback port.
    pub fn start(data: &Path) -> Host {
        Self::start_with(data, &[])
    }

    /// Starts a host on `data` with extra `reprise serve` arguments. Its guests may reach
    /// loopback (where the tests' HTTP servers are): see [`Host::start_fenced`] for the
    /// default egress policy.
    pub fn start_with(data: &Path, args: &[&str]) -> Host {
        let mut all = vec!["--allow-egress", "127.0.0.0/8", "--allow-egress", "::1"];
        all.extend_from_slice(args);
        Self::start_fenced(data, &all)
    }

    /// Starts a host on `data` with `reprise serve` arguments `args` and nothing else: its
    /// guests reach only what the default egress policy allows (no loopback).
    pub fn start_fenced(data: &Path, args: &[&str]) -> Host {
        Self::start_listening(data, "127.0.0.1:0", args)
    }

    /// Starts a host on `data` listening on `listen` (kept across restarts) with
    /// `reprise serve` arguments `args` and nothing else.
    pub fn start_listening(data: &Path, listen: &str, args: &[&str]) -> Host {
        let mut host = Host {
            listen: listen.to_string(),
            child: None,
            data: data.to_path_buf(),
            url: String::new(),
            api: ApiClient::new("http://127.0.0.1:1"),
            token: String::new(),
            starts: 0,
            args: args.iter().map(|a| a.to_string()).collect(),
        };
        host.restart();
        host
    }

    /// Starts the process again (after a kill) on the same data directory.
    pub fn restart(&mut self) {
        assert!(self.child.is_none(), "host is still running");
        std::fs::create_dir_all(&self.data).expect("create data dir");
        self.starts += 1;
        let log = std::fs::File::create(self.data.join(format!("host-{}.log", self.starts)))
            .expect("create host log");
        let mut child = Command::new(reprise_bin())
            .args(["serve", "--listen", &self.listen, "--data"])
            .arg(&self.data)
            .args(&self.args)
            .env("REPRISE_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()
            .expect("spawn reprise serve");
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let line = rx
            .recv_timeout(Duration::from_secs(120))
            .unwrap_or_else(|_| {
                let _ = child.kill();
                panic!(
                    "host did not start; see {}",
                    self.data
                        .join(format!("host-{}.log", self.starts))
                        .display()
                )
            });
        let url = line
            .strip_prefix("reprise listening on ")
            .and_then(|rest| rest.split_whitespace().next())
            .unwrap_or_else(|| panic!("unexpected first line from host: {line}"))
            .to_string();
        self.token = self.key_file(reprise::access::TENANT_KEY_FILE);
        self.api = self.client_with(&url, Some(self.token.clone()));
        self.url = url;
        self.child = Some(child);
    }

    /// Kills the process with SIGKILL and reaps it.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            // `Child::kill` sends SIGKILL on Unix.
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// The process id, while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Whether the process is still alive.
    pub fn is_running(&mut self) -> bool {
        self.child
            .as_mut()
            .is_some_and(|c| matches!(c.try_wait(), Ok(None)))
    }

    /// The key in the host's key file `name` (written by its first start).
    pub fn key_file(&self, name: &str) -> String {
        let path = self.data.join(name);
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("cannot read the key file {}: {e}", path.display()));
        text.trim().to_string()
    }

    /// A new client of the API with `token` as its key (none: unauthenticated).
    pub fn client_as(&self, token: Option<&str>) -> ApiClient {
        self.client_with(&self.url, token.map(str::to_string))
    }

    /// A new client of the API with the `default` tenant's key.
    pub fn client(&self) -> ApiClient {
        self.client_as(Some(&self.token))
    }

    fn client_with(&self, url: &str, token: Option<String>) -> ApiClient {
        ApiClient::new(url).with_token(token)
    }

    /// Runs `reprise ARGS --url URL` with `REPRISE_DATA` set to the host's data directory (so
    /// the CLI finds its key files) and returns its output.
    pub fn cli(&self, args: &[&str]) -> Output {
        self.cli_command(args)
            .stdin(Stdio::null())
            .output()
            .expect("run reprise CLI")
    }

    /// The CLI command `reprise ARGS` against this host, to spawn.
    pub fn cli_command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(reprise_bin());
        command
            .args(args)
            .args(["--url", &self.url])
            .env("REPRISE_DATA", &self.data)
            .env_remove("REPRISE_TOKEN");
        command
    }

    /// Runs the CLI and returns stdout, panicking with stderr when it fails.
    pub fn cli_ok(&self, args: &[&str]) -> String {
        let out = self.cli(args);
        assert!(
            out.status.success(),
            "reprise {args:?} failed: {}\n{}",
            String::from_utf8_lossy(&out.stderr),
            String::from_utf8_lossy(&out.stdout)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Runs `reprise deploy NAME FILE --policy POLICY` for guest component `file`.
    pub fn deploy_with_policy(&self, name: &str, file: &str, policy: &str) -> Output {
        let path = guest(file);
        let path = path.to_str().expect("utf-8 path");
        self.cli(&["deploy", name, path, "--policy", policy])
    }

    /// Creates tenant `name` (with the admin key): its first key, and a client using it.
    pub fn create_tenant(&self, name: &str) -> (String, ApiClient) {
        let key = self.cli_ok(&["tenant", "create", name]).trim().to_string();
        let client = self.client_as(Some(&key));
        (key, client)
    }

    /// Deploys guest component `file` (see [`guest`]) as `name` for the tenant of `key`, with
    /// `policy` if given.
    pub fn deploy_as(&self, key: &str, name: &str, file: &str, policy: Option<&str>) {
        let path = guest(file);
        let path = path.to_str().expect("utf-8 path");
        let mut args = vec!["--token", key, "deploy", name, path];
        args.extend(policy.map(|p| ["--policy", p]).into_iter().flatten());
        self.cli_ok(&args);
    }

    /// Deploys guest component `file` (see [`guest`]) as `name`.
    pub fn deploy(&self, name: &str, file: &str) {
        let path = guest(file);
        self.cli_ok(&["deploy", name, path.to_str().expect("utf-8 path")]);
    }
}

impl Drop for Host {
    fn drop(&mut self) {
        self.kill();
    }
}

/// API helpers used by the tests.
impl Host {
    /// Starts an invocation of `function` with `input` through the API.
    pub async fn invoke(&self, function: &str, input: serde_json::Value) -> InvocationView {
        post_invocation(&self.api, function, &input, None)
            .await
            .unwrap_or_else(|e| panic!("invoke {function}: {e:#}"))
    }

    /// Starts an invocation of `function` with `input` and waits up to `wait` seconds for its
    /// result (`POST /v1/invocations?wait=`); an error if the host does not answer.
    pub async fn invoke_waiting(
        &self,
        function: &str,
        input: serde_json::Value,
        wait: f64,
    ) -> anyhow::Result<InvocationView> {
        post_invocation(&self.api, function, &input, Some(wait)).await
    }

    /// Waits until invocation `id` has finished (or panics after `timeout`).
    pub async fn finished(&self, id: &str, timeout: Duration) -> InvocationView {
        let deadline = std::time::Instant::now() + timeout;
        loop {
            let view: InvocationView = self
                .api
                .get(&format!("/v1/invocations/{id}?wait=5"))
                .await
                .unwrap_or_else(|e| panic!("status of {id}: {e:#}"));
            if matches!(view.state.as_str(), "completed" | "failed" | "cancelled") {
                return view;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "invocation {id} still {} after {timeout:?}",
                view.state
            );
        }
    }

    /// The hash of the component deployed as `name` now.
    pub async fn component_of(&self, name: &str) -> String {
        let path = format!("/v1/deployments/{name}");
        let (_, view) = ask(
            &self.api,
            hyper::Method::GET,
            &path,
            serde_json::Value::Null,
        )
        .await;
        view["component"]
            .as_str()
            .unwrap_or_else(|| panic!("no component in {view}"))
            .to_string()
    }

    /// The status of invocation `id`.
    pub async fn status(&self, id: &str) -> InvocationView {
        self.api
            .get(&format!("/v1/invocations/{id}"))
            .await
            .unwrap_or_else(|e| panic!("status of {id}: {e:#}"))
    }

    /// Polls until invocation `id` is in `state` (or panics after `timeout`).
    pub async fn until(&self, id: &str, state: &str, timeout: Duration) -> InvocationView {
        let deadline = std::time::Instant::now() + timeout;
        loop {
            let view = self.status(id).await;
            if view.state == state {
                return view;
            }
            assert!(
                !matches!(view.state.as_str(), "completed" | "failed" | "cancelled"),
                "invocation {id} ended {} before it was {state}: {:?}",
                view.state,
                view.error
            );
            assert!(
                std::time::Instant::now() < deadline,
                "invocation {id} still {} after {timeout:?}, not {state}",
                view.state
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// The children invocation `id` dispatched, newest first.
    pub async fn children(&self, id: &str) -> Vec<InvocationView> {
        let list: InvocationList = self
            .api
            .get(&format!("/v1/invocations?parent={id}&limit=10000"))
            .await
            .unwrap_or_else(|e| panic!("children of {id}: {e:#}"));
        list.invocations
    }

    /// Sends signal `name` with `data` to invocation `id` through the API.
    pub async fn signal(&self, id: &str, name: &str, data: serde_json::Value) {
        let path = format!("/v1/invocations/{id}/signals/{name}");
        let _: InvocationView = self
            .api
            .call(
                hyper::Method::POST,
                &path,
                "application/json",
                data.to_string().into_bytes(),
            )
            .await
            .unwrap_or_else(|e| panic!("signal {name} to {id}: {e:#}"));
    }

    /// The text of `GET /metrics`.
    pub async fn metrics(&self) -> String {
        let admin = self.key_file(reprise::access::ADMIN_KEY_FILE);
        let (status, body) = self
            .client_as(Some(&admin))
            .raw(hyper::Method::GET, "/metrics", "text/plain", Vec::new())
            .await
            .unwrap_or_else(|e| panic!("metrics: {e:#}"));
        assert!(status.is_success(), "GET /metrics answered {status}");
        String::from_utf8_lossy(&body).into_owned()
    }

    /// The journal of invocation `id`.
    pub async fn journal(&self, id: &str) -> JournalView {
        self.api
            .get(&format!("/v1/invocations/{id}/journal"))
            .await
            .unwrap_or_else(|e| panic!("journal of {id}: {e:#}"))
    }
}

pub use reprise::api::dto::{InvocationList, InvocationView, JournalView};

/// `method path` with JSON `body` (none when `null`) as `client`: the status and the answer
/// as JSON (`null` when it is not JSON).
pub async fn ask(
    client: &ApiClient,
    method: hyper::Method,
    path: &str,
    body: serde_json::Value,
) -> (hyper::StatusCode, serde_json::Value) {
    let body = if body.is_null() {
        Vec::new()
    } else {
        body.to_string().into_bytes()
    };
    let (status, bytes) = client
        .raw(method, path, "application/json", body)
        .await
        .unwrap_or_else(|e| panic!("{path}: {e:#}"));
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null),
    )
}

/// `POST /v1/invocations` of `function` with `input` through `api`, waiting up to `wait`
/// seconds for the result if given.
pub async fn post_invocation(
    api: &ApiClient,
    function: &str,
    input: &serde_json::Value,
    wait: Option<f64>,
) -> anyhow::Result<InvocationView> {
    let body = serde_json::json!({"function": function, "input": input});
    let path = match wait {
        Some(wait) => format!("/v1/invocations?wait={wait}"),
        None => "/v1/invocations".to_string(),
    };
    api.call(
        hyper::Method::POST,
        &path,
        "application/json",
        body.to_string().into_bytes(),
    )
    .await
}
