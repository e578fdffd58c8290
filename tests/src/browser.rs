//! A real headless browser for the console's tests: Debian's Chromium driven through
//! ChromeDriver's W3C WebDriver protocol (JSON over HTTP on loopback).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use hyper::Method;
use reprise::cli::client::ApiClient;
use serde_json::{Value, json};

/// Where Debian's `chromium` and `chromium-driver` packages put them.
pub const CHROMIUM: &str = "/usr/bin/chromium";
/// ChromeDriver, from `chromium-driver`.
pub const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// A ChromeDriver process and one browser session in it; both end when it is dropped.
pub struct Browser {
    driver: Child,
    client: ApiClient,
    session: String,
    _profile: tempfile::TempDir,
}

impl Browser {
    /// Starts ChromeDriver on a free port and a headless Chromium with a fresh profile.
    pub async fn start() -> Browser {
        assert!(
            Path::new(CHROMIUM).exists() && Path::new(CHROMEDRIVER).exists(),
            "the console tests need Debian's chromium and chromium-driver (scripts/test.sh installs them)"
        );
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let driver = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start chromedriver");
        let client = ApiClient::new(&format!("http://127.0.0.1:{port}"));
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let ready: anyhow::Result<Value> = client.get("/status").await;
            if ready.is_ok_and(|s| s["value"]["ready"] == true) {
                break;
            }
            assert!(Instant::now() < deadline, "chromedriver did not start");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let profile = tempfile::tempdir().expect("profile dir");
        let args = [
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--window-size=1280,1000",
            &format!("--user-data-dir={}", profile.path().display()),
        ];
        let capabilities = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {"binary": CHROMIUM, "args": args},
        }}});
        let mut browser = Browser {
            driver,
            client,
            session: String::new(),
            _profile: profile,
        };
        let created = browser.send(Method::POST, "/session", capabilities).await;
        browser.session = created["sessionId"]
            .as_str()
            .expect("a session id")
            .to_string();
        browser
    }

    async fn send(&self, method: Method, path: &str, body: Value) -> Value {
        let body = match body {
            Value::Null => Vec::new(),
            body => serde_json::to_vec(&body).expect("a JSON body"),
        };
        let answer: Value = self
            .client
            .call(method, path, "application/json", body)
            .await
            .unwrap_or_else(|e| panic!("webdriver {path}: {e}"));
        answer["value"].clone()
    }

    async fn command(&self, method: Method, what: &str, body: Value) -> Value {
        let path = format!("/session/{}{what}", self.session);
        self.send(method, &path, body).await
    }

    /// Opens `url`.
    pub async fn open(&self, url: &str) {
        self.command(Method::POST, "/url", json!({"url": url}))
            .await;
    }

    /// Runs `script` (a function body; `arguments` are `args`) in the page; its return value.
    pub async fn eval(&self, script: &str, args: Value) -> Value {
        let body = json!({"script": script, "args": args});
        self.command(Method::POST, "/execute/sync", body).await
    }

    /// Waits until `script` returns something truthy (not null, false, 0, "" or []), and
    /// returns that; panics after `timeout` with `what`.
    pub async fn until(&self, what: &str, script: &str, timeout: Duration) -> Value {
        let deadline = Instant::now() + timeout;
        loop {
            let value = self.eval(script, json!([])).await;
            let truthy = match &value {
                Value::Null | Value::Bool(false) => false,
                Value::Number(n) => n.as_f64() != Some(0.0),
                Value::String(s) => !s.is_empty(),
                Value::Array(a) => !a.is_empty(),
                Value::Object(_) => true,
                Value::Bool(true) => true,
            };
            if truthy {
                return value;
            }
            if Instant::now() >= deadline {
                let text = self.eval("return document.body.innerText", json!([])).await;
                panic!("timed out waiting for {what}; the page shows:\n{text}");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Clicks the first element `css` selects (it must be there).
    pub async fn click(&self, css: &str) {
        let found = self.element(css).await;
        self.command(Method::POST, &format!("/element/{found}/click"), json!({}))
            .await;
    }

    /// Types `text` into the first element `css` selects.
    pub async fn type_into(&self, css: &str, text: &str) {
        let found = self.element(css).await;
        self.command(Method::POST, &format!("/element/{found}/clear"), json!({}))
            .await;
        self.command(
            Method::POST,
            &format!("/element/{found}/value"),
            json!({"text": text}),
        )
        .await;
    }

    async fn element(&self, css: &str) -> String {
        let body = json!({"using": "css selector", "value": css});
        let found = self.command(Method::POST, "/element", body).await;
        found
            .as_object()
            .and_then(|o| o.values().next())
            .and_then(Value::as_str)
            .unwrap_or_else(|| panic!("no element {css}: {found}"))
            .to_string()
    }

    /// Accepts the `confirm()` the page shows.
    pub async fn accept_dialog(&self) {
        self.command(Method::POST, "/alert/accept", json!({})).await;
    }

    /// Saves a PNG screenshot of the page at `path`.
    pub async fn screenshot(&self, path: &PathBuf) {
        let data = self.command(Method::GET, "/screenshot", Value::Null).await;
        let png = decode_base64(data.as_str().expect("base64 PNG"));
        std::fs::write(path, png).expect("write the screenshot");
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

/// Standard base64 (what WebDriver's screenshot is in).
fn decode_base64(text: &str) -> Vec<u8> {
    let value = |c: u8| match c {
        b'A'..=b'Z' => Some(c - b'A'),
        b'a'..=b'z' => Some(c - b'a' + 26),
        b'0'..=b'9' => Some(c - b'0' + 52),
        b'+' => Some(62),
        b'/' => Some(63),
        _ => None,
    };
    let mut out = Vec::with_capacity(text.len() * 3 / 4);
    let (mut acc, mut bits) = (0u32, 0);
    for six in text.bytes().filter_map(value) {
        acc = (acc << 6) | u32::from(six);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    out
}
