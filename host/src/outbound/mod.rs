//! Resilient, fenced outbound HTTP: the egress policy, the retry policy, and per-destination
//! adaptive concurrency, circuit breaking and rate limiting.
//!
//! The journaled `http-send` step (`host_calls/http.rs`) asks the destination for a permit
//! before each attempt and reports how it went; between attempts it backs off under the
//! [`RetryPolicy`]. Everything here is in memory and per host process: limits are learnt
//! again after a restart.

mod breaker;
mod destination;
mod egress;
mod policy;

pub use destination::{Admit, Destination, DestinationStats, Destinations, Permit, Verdict};
pub use egress::{BadCidr, Cidr, Denied, EgressPolicy, Narrowing, NotAllowed, Scope};
pub use policy::{
    Exhausted, FunctionPolicy, Policy, PolicyError, RetryPolicy, retry_after, transient,
};
