//! The resolver of the outbound HTTP client: a name's addresses, less those the egress policy
//! denies. The connector connects only to what it returns, so the policy holds for the
//! address actually connected, however the name resolves from one lookup to the next.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use hyper_util::client::legacy::connect::dns::Name;

use crate::outbound::{Denied, EgressPolicy};

/// Resolves names with the system resolver, keeping the addresses `policy` allows.
#[derive(Clone)]
pub struct PolicyResolver {
    policy: Arc<EgressPolicy>,
}

impl PolicyResolver {
    /// A resolver under `policy`.
    pub fn new(policy: Arc<EgressPolicy>) -> Self {
        PolicyResolver { policy }
    }
}

/// Why a name has no address to connect to: every one it resolved to is denied.
#[derive(Debug, thiserror::Error)]
#[error("`{name}` resolves only to denied addresses: {denied}")]
pub struct NameDenied {
    /// The name.
    pub name: String,
    /// The first address refused, and why.
    pub denied: Denied,
}

type Resolving =
    Pin<Box<dyn Future<Output = Result<std::vec::IntoIter<SocketAddr>, std::io::Error>> + Send>>;

impl tower_service::Service<Name> for PolicyResolver {
    type Response = std::vec::IntoIter<SocketAddr>;
    type Error = std::io::Error;
    type Future = Resolving;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, name: Name) -> Self::Future {
        let policy = self.policy.clone();
        Box::pin(async move {
            let host = name.as_str().to_string();
            let resolved: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let mut first_denied = None;
            let allowed: Vec<SocketAddr> = resolved
                .into_iter()
                .filter(|addr| match policy.check_ip(addr.ip()) {
                    Ok(()) => true,
                    Err(denied) => {
                        first_denied.get_or_insert(denied);
                        false
                    }
                })
                .collect();
            match (allowed.is_empty(), first_denied) {
                (true, Some(denied)) => Err(std::io::Error::new(
                    std::io::ErrorKind::PermissionDenied,
                    NameDenied { name: host, denied },
                )),
                _ => Ok(allowed.into_iter()),
            }
        })
    }
}
