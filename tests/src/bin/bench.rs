//! `reprise-bench`: benchmarks of a real `reprise serve` process, printing figures.
//!
//! Run with `scripts/bench.sh` (a release build). Each scenario starts a fresh host on a
//! fresh data directory, drives it through its API as a client would, and measures the
//! process from outside (`/proc/PID/status`, the size of the data directory).

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, bail};
use clap::{Parser, Subcommand};
use reprise::cli::client::ApiClient;
use reprise_tests::host::{Host, InvocationView};
use reprise_tests::measure::{dir_bytes, mib, percentile, rss_bytes};
use serde_json::{Value, json};

#[derive(Parser)]
#[command(name = "reprise-bench", about = "Benchmarks of a real Reprise host")]
struct Args {
    /// Data directory for the host (emptied first).
    #[arg(long, default_value = "target/bench-data")]
    data: PathBuf,
    #[command(subcommand)]
    scenario: Scenario,
}

#[derive(Subcommand)]
enum Scenario {
    /// Resident memory and disk with 1,000 and COUNT invocations suspended on timers, then
    /// how late the timers fire when they fall due (spread over WINDOW seconds).
    Suspended {
        /// Invocations suspended at once.
        #[arg(long, default_value_t = 100_000)]
        count: usize,
        /// The due times are spread over this many seconds.
        #[arg(long, default_value_t = 60)]
        window: u64,
        /// Concurrent API clients creating invocations.
        #[arg(long, default_value_t = 64)]
        clients: usize,
    },
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    if args.data.exists() {
        std::fs::remove_dir_all(&args.data)
            .with_context(|| format!("cannot empty {}", args.data.display()))?;
    }
    match args.scenario {
        Scenario::Suspended {
            count,
            window,
            clients,
        } => suspended(&args.data, count, window, clients).await,
    }
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// Suspended invocations cost disk, not memory; timers fire on time.
async fn suspended(
    data: &std::path::Path,
    count: usize,
    window: u64,
    clients: usize,
) -> anyhow::Result<()> {
    let first = 1000.min(count);
    let host = Host::start(data);
    host.deploy("tg", "reprise_test_guests");
    let pid = host.pid().context("host pid")?;
    let api = Arc::new(ApiClient::new(&host.url));
    let idle = rss_bytes(pid).unwrap_or(0);

    // 1,000 sleepers due in an hour: the baseline.
    let far = now_ms() + 3_600_000;
    let started = Instant::now();
    create(&api, (0..first).map(|_| far).collect(), clients).await?;
    until_suspended(&api, first).await?;
    let rate = first as f64 / started.elapsed().as_secs_f64();
    settle().await;
    let rss_first = rss_bytes(pid).unwrap_or(0);
    let disk_first = dir_bytes(data);

    // The rest, due spread over the window, which starts once they all exist (estimated from
    // the rate of the first thousand, with room to spare).
    let rest = count - first;
    let creation = Duration::from_secs_f64(rest as f64 / rate * 1.5 + 10.0);
    let window_ms = window * 1000;
    let base = now_ms() + creation.as_millis() as u64;
    let dues: Vec<u64> = (0..rest)
        .map(|i| base + (i as u64 * window_ms) / rest.max(1) as u64)
        .collect();
    let ids = create(&api, dues.clone(), clients).await?;
    until_suspended(&api, count).await?;
    if now_ms() >= base {
        bail!("creating {rest} invocations took longer than estimated; use a longer --window");
    }
    settle().await;
    let rss_all = rss_bytes(pid).unwrap_or(0);
    let disk_all = dir_bytes(data);

    // Wait for the window to pass, then read how late each woke.
    let end = base + window_ms;
    tokio::time::sleep(Duration::from_millis(end.saturating_sub(now_ms()))).await;
    let late = lateness(&api, &ids, clients).await?;
    let rss_after = rss_bytes(pid).unwrap_or(0);

    println!("suspended invocations (timers), one host process");
    println!("  host RSS idle (component deployed)       {}", mib(idle));
    println!(
        "  created at                                {rate:.0} invocations/s ({clients} clients)"
    );
    println!(
        "  {first:>7} suspended: RSS {:>10}   disk {:>10}",
        mib(rss_first),
        mib(disk_first)
    );
    println!(
        "  {count:>7} suspended: RSS {:>10}   disk {:>10}",
        mib(rss_all),
        mib(disk_all)
    );
    println!(
        "  disk per suspended invocation            {:.0} bytes",
        (disk_all - disk_first) as f64 / rest.max(1) as f64
    );
    println!(
        "  {rest} timers due over {window} s fired late by: p50 {} ms, p99 {} ms, max {} ms",
        percentile(&late, 50.0),
        percentile(&late, 99.0),
        late.last().copied().unwrap_or(0)
    );
    println!(
        "  host RSS after they all completed         {}",
        mib(rss_after)
    );
    Ok(())
}

/// A moment for the host to finish background work before memory is read.
async fn settle() {
    tokio::time::sleep(Duration::from_secs(2)).await;
}

/// Creates one `wake_at` invocation per due time with `clients` concurrent clients; returns
/// their ids in the order of `dues`.
async fn create(
    api: &Arc<ApiClient>,
    dues: Vec<u64>,
    clients: usize,
) -> anyhow::Result<Vec<String>> {
    let dues = Arc::new(dues);
    let next = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for _ in 0..clients {
        let (api, dues, next) = (api.clone(), dues.clone(), next.clone());
        tasks.push(tokio::spawn(async move {
            let mut made = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(due) = dues.get(i) else { break };
                let body = json!({"function": "tg.wake_at", "input": {"due_ms": due}});
                let view: InvocationView = api
                    .call(
                        hyper::Method::POST,
                        "/v1/invocations",
                        "application/json",
                        body.to_string().into_bytes(),
                    )
                    .await?;
                made.push((i, view.id));
            }
            anyhow::Ok(made)
        }));
    }
    let mut ids = vec![String::new(); dues.len()];
    for task in tasks {
        for (i, id) in task.await?? {
            ids[i] = id;
        }
    }
    Ok(ids)
}

/// Waits until `count` invocations are suspended.
async fn until_suspended(api: &ApiClient, count: usize) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(3600);
    loop {
        let stats: Value = api.get("/v1/stats").await?;
        let suspended = stats["invocations"]["suspended"].as_u64().unwrap_or(0) as usize;
        if suspended >= count {
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!("only {suspended} of {count} invocations suspended");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// How late (ms) each invocation of `ids` woke, sorted; waits for those still running.
async fn lateness(
    api: &Arc<ApiClient>,
    ids: &[String],
    clients: usize,
) -> anyhow::Result<Vec<u64>> {
    let ids = Arc::new(ids.to_vec());
    let next = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for _ in 0..clients {
        let (api, ids, next) = (api.clone(), ids.clone(), next.clone());
        tasks.push(tokio::spawn(async move {
            let mut late = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(id) = ids.get(i) else { break };
                let view: InvocationView =
                    api.get(&format!("/v1/invocations/{id}?wait=60")).await?;
                let output = view
                    .output
                    .with_context(|| format!("{id} is {}: {:?}", view.state, view.error))?;
                late.push(output["late_ms"].as_u64().unwrap_or(u64::MAX));
            }
            anyhow::Ok(late)
        }));
    }
    let mut all = Vec::new();
    for task in tasks {
        all.extend(task.await??);
    }
    all.sort_unstable();
    Ok(all)
}
