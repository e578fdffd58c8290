//! Integration tests of the Reprise project (one binary, one module per area).
//!
//! They start the real `reprise` binary on real redb files and talk to real HTTP servers on
//! loopback. Build the binary and the guest components first: `scripts/test.sh` does.

mod abuse;
mod bad_input;
mod cancel;
mod children;
mod crash;
mod deferred;
mod determinism;
mod egress;
mod hostile;
mod mock_crm;
mod operate;
mod paging;
mod quotas;
mod resilience;
mod retries;
mod rewind;
mod roundtrip;
mod schedules;
mod signals;
mod tenants;
mod timers;

/// Held by the tests whose assertions depend on the host getting its share of the two cores
/// (a healthy destination's latency during an outage) and by the heaviest load (10,000
/// invocations at once), so that the two never overlap.
static HEAVY: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
