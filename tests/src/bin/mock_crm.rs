//! `mock-crm`: runs the mock Salesforce-like CRM until ctrl-c, then prints its stats.

use std::net::SocketAddr;

use clap::Parser;
use reprise_tests::mock_crm::{
    DEFAULT_PORT, DEFAULT_TOKEN, Latency, MockCrm, MockCrmConfig, Outage,
};

/// Command-line arguments.
#[derive(Debug, Parser)]
#[command(about = "Mock Salesforce-like CRM for Reprise tests")]
struct Args {
    /// Address to listen on (port 0 picks a free one).
    #[arg(long, default_value_t = SocketAddr::from(([127, 0, 0, 1], DEFAULT_PORT)))]
    listen: SocketAddr,
    /// Bearer token to require.
    #[arg(long, env = "MOCK_CRM_TOKEN", default_value = DEFAULT_TOKEN)]
    token: String,
    /// Latency per request in ms: `N` or a uniform range `MIN..MAX`.
    #[arg(long, default_value = "0", value_parser = Latency::parse_ms)]
    latency_ms: Latency,
    /// Most requests handled at once; more are answered 429 with `Retry-After: 1`.
    #[arg(long)]
    max_concurrency: Option<usize>,
    /// Most requests accepted per second; more are answered 429 with `Retry-After: 1`.
    #[arg(long)]
    rate_limit: Option<usize>,
    /// An outage of 503s: `START+LENGTH` seconds after the first request, e.g. `5+10`.
    #[arg(long, value_parser = Outage::parse_secs)]
    outage: Option<Outage>,
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let args = Args::parse();
    let crm = MockCrm::start(MockCrmConfig {
        listen: args.listen,
        token: args.token,
        latency: args.latency_ms,
        max_concurrency: args.max_concurrency,
        rate_limit: args.rate_limit,
        outage: args.outage,
    })?;
    println!("mock CRM listening on {}", crm.url());
    tokio::signal::ctrl_c().await?;
    println!("mock CRM stats: {}", crm.stats().summary().to_json());
    crm.shutdown().await;
    Ok(())
}
