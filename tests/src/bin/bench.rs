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
use reprise_tests::floor::DurableFloor;
use reprise_tests::host::{Host, InvocationView, post_invocation};
use reprise_tests::measure::{dir_bytes, mib, peak_rss_bytes, percentile, rss_bytes};

/// The data directory's size without the write-ahead log, which is allocated in full (64 MiB)
/// when the host first starts and does not grow.
fn stored_bytes(data: &std::path::Path) -> u64 {
    let log = std::fs::metadata(data.join("reprise.wal")).map_or(0, |m| m.len());
    dir_bytes(data).saturating_sub(log)
}
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
    /// Start cost: instantiate the pre-instantiated test component and call a trivial
    /// function, in process (no API, no journal): p50 and p99.
    Start {
        /// Calls to time.
        #[arg(long, default_value_t = 20_000)]
        calls: usize,
    },
    /// HTTP API round trip: invoke a trivial function and wait for its result, sequentially
    /// and with 64 clients: p50 and p99.
    Api {
        /// Invocations per run.
        #[arg(long, default_value_t = 2000)]
        count: usize,
    },
    /// Durable step throughput: C concurrent invocations each taking K journaled steps, with
    /// group commit and with one transaction per write.
    Steps {
        /// Values of C (invocations at once), comma-separated.
        #[arg(long, value_delimiter = ',', default_values_t = [1usize, 64, 1024])]
        c: Vec<usize>,
        /// Values of K (steps per invocation), comma-separated.
        #[arg(long, value_delimiter = ',', default_values_t = [1u32, 10, 100])]
        k: Vec<u32>,
        /// Measure group commit only.
        #[arg(long)]
        group_only: bool,
    },
    /// Timer accuracy: 64 concurrent invocations sleeping 100 ms: completion latency.
    Timers,
    /// Host resident memory after COUNT completed invocations.
    Memory {
        /// Invocations to complete.
        #[arg(long, default_value_t = 20_000)]
        count: usize,
    },
    /// Fair share: a light tenant's sequential `echo` latency on an idle host, then while a
    /// heavy tenant's HEAVY invocations (each holding a slot for 200 ms) flood the host's 64
    /// slots.
    Fairness {
        /// Invocations the heavy tenant submits at once.
        #[arg(long, default_value_t = 5_000)]
        heavy: usize,
        /// Calls the light tenant times, idle and loaded.
        #[arg(long, default_value_t = 300)]
        light: usize,
    },
    /// Replay rate and journal size: one invocation takes ENTRIES steps, then suspends five
    /// times; each wake-up replays the whole journal
    Replay {
        /// Journal entries.
        #[arg(long, default_value_t = 100_000)]
        entries: u32,
    },
    /// Hostile loops: LOOPS infinite loops of one tenant, stopped by its `run_ms` quota, while
    /// another tenant's sequential echo is timed (idle, during, after).
    Loops {
        /// Infinite loops submitted at once.
        #[arg(long, default_value_t = 512)]
        loops: usize,
        /// The looping tenant's `run_ms` quota.
        #[arg(long, default_value_t = 100)]
        run_ms: u64,
        /// Calls the other tenant times, idle and after.
        #[arg(long, default_value_t = 200)]
        light: usize,
    },
    /// Retention: COUNT short invocations (in tenths) with a RETENTION-second retention and
    /// a sweep every second: the data directory and the host's RSS after each tenth.
    Retention {
        /// Invocations to complete.
        #[arg(long, default_value_t = 1_000_000)]
        count: usize,
        /// The tenant's `retention_secs`.
        #[arg(long, default_value_t = 60)]
        retention: u64,
    },
    /// Lists: COUNT finished tg.echo invocations (one in 1,000 a failed tg.fail_error), then
    /// the time of one list page (50) of each kind: the newest, one halfway down, the failed
    /// ones by state (through the index), the same ones by function (a scan), and text in
    /// the input that matches one (a scan bounded per page).
    Lists {
        /// Invocations to make.
        #[arg(long, default_value_t = 1_000_000)]
        count: usize,
    },
    /// Bulk actions: COUNT suspended invocations, then a dry run and a cancel of them all by
    /// filter, in pages of 10,000: matches per second.
    Bulk {
        /// Invocations to suspend, then cancel.
        #[arg(long, default_value_t = 100_000)]
        count: usize,
    },
    /// Moves between two hosts: MIGRATIONS suspended invocations migrated one at a time and
    /// then CLIENTS at a time (migrations per second), then a drain of COUNT suspended ones
    /// (its time, and the target's figures after).
    Moves {
        /// Invocations migrated in each of the two rounds.
        #[arg(long, default_value_t = 500)]
        migrations: usize,
        /// Concurrent migrations in the second round.
        #[arg(long, default_value_t = 32)]
        clients: usize,
        /// Invocations suspended, then drained.
        #[arg(long, default_value_t = 10_000)]
        count: usize,
    },
    /// Uploads under abuse: COUNT uploads of SIZE MiB at once, each over the 64 MiB
    /// `component_bytes` quota: answers and the host's peak resident memory.
    Uploads {
        /// Uploads at once.
        #[arg(long, default_value_t = 40)]
        count: usize,
        /// MiB each.
        #[arg(long, default_value_t = 300)]
        size_mib: u64,
    },
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
        Scenario::Start { calls } => start(calls).await,
        Scenario::Api { count } => api(&args.data, count).await,
        Scenario::Steps { c, k, group_only } => steps(&args.data, &c, &k, group_only).await,
        Scenario::Timers => timers(&args.data).await,
        Scenario::Memory { count } => memory(&args.data, count).await,
        Scenario::Replay { entries } => replay(&args.data, entries).await,
        Scenario::Fairness { heavy, light } => fairness(&args.data, heavy, light).await,
        Scenario::Loops {
            loops,
            run_ms,
            light,
        } => hostile_loops(&args.data, loops, run_ms, light).await,
        Scenario::Uploads { count, size_mib } => uploads(&args.data, count, size_mib).await,
        Scenario::Bulk { count } => bulk(&args.data, count).await,
        Scenario::Lists { count } => lists(&args.data, count).await,
        Scenario::Moves {
            migrations,
            clients,
            count,
        } => moves(&args.data, migrations, clients, count).await,
        Scenario::Retention { count, retention } => {
            retention_run(&args.data, count, retention).await
        }
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
    let api = Arc::new(host.client());
    let idle = rss_bytes(pid).unwrap_or(0);

    // 1,000 sleepers due in an hour: the baseline.
    let far = now_ms() + 3_600_000;
    let started = Instant::now();
    create(&api, (0..first).map(|_| far).collect(), clients).await?;
    until_suspended(&api, first).await?;
    let rate = first as f64 / started.elapsed().as_secs_f64();
    settle().await;
    let rss_first = rss_bytes(pid).unwrap_or(0);
    let disk_first = stored_bytes(data);

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
    let disk_all = stored_bytes(data);

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
    let (api, dues) = (api.clone(), Arc::new(dues));
    parallel(dues.len(), clients, move |i| {
        let (api, due) = (api.clone(), dues[i]);
        async move {
            let input = json!({"due_ms": due});
            Ok(post_invocation(&api, "tg.wake_at", &input, None).await?.id)
        }
    })
    .await
}

