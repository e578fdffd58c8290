//! The resolver of the outbound HTTP client: a name's addresses, less those the egress policy
//! denies and those the tenant's and deployment's rules do not allow. The connector connects
//! only to what it returns, so both hold for the address actually connected, however the
//! name resolves from one lookup to the next.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use hyper_util::client::legacy::connect::dns::Name;

use crate::outbound::{Denied, EgressPolicy, Narrowing, NotAllowed};

/// Resolves names with the system resolver, keeping the addresses `policy` and `narrowing`
/// allow.
#[derive(Clone)]
pub struct PolicyResolver {
    policy: Arc<EgressPolicy>,
    narrowing: Arc<Narrowing>,
}

impl PolicyResolver {
    /// A resolver under `policy`, narrowed by `narrowing`.
    pub fn new(policy: Arc<EgressPolicy>, narrowing: Arc<Narrowing>) -> Self {
        PolicyResolver { policy, narrowing }
    }
}

/// Why an address is not connected to.
#[derive(Debug, thiserror::Error)]
pub enum Refusal {
    /// The host's policy denies it.
    #[error(transparent)]
    Host(#[from] Denied),
    /// The tenant's or the deployment's rules do not allow it.
    #[error(transparent)]
    Rules(#[from] NotAllowed),
}

/// Why a name has no address to connect to: every one it resolved to is refused.
#[derive(Debug, thiserror::Error)]
#[error("`{name}` resolves only to refused addresses: {refusal}")]
pub struct NameDenied {
    /// The name.
    pub name: String,
    /// The first address refused, and why.
    pub refusal: Refusal,
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
        let (policy, narrowing) = (self.policy.clone(), self.narrowing.clone());
        Box::pin(async move {
            let host = name.as_str().to_string();
            let resolved: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let mut first_refused = None;
            let check = |ip| -> Result<(), Refusal> {
                policy.check_ip(ip)?;
                narrowing.check_resolved(&host, ip)?;
                Ok(())
            };
            let allowed: Vec<SocketAddr> = resolved
                .into_iter()
                .filter(|addr| match check(addr.ip()) {
                    Ok(()) => true,
                    Err(refusal) => {
                        first_refused.get_or_insert(refusal);
                        false
                    }
                })
                .collect();
            match (allowed.is_empty(), first_refused) {
                (true, Some(refusal)) => Err(std::io::Error::new(
                    std::io::ErrorKind::PermissionDenied,
                    NameDenied {
                        name: host,
                        refusal,
                    },
                )),
                _ => Ok(allowed.into_iter()),
            }
        })
    }
}
