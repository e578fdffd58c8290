//! `naive-export`: the CRM export written the usual way, without Reprise — a pool of workers
//! POSTing users, no retries — to compare with `crm-export` under the same API limits.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use bytes::Bytes;
use clap::Parser;
use http_body_util::Full;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use reprise_tests::mock_crm::{DEFAULT_TOKEN, USERS_PATH};

/// Command-line arguments.
#[derive(Debug, Parser)]
#[command(about = "A naive CRM export: concurrent POSTs, no retries")]
struct Args {
    /// Base URL of the CRM.
    #[arg(long, default_value = "http://127.0.0.1:7481")]
    crm_url: String,
    /// Users to export.
    #[arg(long, default_value_t = 5000)]
    users: usize,
    /// Concurrent workers.
    #[arg(long, default_value_t = 32)]
    workers: usize,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let client = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
    let url = format!("{}{USERS_PATH}", args.crm_url.trim_end_matches('/'));
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut workers = Vec::new();
    for _ in 0..args.workers {
        let (client, url, next) = (client.clone(), url.clone(), next.clone());
        let users = args.users;
        workers.push(tokio::spawn(async move {
            let (mut created, mut lost) = (0usize, Vec::new());
            loop {
                let u = next.fetch_add(1, Ordering::Relaxed);
                if u >= users {
                    break;
                }
                let body = serde_json::json!({"FirstName": format!("First{u}"),
                    "LastName": "Last", "Email": format!("user{u}@example.com")});
                let request = hyper::Request::post(&url)
                    .header("authorization", format!("Bearer {DEFAULT_TOKEN}"))
                    .header("content-type", "application/json")
                    .body(Full::new(Bytes::from(body.to_string())));
                let status = match request {
                    Ok(request) => client.request(request).await.map(|r| r.status().as_u16()),
                    Err(_) => Ok(0),
                };
                match status {
                    Ok(201) => created += 1,
                    Ok(status) => lost.push(status),
                    Err(_) => lost.push(0),
                }
            }
            (created, lost)
        }));
    }
    let (mut created, mut lost) = (0, Vec::new());
    for worker in workers {
        let (c, l) = worker.await?;
        created += c;
        lost.extend(l);
    }
    let count = |s: u16| lost.iter().filter(|&&x| x == s).count();
    println!(
        "naive export: {created} of {} users created in {:.1?} with {} workers; {} lost \
         ({} to 429, {} to 503, {} to connection errors)",
        args.users,
        started.elapsed(),
        args.workers,
        lost.len(),
        count(429),
        count(503),
        count(0)
    );
    Ok(())
}