/// Runs `job(i)` for every `i` in `0..count` on `clients` concurrent tasks; returns the
/// results in the order of `i`.
async fn parallel<T, F, Fut>(count: usize, clients: usize, job: F) -> anyhow::Result<Vec<T>>
where
    T: Send + 'static,
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = anyhow::Result<T>> + Send,
{
    let (job, next) = (Arc::new(job), Arc::new(AtomicUsize::new(0)));
    let mut tasks = Vec::new();
    for _ in 0..clients.clamp(1, count.max(1)) {
        let (job, next) = (job.clone(), next.clone());
        tasks.push(tokio::spawn(async move {
            let mut done = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= count {
                    break;
                }
                done.push((i, job(i).await?));
            }
            anyhow::Ok(done)
        }));
    }
    let mut all = Vec::with_capacity(count);
    for task in tasks {
        all.extend(task.await??);
    }
    all.sort_unstable_by_key(|(i, _)| *i);
    Ok(all.into_iter().map(|(_, result)| result).collect())
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
    let (api, ids) = (api.clone(), Arc::new(ids.to_vec()));
    let mut late = parallel(ids.len(), clients, move |i| {
        let (api, id) = (api.clone(), ids[i].clone());
        async move {
            let view: InvocationView = api.get(&format!("/v1/invocations/{id}?wait=60")).await?;
            let output = view
                .output
                .with_context(|| format!("{id} is {}: {:?}", view.state, view.error))?;
            Ok(output["late_ms"].as_u64().unwrap_or(u64::MAX))
        }
    })
    .await?;
    late.sort_unstable();
    Ok(late)
}

/// Starts `function` with `input` and waits for its result; returns the time it took.
async fn call(api: &ApiClient, function: &str, input: &Value) -> anyhow::Result<Duration> {
    let started = Instant::now();
    let view = post_invocation(api, function, input, Some(300.0)).await?;
    if view.state != "completed" {
        bail!("{function} ended {}: {:?}", view.state, view.error);
    }
    Ok(started.elapsed())
}

/// One call's time, split by the invocation's own timestamps.
struct Spans {
    total: Duration,
    /// How long the function saw itself sleep (`alarm`'s `slept_micros`), if it says.
    slept: Option<Duration>,
    to_created: Duration,
    running: Duration,
    to_received: Duration,
}

/// Calls `function` and splits its time at the invocation's creation and end.
async fn timed_call(api: &ApiClient, function: &str, input: &Value) -> anyhow::Result<Spans> {
    let (sent, started) = (SystemTime::now(), Instant::now());
    let view = post_invocation(api, function, input, Some(300.0)).await?;
    let total = started.elapsed();
    let received = sent + total;
    let at = |text: &str| humantime::parse_rfc3339(text).context("a host timestamp");
    let created = at(&view.created_at)?;
    let finished = at(view.finished_at.as_deref().context("unfinished")?)?;
    let since =
        |later: SystemTime, earlier: SystemTime| later.duration_since(earlier).unwrap_or_default();
    let slept = view
        .output
        .as_ref()
        .and_then(|o| o["slept_micros"].as_u64());
    Ok(Spans {
        total,
        slept: slept.map(Duration::from_micros),
        to_created: since(created, sent),
        running: since(finished, created),
        to_received: since(received, finished),
    })
}

