//! Test support for the Reprise integration tests: mock services the test
//! functions talk to over real HTTP on loopback.
//!
//! The integration tests themselves live in `tests/all/`.

pub mod browser;
pub mod floor;
pub mod host;
pub mod measure;
pub mod mock_crm;
pub mod probe;
pub mod server;

pub use mock_crm::{Latency, MockCrm, MockCrmConfig, Stats, StatsSummary};
