//! A mock Salesforce-like CRM REST API, for tests that export users.
//!
//! Routes:
//!
//! * `POST /services/data/v52.0/sobjects/User` ([`USERS_PATH`]) — needs
//!   `Authorization: Bearer <token>` (else 401) and a JSON object with string
//!   fields `FirstName`, `LastName`, `Email` (else 400 naming the field).
//!   Answers `201 {"id": ID, "success": true, "errors": []}` where `ID` is
//!   [`user_id_for`]`(email)`, so re-runs give identical ids. Every request to
//!   this route is counted under its `Idempotency-Key` header (`""` when
//!   absent); a repeated key for the same user gets the same id and is still
//!   counted; a key reused for a *different* user is answered 422.
//! * `GET /stats` ([`STATS_PATH`]) — a [`StatsSummary`] as JSON.
//!
//! Errors use Salesforce's shape: a JSON array of
//! `{"message", "errorCode", "fields"}` objects.
//!
//! Request handling is split into *admission* (counting, concurrency
//! tracking, limits) and *processing*. Optional limits, like a real SaaS API:
//! at most [`MockCrmConfig::max_concurrency`] requests at once and
//! [`MockCrmConfig::rate_limit`] per second (above either: 429 with
//! `Retry-After: 1`), and an [`Outage`] window answering 503.

mod admission;
mod config;
mod handlers;
mod responses;
mod state;
mod stats;
mod users;

pub use config::{Latency, MockCrmConfig, Outage};
pub use stats::{RequestRecord, Stats, StatsSummary};
pub use users::user_id_for;

use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use state::{Shared, State};

use crate::server::TestServer;

/// Path of the "create user" endpoint.
pub const USERS_PATH: &str = "/services/data/v52.0/sobjects/User";
/// Path of the statistics endpoint.
pub const STATS_PATH: &str = "/stats";
/// Name of the header requests are counted by.
pub const IDEMPOTENCY_KEY_HEADER: &str = "idempotency-key";
/// Bearer token accepted by default.
pub const DEFAULT_TOKEN: &str = "test-token";
/// Port the `mock-crm` binary listens on by default.
pub const DEFAULT_PORT: u16 = 7480;
/// Largest accepted request body; larger ones are answered 413.
pub const MAX_BODY_BYTES: usize = 1 << 20;

/// A running mock CRM server; stops on [`MockCrm::shutdown`] or drop.
#[derive(Debug)]
pub struct MockCrm {
    /// The server answering with [`handlers::route`].
    server: TestServer,
    /// State shared with the connection tasks.
    shared: Arc<Shared>,
}

impl MockCrm {
    /// Binds `config.listen` and serves on the current tokio runtime (error if there is none).
    pub fn start(config: MockCrmConfig) -> io::Result<Self> {
        let listener = std::net::TcpListener::bind(config.listen)?;
        let shared = Arc::new(Shared {
            config,
            state: Mutex::new(State::default()),
        });
        let served = Arc::clone(&shared);
        let server = TestServer::start(listener, move |req| {
            handlers::route(Arc::clone(&served), req)
        })?;
        Ok(Self { server, shared })
    }

    /// The address the server is bound to.
    pub fn addr(&self) -> SocketAddr {
        self.server.addr()
    }

    /// Base URL, e.g. `http://127.0.0.1:7480` (loopback if bound to an unspecified address).
    pub fn url(&self) -> String {
        self.server.url()
    }

    /// Full URL of the "create user" endpoint.
    pub fn users_url(&self) -> String {
        format!("{}{USERS_PATH}", self.url())
    }

    /// The configuration the server runs with.
    pub fn config(&self) -> &MockCrmConfig {
        &self.shared.config
    }

    /// A snapshot of the counters and request records.
    pub fn stats(&self) -> Stats {
        self.shared.lock().snapshot()
    }

    /// Stops accepting, closes open connections and waits for the server task to end.
    pub async fn shutdown(self) {
        self.server.shutdown().await;
    }
}
