//! A small HTTP client for the host's API.

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{Method, Request, StatusCode};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde::de::DeserializeOwned;

use crate::api::dto::ErrorBody;

/// Client of one host.
pub struct ApiClient {
    base: String,
    /// The API key sent with every request, if there is one.
    token: Option<String>,
    client: Client<HttpConnector, Full<Bytes>>,
}

impl ApiClient {
    /// A client for the API at `base` (e.g. `http://127.0.0.1:7420`).
    pub fn new(base: &str) -> Self {
        ApiClient {
            base: base.trim_end_matches('/').to_string(),
            token: None,
            client: Client::builder(TokioExecutor::new()).build_http(),
        }
    }

    /// This client, sending `token` as its API key (`Authorization: Bearer`).
    pub fn with_token(mut self, token: Option<String>) -> Self {
        self.token = token;
        self
    }

    /// Sends a request and returns the status and body as they came.
    pub async fn raw(
        &self,
        method: Method,
        path: &str,
        content_type: &str,
        body: Vec<u8>,
    ) -> anyhow::Result<(StatusCode, Bytes)> {
        self.raw_with(method, path, content_type, &[], body).await
    }

    /// Like [`ApiClient::raw`], with extra `headers`.
    pub async fn raw_with(
        &self,
        method: Method,
        path: &str,
        content_type: &str,
        headers: &[(&str, String)],
        body: Vec<u8>,
    ) -> anyhow::Result<(StatusCode, Bytes)> {
        let response = self
            .response(method, path, content_type, headers, body)
            .await?;
        Ok((response.status(), response.into_body()))
    }

    /// Sends a request with extra `headers`; the whole response, its headers included.
    pub async fn response(
        &self,
        method: Method,
        path: &str,
        content_type: &str,
        headers: &[(&str, String)],
        body: Vec<u8>,
    ) -> anyhow::Result<hyper::Response<Bytes>> {
        let url = format!("{}{path}", self.base);
        let mut request = Request::builder()
            .method(method)
            .uri(&url)
            .header(hyper::header::CONTENT_TYPE, content_type);
        if let Some(token) = &self.token {
            request = request.header(hyper::header::AUTHORIZATION, format!("Bearer {token}"));
        }
        for (name, value) in headers {
            request = request.header(*name, value);
        }
        let request = request.body(Full::new(Bytes::from(body)))?;
        let response = self
            .client
            .request(request)
            .await
            .map_err(|e| anyhow::anyhow!("cannot reach the host at {}: {e}", self.base))?;
        let (parts, body) = response.into_parts();
        let body = body.collect().await?.to_bytes();
        Ok(hyper::Response::from_parts(parts, body))
    }

    /// Sends a request and decodes a JSON answer, or turns an error answer into an error.
    pub async fn call<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        content_type: &str,
        body: Vec<u8>,
    ) -> anyhow::Result<T> {
        self.call_with(method, path, content_type, &[], body).await
    }

    /// Like [`ApiClient::call`], with extra `headers`.
    pub async fn call_with<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        content_type: &str,
        headers: &[(&str, String)],
        body: Vec<u8>,
    ) -> anyhow::Result<T> {
        let (status, body) = self
            .raw_with(method, path, content_type, headers, body)
            .await?;
        if status.is_success() {
            return serde_json::from_slice(&body)
                .map_err(|e| anyhow::anyhow!("unexpected answer from {}{path}: {e}", self.base));
        }
        Err(api_error(status, &body))
    }

    /// POST `body` as JSON to `path` and decode the JSON answer.
    pub async fn post_json<T: DeserializeOwned, B: serde::Serialize>(
        &self,
        path: &str,
        body: &B,
    ) -> anyhow::Result<T> {
        let body = serde_json::to_vec(body)?;
        self.call(Method::POST, path, "application/json", body)
            .await
    }

    /// Sends a request and returns the answer's bytes as they came, or turns an error answer
    /// into an error.
    pub async fn bytes(
        &self,
        method: Method,
        path: &str,
        content_type: &str,
        body: Vec<u8>,
    ) -> anyhow::Result<Bytes> {
        let (status, body) = self.raw(method, path, content_type, body).await?;
        if status.is_success() {
            return Ok(body);
        }
        Err(api_error(status, &body))
    }

    /// GET `path`.
    pub async fn get<T: DeserializeOwned>(&self, path: &str) -> anyhow::Result<T> {
        self.call(Method::GET, path, "application/json", Vec::new())
            .await
    }
}

fn api_error(status: StatusCode, body: &[u8]) -> anyhow::Error {
    match serde_json::from_slice::<ErrorBody>(body) {
        Ok(err) => anyhow::anyhow!("{} ({})", err.error.message, err.error.code),
        Err(_) => anyhow::anyhow!(
            "the host answered {status}: {}",
            String::from_utf8_lossy(body)
        ),
    }
}
