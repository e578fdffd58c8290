//! Integration tests of the Reprise project (one binary, one module per area).
//!
//! They start the real `reprise` binary on real redb files and talk to real HTTP servers on
//! loopback. Build the binary and the guest components first: `scripts/test.sh` does.

mod abuse;
mod bad_input;
mod cancel;
mod children;
mod console;
mod crash;
mod deferred;
mod determinism;
mod egress;
mod hostile;
mod languages;
mod logs;
mod mock_crm;
mod moves;
mod operate;
mod paging;
mod progress;
mod quotas;
mod retries;
mod rewind;
mod roundtrip;
mod scaffold;
mod schedules;
mod signals;
mod tenants;
mod timers;
mod traces;
mod versions;
mod wasi_http;
mod world;
