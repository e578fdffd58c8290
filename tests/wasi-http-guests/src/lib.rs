//! Test functions whose HTTP goes through a standard wasi:http client crate, which the host
//! journals like `http-send`: built once with feature `wstd` (async, on wstd's executor) and
//! once with `waki` (blocking), as `reprise_test_wstd.wasm` and `reprise_test_waki.wasm`.

use reprise_sdk::Error;
use serde::{Deserialize, Serialize};

#[cfg(all(feature = "wstd", feature = "waki"))]
compile_error!("build with one client feature at a time: `wstd` or `waki`");

/// A request to send.
#[derive(Deserialize)]
pub struct Fetch {
    /// Absolute URL.
    pub url: String,
    /// Method; `GET` when none.
    #[serde(default)]
    pub method: Option<String>,
    /// Body, sent as is.
    #[serde(default)]
    pub body: String,
    /// How many times to send `body` in a row (once when none).
    #[serde(default)]
    pub repeat: Option<usize>,
}

impl Fetch {
    /// The body to send: `body`, `repeat` times.
    fn payload(&self) -> String {
        self.body.repeat(self.repeat.unwrap_or(1))
    }
}

/// What came back.
#[derive(Serialize)]
pub struct Fetched {
    /// Status code.
    pub status: u16,
    /// Body as text.
    pub body: String,
}

#[cfg(feature = "wstd")]
mod client {
    use super::{Error, Fetch, Fetched};
    use wstd::http::{Body, Client, Request};

    /// Sends `fetch` with wstd, on its executor.
    pub fn send(fetch: &Fetch) -> Result<Fetched, Error> {
        wstd::runtime::block_on(send_async(fetch))
    }

    async fn send_async(fetch: &Fetch) -> Result<Fetched, Error> {
        let failed = |what: &str, e: &dyn std::fmt::Display| Error::msg(format!("{what}: {e}"));
        let request = Request::builder()
            .uri(fetch.url.as_str())
            .method(fetch.method.as_deref().unwrap_or("GET"))
            .header("content-type", "application/json")
            .body(Body::from(fetch.payload()))
            .map_err(|e| failed("request", &e))?;
        let response = Client::new()
            .send(request)
            .await
            .map_err(|e| failed("send", &e))?;
        let status = response.status().as_u16();
        let mut body = response.into_body();
        let text = body.str_contents().await.map_err(|e| failed("body", &e))?;
        Ok(Fetched {
            status,
            body: text.to_string(),
        })
    }
}

#[cfg(feature = "waki")]
mod client {
    use super::{Error, Fetch, Fetched};

    /// Sends `fetch` with waki.
    pub fn send(fetch: &Fetch) -> Result<Fetched, Error> {
        let client = waki::Client::new();
        let builder = match fetch.method.as_deref().unwrap_or("GET") {
            "GET" => client.get(&fetch.url),
            "POST" => client.post(&fetch.url),
            "PUT" => client.put(&fetch.url),
            other => return Err(Error::msg(format!("method {other} is not used here"))),
        };
        let response = builder
            .header("content-type", "application/json")
            .body(fetch.payload())
            .send()
            .map_err(|e| Error::msg(format!("send: {e}")))?;
        let status = response.status_code();
        let body = response
            .body()
            .map_err(|e| Error::msg(format!("body: {e}")))?;
        Ok(Fetched {
            status,
            body: String::from_utf8_lossy(&body).into_owned(),
        })
    }
}

/// Sends one request.
#[reprise_sdk::function]
pub fn fetch(input: Fetch) -> Result<Fetched, Error> {
    client::send(&input)
}

/// Sends each request in turn.
#[reprise_sdk::function]
pub fn fetch_all(input: Vec<Fetch>) -> Result<Vec<Fetched>, Error> {
    input.iter().map(client::send).collect()
}

reprise_sdk::export!(fetch, fetch_all);