fn sorted(times: impl Iterator<Item = Duration>) -> Vec<Duration> {
    let mut times: Vec<Duration> = times.collect();
    times.sort_unstable();
    times
}

/// Runs `count` calls of `function` with `clients` concurrent clients; returns each call's
/// time, sorted, and the wall time of the whole run.
async fn calls(
    api: &Arc<ApiClient>,
    function: &str,
    input: Value,
    count: usize,
    clients: usize,
) -> anyhow::Result<(Vec<Duration>, Duration)> {
    let (api, function, input) = (api.clone(), Arc::new(function.to_string()), Arc::new(input));
    let started = Instant::now();
    let mut times = parallel(count, clients, move |_| {
        let (api, function, input) = (api.clone(), function.clone(), input.clone());
        async move { call(&api, &function, &input).await }
    })
    .await?;
    let wall = started.elapsed();
    times.sort_unstable();
    Ok((times, wall))
}

/// The host's journal counters from `/metrics`: commits, writes, seconds applying, seconds
/// committing, seconds of those in the log, checkpoints, seconds in checkpoints.
async fn journal_counters(host: &Host) -> anyhow::Result<[f64; 7]> {
    let text = host.metrics().await;
    let read = |name: &str| {
        text.lines()
            .find_map(|line| line.strip_prefix(name)?.trim().parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    Ok([
        read("reprise_journal_commit_seconds_count "),
        read("reprise_journal_writes_total "),
        read("reprise_journal_apply_seconds_total "),
        read("reprise_journal_commit_seconds_sum "),
        read("reprise_journal_log_seconds_total "),
        read("reprise_journal_checkpoints_total "),
        read("reprise_journal_checkpoint_seconds_total "),
    ])
}

/// Describes the journal work between two readings of [`journal_counters`].
fn journal_work(before: [f64; 7], after: [f64; 7]) -> String {
    let [
        commits,
        writes,
        apply,
        commit,
        log,
        checkpoints,
        checkpointing,
    ] = std::array::from_fn(|i| after[i] - before[i]);
    let commits_nz = commits.max(1.0);
    format!(
        "{commits:.0} commits, {:.1} writes each, {:.0} µs applying + {:.0} µs committing each \
         (of which {:.0} µs writing and syncing the log); {checkpoints:.0} checkpoints, \
         {:.1} ms each",
        writes / commits_nz,
        apply / commits_nz * 1e6,
        commit / commits_nz * 1e6,
        log / commits_nz * 1e6,
        checkpointing / checkpoints.max(1.0) * 1e3
    )
}

fn p(times: &[Duration], q: f64) -> String {
    let d = percentile(times, q);
    if d < Duration::from_millis(1) {
        format!("{:.1} µs", d.as_secs_f64() * 1e6)
    } else {
        format!("{:.2} ms", d.as_secs_f64() * 1e3)
    }
}

/// A light tenant's latency, idle and while a heavy tenant floods the host.
async fn fairness(data: &std::path::Path, heavy: usize, light: usize) -> anyhow::Result<()> {
    let (host, light_api) = host_with_guests(data, &["--max-running", "64"]);
    let (key, _) = host.create_tenant("heavy");
    host.deploy_as(&key, "tg", "reprise_test_guests", None);
    let heavy_api = Arc::new(host.client_as(Some(&key)));
    calls(&light_api, "tg.echo", json!(1), 50, 1).await?; // warm up
    let (idle, _) = calls(&light_api, "tg.echo", json!(1), light, 1).await?;

    let started = Instant::now();
    let input = Arc::new(json!({"millis": 200}));
    parallel(heavy, 64, move |_| {
        let (api, input) = (heavy_api.clone(), input.clone());
        async move {
            post_invocation(&api, "tg.doze", &input, None)
                .await
                .map(drop)
        }
    })
    .await?;
    let submitted = started.elapsed();
    let (loaded, _) = calls(&light_api, "tg.echo", json!(1), light, 1).await?;
    let measured = started.elapsed();
    let stats: Value = host
        .client_as(Some(&key))
        .get("/v1/stats")
        .await
        .context("heavy's stats")?;
    println!(
        "fairness: a light tenant's sequential tg.echo, {light} calls, with 64 slots; a heavy \
         tenant submitted {heavy} tg.doze(200 ms) in {:.1} s",
        submitted.as_secs_f64()
    );
    println!("  idle:   p50 {}   p99 {}", p(&idle, 50.0), p(&idle, 99.0));
    println!(
        "  loaded: p50 {}   p99 {}   (measured {:.1}–{:.1} s after the flood began; heavy's counts then: {})",
        p(&loaded, 50.0),
        p(&loaded, 99.0),
        submitted.as_secs_f64(),
        measured.as_secs_f64(),
        stats["invocations"]
    );
    println!(
        "  p99 loaded / idle: {:.2}",
        percentile(&loaded, 99.0).as_secs_f64() / percentile(&idle, 99.0).as_secs_f64()
    );
    Ok(())
}

/// Bulk actions by filter at scale: how fast matches are counted and cancelled.
async fn lists(data: &std::path::Path, count: usize) -> anyhow::Result<()> {
    let (host, api) = host_with_guests(data, &["--max-running", "64"]);
    let started = Instant::now();
    let maker = api.clone();
    let ids = parallel(count, 64, move |i| {
        let api = maker.clone();
        async move {
            let (function, input) = match i % 1000 {
                999 => ("tg.fail_error", json!({"message": format!("user {i}")})),
                _ => ("tg.echo", json!({"user": i})),
            };
            Ok(post_invocation(&api, function, &input, None).await?.id)
        }
    })
    .await?;
    let deadline = Instant::now() + Duration::from_secs(3600);
    let stats = loop {
        let stats: Value = api.get("/v1/stats").await?;
        let n = |s: &str| stats["invocations"][s].as_u64().unwrap_or(0) as usize;
        if n("completed") + n("failed") >= count {
            break stats;
        }
        if Instant::now() > deadline {
            bail!("not all {count} finished within an hour: {stats}");
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    println!(
        "lists: {count} invocations made and finished in {:.1} s ({}); data {}, RSS {}",
        started.elapsed().as_secs_f64(),
        stats["invocations"],
        mib(stored_bytes(data)),
        host.pid().and_then(rss_bytes).map_or("?".into(), mib)
    );
    let middle = &ids[count / 2];
    let queries = [
        ("newest 50", "limit=50".to_string()),
        ("50 from halfway down", format!("limit=50&before={middle}")),
        (
            "failed: state=failed (index)",
            "limit=50&state=failed".to_string(),
        ),
        (
            "failed, halfway down (index)",
            format!("limit=50&state=failed&before={middle}"),
        ),
        (
            "failed: function=tg.fail_error (scan)",
            "limit=50&filter=function%3Dtg.fail_error".to_string(),
        ),
        (
            "one match: text in the input (scan, bounded)",
            format!("limit=50&text=%22user%22%3A{}%7D", count / 3),
        ),
    ];
    println!(
        "  {:<46} {:>10} {:>10} {:>6} {:>6}",
        "page", "p50", "p99", "found", "next"
    );
    for (name, query) in queries {
        let mut times = Vec::new();
        let mut found = (0, false);
        for _ in 0..20 {
            let started = Instant::now();
            let page: Value = api.get(&format!("/v1/invocations?{query}")).await?;
            times.push(started.elapsed());
            let listed = page["invocations"].as_array().map_or(0, Vec::len);
            found = (listed, page["next"].is_string());
        }
        times.sort_unstable();
        println!(
            "  {name:<46} {:>10} {:>10} {:>6} {:>6}",
            p(&times, 50.0),
            p(&times, 99.0),
            found.0,
            if found.1 { "yes" } else { "no" }
        );
    }
    Ok(())
}

async fn bulk(data: &std::path::Path, count: usize) -> anyhow::Result<()> {
    let (host, api) = host_with_guests(data, &[]);
    let started = Instant::now();
    let maker = api.clone();
    parallel(count, 64, move |_| {
        let api = maker.clone();
        async move {
            let input = json!({"names": ["never"]});
            post_invocation(&api, "tg.signals", &input, None)
                .await
                .map(drop)
        }
    })
    .await?;
    until_suspended(&api, count).await?;
    println!(
        "bulk: {count} tg.signals invocations suspended in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    for dry_run in [true, false] {
        let started = Instant::now();
        let (mut before, mut matched, mut done, mut pages) = (None::<String>, 0u64, 0u64, 0);
        loop {
            let body = json!({"action": "cancel", "filter": "state=suspended function=tg.signals",
                "dry_run": dry_run, "limit": 10_000, "before": before});
            let page: Value = api
                .call(
                    hyper::Method::POST,
                    "/v1/invocations/bulk",
                    "application/json",
                    body.to_string().into_bytes(),
                )
                .await
                .context("bulk page")?;
            pages += 1;
            matched += page["matched"].as_u64().unwrap_or(0);
            done += page["done"].as_u64().unwrap_or(0);
            match page["next"].as_str() {
                Some(next) => before = Some(next.to_string()),
                None => break,
            }
        }
        let secs = started.elapsed().as_secs_f64();
        println!(
            "  {}: {matched} matched, {done} cancelled, {pages} pages, in {secs:.2} s: {:.0} matches/s",
            if dry_run { "dry run" } else { "cancel " },
            matched as f64 / secs
        );
    }
    let stats: Value = api.get("/v1/stats").await.context("stats")?;
    println!(
        "  then: {}; host RSS {}",
        stats["invocations"],
        host.pid().and_then(rss_bytes).map_or("?".into(), mib)
    );
    Ok(())
}

async fn moves(
    data: &std::path::Path,
    migrations: usize,
    clients: usize,
    count: usize,
) -> anyhow::Result<()> {
    let key = data.with_extension("cluster-key");
    std::fs::write(&key, "bench-cluster-key-0123456789abcdef")?;
    let key = key.to_string_lossy().into_owned();
    let args = ["--cluster-key-file", key.as_str()];
    let (a, api) = host_with_guests(&data.join("a"), &args);
    let target_dir = data.join("b");
    let _ = std::fs::remove_dir_all(&target_dir);
    let b = Host::start_with(&target_dir, &args);
    let target = b.url.clone();
    // Far-off timers: nothing wakes while it moves.
    let make = |n: usize| {
        let api = api.clone();
        parallel(n, 64, move |_| {
            let api = api.clone();
            async move {
                let input = json!({"due_ms": now_ms() + 3_600_000});
                Ok(post_invocation(&api, "tg.wake_at", &input, None).await?.id)
            }
        })
    };
    let total = 2 * migrations;
    let ids = Arc::new(make(total).await?);
    until_suspended(&api, total).await?;
    println!("moves: {total} suspended invocations on the source");
    for (round, at_once) in [(0, 1), (1, clients)] {
        let (api, ids, to) = (api.clone(), ids.clone(), target.clone());
        let started = Instant::now();
        let times = parallel(migrations, at_once, move |i| {
            let (api, id, to) = (api.clone(), ids[round * migrations + i].clone(), to.clone());
            async move {
                let started = Instant::now();
                let body = json!({"to": to}).to_string().into_bytes();
                let path = format!("/v1/invocations/{id}/migrate");
                let _: Value = api
                    .call(hyper::Method::POST, &path, "application/json", body)
                    .await
                    .context("migrate")?;
                Ok(started.elapsed())
            }
        })
        .await?;
        let secs = started.elapsed().as_secs_f64();
        let times = sorted(times.into_iter());
        println!(
            "  migrate, {at_once} at a time: {migrations} in {secs:.2} s: {:.0} migrations/s; each p50 {} p99 {}",
            migrations as f64 / secs,
            p(&times, 0.5),
            p(&times, 0.99)
        );
    }
    make(count).await?;
    until_suspended(&api, count).await?;
    let admin = a.client_as(Some(&a.key_file(reprise::access::ADMIN_KEY_FILE)));
    let started = Instant::now();
    let body = json!({"to": target}).to_string().into_bytes();
    let _: Value = admin
        .call(hyper::Method::POST, "/v1/drain", "application/json", body)
        .await
        .context("drain")?;
    let progress = loop {
        let progress: Value = admin.get("/v1/drain").await.context("drain progress")?;
        if progress["done"].as_bool().unwrap_or(false) {
            break progress;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let secs = started.elapsed().as_secs_f64();
    println!(
        "  drain of {count} suspended: {} moved, {} left, in {secs:.2} s: {:.0} invocations/s",
        progress["moved"],
        progress["skipped"],
        progress["moved"].as_f64().unwrap_or(0.0) / secs
    );
    let stats: Value = b.client().get("/v1/stats").await.context("stats")?;
    println!(
        "  target then: {}; source RSS {}, target RSS {}",
        stats["invocations"],
        a.pid().and_then(rss_bytes).map_or("?".into(), mib),
        b.pid().and_then(rss_bytes).map_or("?".into(), mib)
    );
    Ok(())
}

/// Retention: disk and memory stay flat while finished work is swept as fast as it is made.
async fn retention_run(data: &std::path::Path, count: usize, retention: u64) -> anyhow::Result<()> {
    let (host, api) = host_with_guests(data, &["--sweep-every-secs", "1"]);
    host.cli_ok(&[
        "tenant",
        "set",
        "default",
        &format!("retention_secs={retention}"),
    ]);
    let pid = host.pid().context("host pid")?;
    println!(
        "retention: {count} tg.echo invocations (64 clients) with retention_secs={retention}, a sweep every second"
    );
    let started = Instant::now();
    let tenth = (count / 10).max(1);
    for part in 1..=10 {
        calls(&api, "tg.echo", json!(1), tenth, 64).await?;
        let stats: Value = api.get("/v1/stats").await.context("stats")?;
        println!(
            "  {:>8} done at {:>6.1} s: data {} (redb file {}), RSS {}, stored {} bytes, kept {}",
            tenth * part,
            started.elapsed().as_secs_f64(),
            mib(stored_bytes(data)),
            mib(std::fs::metadata(data.join("reprise.redb")).map_or(0, |m| m.len())),
            rss_bytes(pid).map_or("?".into(), mib),
            stats["stored_bytes"],
            stats["invocations"]
        );
    }
    Ok(())
}

/// Hostile loops: `loops` infinite loops of one tenant (its `run_ms` quota set to `run_ms`,
/// no rerun) while another tenant's sequential `tg.echo` is timed: on the idle host, while the
/// loops run, and once their limit has stopped every one.
async fn hostile_loops(
    data: &std::path::Path,
    loops: usize,
    run_ms: u64,
    light: usize,
) -> anyhow::Result<()> {
    let (host, light_api) = host_with_guests(data, &[]);
    let (key, _) = host.create_tenant("hostile");
    host.cli_ok(&["tenant", "set", "hostile", &format!("run_ms={run_ms}")]);
    let policy = r#"{"functions": {"spin": {"rerun": {"max_attempts": 1}}}}"#;
    host.deploy_as(&key, "tg", "reprise_test_guests", Some(policy));
    let hostile = Arc::new(host.client_as(Some(&key)));
    calls(&light_api, "tg.echo", json!(1), 50, 1).await?; // warm up
    let (idle, _) = calls(&light_api, "tg.echo", json!(1), light, 1).await?;

    let started = Instant::now();
    let api = hostile.clone();
    parallel(loops, 64, move |_| {
        let api = api.clone();
        async move {
            post_invocation(&api, "tg.spin", &json!(u64::MAX), None)
                .await
                .map(drop)
        }
    })
    .await?;
    let submitted = started.elapsed();
    let (during, _) = calls(&light_api, "tg.echo", json!(1), light.min(20), 1).await?;
    let failed = |stats: &Value| stats["invocations"]["failed"].as_u64().unwrap_or(0);
    let deadline = Instant::now() + Duration::from_secs(1800);
    let stats = loop {
        let stats: Value = hostile.get("/v1/stats").await.context("stats")?;
        if failed(&stats) >= loops as u64 {
            break stats;
        }
        if Instant::now() > deadline {
            bail!("the loops were not all stopped within 30 minutes: {stats}");
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    let stopped = started.elapsed();
    let list: Value = hostile
        .get("/v1/invocations?limit=1")
        .await
        .context("a loop")?;
    let why = list["invocations"][0]["error"]["message"].clone();
    let (after, _) = calls(&light_api, "tg.echo", json!(1), light, 1).await?;
    println!(
        "hostile loops: {loops} tg.spin(forever) of one tenant with run_ms={run_ms}, submitted in \
         {:.1} s, all stopped after {:.1} s ({}: {why}); another tenant's sequential tg.echo:",
        submitted.as_secs_f64(),
        stopped.as_secs_f64(),
        stats["invocations"]
    );
    println!(
        "  idle:          p50 {}   p99 {}",
        p(&idle, 50.0),
        p(&idle, 99.0)
    );
    println!(
        "  loops running: p50 {}   p99 {}   ({} calls)",
        p(&during, 50.0),
        p(&during, 99.0),
        during.len()
    );
    println!(
        "  loops stopped: p50 {}   p99 {}",
        p(&after, 50.0),
        p(&after, 99.0)
    );
    println!(
        "  p50 stopped / idle: {:.2}   p99: {:.2}   host RSS {}",
        percentile(&after, 50.0).as_secs_f64() / percentile(&idle, 50.0).as_secs_f64(),
        percentile(&after, 99.0).as_secs_f64() / percentile(&idle, 99.0).as_secs_f64(),
        host.pid().and_then(rss_bytes).map_or("?".into(), mib)
    );
    Ok(())
}

/// Uploads under abuse: `count` uploads of `size_mib` MiB at once (a component header, then
/// zeros), each streamed by raw TCP as fast as the host reads it: the answers, how much each
/// sent before its answer, and the host's peak resident memory before and after.
async fn uploads(data: &std::path::Path, count: usize, size_mib: u64) -> anyhow::Result<()> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let (host, _) = host_with_guests(data, &[]);
    let pid = host.pid().context("host pid")?;
    let peak_before = peak_rss_bytes(pid).unwrap_or(0);
    let addr = host
        .url
        .strip_prefix("http://")
        .context("host url")?
        .to_string();
    let key = Arc::new(host.key_file("default.key"));
    let size = size_mib * 1024 * 1024;
    let started = Instant::now();
    let answers = parallel(count, count, move |i| {
        let (addr, key) = (addr.clone(), key.clone());
        async move {
            let mut stream = tokio::net::TcpStream::connect(addr.as_str()).await?;
            let head = format!(
                "PUT /v1/deployments/up{i} HTTP/1.1\r\nHost: bench\r\nAuthorization: Bearer {key}\r\n\
                 Content-Type: application/wasm\r\nContent-Length: {size}\r\nConnection: close\r\n\r\n"
            );
            stream.write_all(head.as_bytes()).await?;
            let mut chunk = vec![0u8; 1024 * 1024];
            chunk[..8].copy_from_slice(b"\0asm\x0d\0\x01\0");
            let mut sent = 0u64;
            while sent < size {
                if stream.write_all(&chunk).await.is_err() {
                    break; // answered and closed
                }
                sent += chunk.len() as u64;
                chunk[..8].fill(0);
            }
            let mut answer = Vec::new();
            let read = tokio::time::timeout(
                Duration::from_secs(120),
                stream.read_to_end(&mut answer),
            )
            .await;
            let status = match read {
                Ok(_) => String::from_utf8_lossy(&answer)
                    .split_whitespace()
                    .nth(1)
                    .unwrap_or("none")
                    .to_string(),
                Err(_) => "timeout".to_string(),
            };
            anyhow::Ok((status, sent))
        }
    })
    .await?;
    let wall = started.elapsed();
    let peak_after = peak_rss_bytes(pid).unwrap_or(0);
    let mut by_status = std::collections::BTreeMap::<String, usize>::new();
    for (status, _) in &answers {
        *by_status.entry(status.clone()).or_default() += 1;
    }
    let mut sent: Vec<u64> = answers.iter().map(|(_, s)| *s).collect();
    sent.sort_unstable();
    println!(
        "uploads: {count} × {size_mib} MiB at once in {:.1} s; answers {by_status:?}; sent before \
         the answer: median {}, most {}",
        wall.as_secs_f64(),
        mib(percentile(&sent, 50.0)),
        mib(sent.last().copied().unwrap_or(0))
    );
    println!(
        "  host peak RSS (VmHWM): {} before, {} after; RSS now {}",
        mib(peak_before),
        mib(peak_after),
        rss_bytes(pid).map_or("?".into(), mib)
    );
    Ok(())
}

/// A host on a fresh `data` with the test guests deployed, and a client of its API.
fn host_with_guests(data: &std::path::Path, args: &[&str]) -> (Host, Arc<ApiClient>) {
    if data.exists() {
        let _ = std::fs::remove_dir_all(data);
    }
    let host = Host::start_with(data, args);
    host.deploy("tg", "reprise_test_guests");
    let api = Arc::new(host.client());
    (host, api)
}

/// Start cost, in process.
async fn start(count: usize) -> anyhow::Result<()> {
    use reprise::host_calls::Steps;
    use reprise::runtime::{Components, new_engine};
    let bytes = std::fs::read(reprise_tests::host::guest("reprise_test_guests"))?;
    let engine = new_engine(Some(64))?;
    let components = Components::new(engine, None)?;
    let prepared = components
        .prepare(Arc::new(bytes))
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let mut times = Vec::with_capacity(count);
    for _ in 0..count {
        let started = Instant::now();
        let mut store =
            components.new_store(Steps::discovery(), &reprise::journal::Limits::DEFAULT);
        let instance = prepared.pre.instantiate_async(&mut store).await?;
        let output = instance
            .reprise_function_guest()
            .call_call(&mut store, "echo", b"1")
            .await?;
        times.push(started.elapsed());
        if output.is_err() {
            bail!("echo failed: {output:?}");
        }
    }
    times.sort_unstable();
    println!("start cost: new store + instantiate (pre-instantiated) + call `echo`, {count} calls");
    println!("  p50 {}   p99 {}", p(&times, 50.0), p(&times, 99.0));
    Ok(())
}

/// API round trip.
async fn api(data: &std::path::Path, count: usize) -> anyhow::Result<()> {
    let (host, api) = host_with_guests(data, &[]);
    let input = json!(1);
    calls(&api, "tg.echo", input.clone(), 200, 1).await?; // warm up
    let mut floor = Vec::with_capacity(count);
    for _ in 0..count {
        let started = Instant::now();
        let _: Value = api.get("/v1/health").await?;
        floor.push(started.elapsed());
    }
    floor.sort_unstable();
    println!(
        "HTTP floor: GET /v1/health, sequential: p50 {}   p99 {}",
        p(&floor, 50.0),
        p(&floor, 99.0)
    );
    let durable = durable_floor(&data.join("floor.log"), count).await?;
    println!(
        "durable floor: POST of a 100-byte body to a bare server that writes and syncs it \
         before answering, sequential: p50 {}   p99 {}",
        p(&durable, 50.0),
        p(&durable, 99.0)
    );
    println!("API round trip: POST /v1/invocations?wait (tg.echo), {count} invocations");
    for clients in [1, 64] {
        let before = journal_counters(&host).await?;
        let (times, wall) = calls(&api, "tg.echo", input.clone(), count, clients).await?;
        println!(
            "  {clients:>2} client(s): p50 {}   p99 {}   ({:.0} invocations/s)",
            p(&times, 50.0),
            p(&times, 99.0),
            count as f64 / wall.as_secs_f64()
        );
        let after = journal_counters(&host).await?;
        println!("      journal: {}", journal_work(before, after));
    }
    Ok(())
}

/// Sequential round trips to a [`DurableFloor`] server writing to `file`, sorted.
async fn durable_floor(file: &std::path::Path, count: usize) -> anyhow::Result<Vec<Duration>> {
    let floor = DurableFloor::start(file)?;
    let client = ApiClient::new(&floor.url);
    let body = vec![b'x'; 100];
    let mut times = Vec::with_capacity(count);
    for i in 0..count + 200 {
        let started = Instant::now();
        let (status, _) = client
            .raw(hyper::Method::POST, "/", "text/plain", body.clone())
            .await?;
        if !status.is_success() {
            bail!("the durable floor server answered {status}");
        }
        if i >= 200 {
            times.push(started.elapsed());
        }
    }
    times.sort_unstable();
    Ok(times)
}

/// Durable steps per second for C×K, group commit vs one transaction per write.
async fn steps(
    data: &std::path::Path,
    cs: &[usize],
    ks: &[u32],
    group_only: bool,
) -> anyhow::Result<()> {
    println!("durable steps: C invocations at once, each taking K journaled steps (random bytes)");
    println!(
        "  {:>5} {:>4}   {:>16}   {:>22}   ratio",
        "C", "K", "group commit", "a transaction per write"
    );
    for &c in cs {
        for &k in ks {
            let mut rates = Vec::new();
            let mut work = String::new();
            for args in [&[][..], &["--commit-batch", "1", "--no-log"][..]] {
                // One transaction per write is slow: measure it on the smaller runs only.
                if !args.is_empty() && (group_only || c * k as usize > 10_240) {
                    rates.push(None);
                    continue;
                }
                let (host, api) = host_with_guests(data, args);
                // Warm up: C connections open and the component instantiated once per client,
                // as a service calling the host would keep them.
                calls(&api, "tg.random_steps", json!({"count": 0}), c, c).await?;
                let rounds = (10_240 / (c * k as usize)).clamp(1, 20);
                let input = json!({"count": k});
                let before = journal_counters(&host).await?;
                let (_, wall) = calls(&api, "tg.random_steps", input, c * rounds, c).await?;
                rates.push(Some((c * rounds * k as usize) as f64 / wall.as_secs_f64()));
                if args.is_empty() {
                    work = journal_work(before, journal_counters(&host).await?);
                }
                drop(host);
            }
            let shown = |r: Option<f64>| r.map_or("—".to_string(), |r| format!("{r:.0}/s"));
            let ratio = match (rates[0], rates[1]) {
                (Some(a), Some(b)) => format!("{:.1}×", a / b),
                _ => "—".to_string(),
            };
            println!(
                "  {c:>5} {k:>4}   {:>16}   {:>22}   {ratio}",
                shown(rates[0]),
                shown(rates[1])
            );
            println!("                journal (group commit): {work}");
        }
    }
    Ok(())
}

/// 64 concurrent 100 ms sleeps.
async fn timers(data: &std::path::Path) -> anyhow::Result<()> {
    let (_host, api) = host_with_guests(data, &[]);
    println!("timer accuracy: 64 invocations sleeping 100 ms at once, invoke-to-result time");
    for (function, what) in [
        ("tg.doze", "sleep only (clock read, wait)"),
        ("tg.alarm", "clock read, sleep, clock read"),
    ] {
        calls(&api, function, json!({"millis": 100}), 64, 64).await?; // warm up
        let (api, input) = (api.clone(), Arc::new(json!({"millis": 100})));
        let spans = parallel(64, 64, move |_| {
            let (api, input) = (api.clone(), input.clone());
            async move { timed_call(&api, function, &input).await }
        })
        .await?;
        let total = sorted(spans.iter().map(|s| s.total));
        println!(
            "  {what:<30} p50 {}   p99 {}",
            p(&total, 50.0),
            p(&total, 99.0)
        );
        // Where the time goes, by the host's clock (ms resolution).
        let part = |f: fn(&Spans) -> Duration| {
            let times = sorted(spans.iter().map(f));
            format!("p50 {} p99 {}", p(&times, 50.0), p(&times, 99.0))
        };
        println!(
            "  {:<30} sent → created {}; created → finished {}; finished → received {}",
            "",
            part(|s| s.to_created),
            part(|s| s.running),
            part(|s| s.to_received)
        );
        let slept = sorted(spans.iter().filter_map(|s| s.slept));
        if !slept.is_empty() {
            println!(
                "  {:<30} the sleep as the function saw it (its clock read to the one after): p50 {} p99 {}",
                "",
                p(&slept, 50.0),
                p(&slept, 99.0)
            );
        }
    }
    Ok(())
}

/// RSS after many completed invocations.
async fn memory(data: &std::path::Path, count: usize) -> anyhow::Result<()> {
    let (host, api) = host_with_guests(data, &[]);
    let pid = host.pid().context("host pid")?;
    let before = rss_bytes(pid).unwrap_or(0);
    println!("host RSS: {} with the component deployed", mib(before));
    // In quarters, to show whether memory follows the number completed.
    for quarter in 1..=4 {
        calls(&api, "tg.echo", json!(1), count / 4, 64).await?;
        settle().await;
        let after = rss_bytes(pid).unwrap_or(0);
        println!(
            "  after {:>7} completed invocations: {}",
            count / 4 * quarter,
            mib(after)
        );
    }
    Ok(())
}

/// Replay rate of a long journal, and bytes per journal entry.
async fn replay(data: &std::path::Path, entries: u32) -> anyhow::Result<()> {
    /// Sleeps after the steps: each wake-up replays the whole journal once.
    const RESUMES: u32 = 5;
    let (host, api) = host_with_guests(data, &[]);
    let disk_before = stored_bytes(data);
    let input = json!({"count": entries, "sleep_ms": 1500, "sleeps": RESUMES});
    let view = post_invocation(&api, "tg.random_steps", &input, None).await?;
    let path = format!("/v1/invocations/{}", view.id);
    let live = Instant::now();
    let state = |api: Arc<ApiClient>, path: String| async move {
        let view: InvocationView = api.get(&path).await?;
        anyhow::Ok(view.state)
    };
    while state(api.clone(), path.clone()).await? != "suspended" {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let live = live.elapsed();
    let disk_after = stored_bytes(data);
    // Each resume: from the first poll that sees it awake to the first that sees it
    // suspended again (or completed, after the last sleep).
    let mut resumes = Vec::new();
    for _ in 0..RESUMES {
        while state(api.clone(), path.clone()).await? == "suspended" {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        let woke = Instant::now();
        while !matches!(
            state(api.clone(), path.clone()).await?.as_str(),
            "suspended" | "completed"
        ) {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        resumes.push(woke.elapsed());
    }
    drop(host);
    println!("replay: one invocation with {entries} journal entries (8 random bytes each)");
    println!(
        "  taken live in {:.1?} ({:.0} sequential durable steps/s)",
        live,
        f64::from(entries) / live.as_secs_f64()
    );
    let rate = |d: &Duration| f64::from(entries) / d.as_secs_f64();
    let shown: Vec<String> = resumes
        .iter()
        .map(|d| format!("{d:.1?} ({:.0}/s)", rate(d)))
        .collect();
    println!(
        "  resumed {RESUMES} times (load journal, instantiate, replay, journal the next wait): {}",
        shown.join(", ")
    );
    let resumes = sorted(resumes.into_iter());
    println!(
        "  median {:.0} entries/s, best {:.0} entries/s",
        rate(&resumes[resumes.len() / 2]),
        rate(&resumes[0])
    );
    println!(
        "  disk: {:.0} bytes per entry (file growth / entries; the payload is 8 bytes)",
        disk_after.saturating_sub(disk_before) as f64 / f64::from(entries)
    );
    Ok(())
}
