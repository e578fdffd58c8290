//! The client a node talks to another through: send a bundle, ask for a refusal.
//!
//! Every answer is read as one of the protocol's outcomes (`Sent`), or as a failure to get
//! one (`PeerError`): a failure leaves the move undecided, never decided either way.

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{Method, Request, StatusCode};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde::{Deserialize, Serialize};
use std::time::Duration;

use super::Cluster;
use crate::ids::{InvocationId, TenantId};

/// The error code of an answer asking for the bundle again with its component.
pub const COMPONENT_MISSING: &str = "component_missing";

/// How long one request to another node may take.
const TIMEOUT: Duration = Duration::from_secs(30);

/// A decided answer from the other node.
#[derive(Debug, PartialEq, Eq)]
pub enum Sent {
    /// It owns the invocation (now or since an earlier try of the same move).
    Arrived,
    /// It will never own it under this move; why.
    Refused(String),
}

/// No decided answer.
#[derive(Debug, thiserror::Error)]
pub enum PeerError {
    /// This node has no cluster key to present.
    #[error("this node has no cluster key: start every node with the same --cluster-key-file")]
    NoKey,
    /// The URL is not one a request can go to.
    #[error("`{0}` is not a node URL (expected e.g. http://10.0.0.2:7420)")]
    BadUrl(String),
    /// The request did not get an answer.
    #[error("{url} did not answer: {why}")]
    Unreachable { url: String, why: String },
    /// The other node needs the bundle with its component (nothing was decided).
    #[error("the other node does not have the component")]
    ComponentMissing,
    /// The answer was not one of the protocol's.
    #[error("{url} answered {status}: {body}")]
    Unexpected {
        url: String,
        status: u16,
        body: String,
    },
}

/// The body of a refusal request.
#[derive(Debug, Serialize, Deserialize)]
pub struct RefuseRequest {
    /// Tenant of the invocation.
    pub tenant: String,
    /// The invocation.
    pub invocation: String,
}

/// What the receiving end answers about a move.
#[derive(Debug, Serialize, Deserialize)]
pub struct MoveAnswer {
    /// Whether it owns the invocation.
    pub arrived: bool,
    /// Why not, if it does not.
    #[serde(default)]
    pub reason: Option<String>,
}

/// A client of other nodes, presenting this node's cluster key.
#[derive(Clone)]
pub struct Peer {
    cluster: Cluster,
    client: Client<
        hyper_rustls::HttpsConnector<hyper_util::client::legacy::connect::HttpConnector>,
        Full<Bytes>,
    >,
}

impl Peer {
    /// A client for `cluster`'s node.
    pub fn new(cluster: Cluster) -> Self {
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_webpki_roots()
            .https_or_http()
            .enable_http1()
            .build();
        Peer {
            cluster,
            client: Client::builder(TokioExecutor::new()).build(https),
        }
    }

    /// This node's place in the cluster.
    pub fn cluster(&self) -> &Cluster {
        &self.cluster
    }

    /// Sends `bundle` (a bundle file's bytes) to the node at `to`.
    pub async fn send(&self, to: &str, bundle: Vec<u8>) -> Result<Sent, PeerError> {
        let url = format!("{}/v1/node/arrivals", to.trim_end_matches('/'));
        self.post(&url, "application/octet-stream", bundle).await
    }

    /// Asks the node at `to` to refuse move `move_id` of `id` (it answers whether the move
    /// had arrived instead).
    pub async fn refuse(
        &self,
        to: &str,
        move_id: u128,
        tenant: &TenantId,
        id: InvocationId,
    ) -> Result<Sent, PeerError> {
        let url = format!(
            "{}/v1/node/arrivals/{move_id:032x}/refuse",
            to.trim_end_matches('/')
        );
        let body = RefuseRequest {
            tenant: tenant.to_string(),
            invocation: id.to_string(),
        };
        let body = serde_json::to_vec(&body).unwrap_or_default();
        self.post(&url, "application/json", body).await
    }

    /// Sends `messages` (encoded outbox messages) to the node at `to`; `Ok` once it has
    /// taken them all.
    pub async fn deliver(&self, to: &str, messages: Vec<u8>) -> Result<(), PeerError> {
        let url = format!("{}/v1/node/messages", to.trim_end_matches('/'));
        self.exchange(&url, "application/octet-stream", messages)
            .await
            .map(drop)
    }

    async fn post(&self, url: &str, content_type: &str, body: Vec<u8>) -> Result<Sent, PeerError> {
        let body = self.exchange(url, content_type, body).await?;
        let answer: MoveAnswer =
            serde_json::from_slice(&body).map_err(|_| PeerError::Unexpected {
                url: url.to_string(),
                status: 200,
                body: String::from_utf8_lossy(&body).chars().take(500).collect(),
            })?;
        Ok(match answer {
            MoveAnswer { arrived: true, .. } => Sent::Arrived,
            MoveAnswer { reason, .. } => {
                Sent::Refused(reason.unwrap_or_else(|| "refused".to_string()))
            }
        })
    }

    /// POSTs `body` to `url` with the cluster key; the body of a 200 answer.
    async fn exchange(
        &self,
        url: &str,
        content_type: &str,
        body: Vec<u8>,
    ) -> Result<Bytes, PeerError> {
        let key = self.cluster.key().ok_or(PeerError::NoKey)?;
        let request = Request::builder()
            .method(Method::POST)
            .uri(url)
            .header(hyper::header::CONTENT_TYPE, content_type)
            .header(hyper::header::AUTHORIZATION, format!("Bearer {key}"))
            .body(Full::new(Bytes::from(body)))
            .map_err(|_| PeerError::BadUrl(url.to_string()))?;
        let unreachable = |why: String| PeerError::Unreachable {
            url: url.to_string(),
            why,
        };
        let response = tokio::time::timeout(TIMEOUT, self.client.request(request))
            .await
            .map_err(|_| unreachable(format!("no answer in {}s", TIMEOUT.as_secs())))?
            .map_err(|e| unreachable(e.to_string()))?;
        let status = response.status();
        let body = tokio::time::timeout(TIMEOUT, response.into_body().collect())
            .await
            .map_err(|_| unreachable("the answer did not end".into()))?
            .map_err(|e| unreachable(e.to_string()))?
            .to_bytes();
        let unexpected = || PeerError::Unexpected {
            url: url.to_string(),
            status: status.as_u16(),
            body: String::from_utf8_lossy(&body).chars().take(500).collect(),
        };
        if status == StatusCode::CONFLICT
            && serde_json::from_slice::<serde_json::Value>(&body)
                .is_ok_and(|v| v["error"]["code"] == COMPONENT_MISSING)
        {
            return Err(PeerError::ComponentMissing);
        }
        if status != StatusCode::OK {
            return Err(unexpected());
        }
        Ok(body)
    }
}
