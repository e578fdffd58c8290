//! Process-wide counters and the Prometheus text rendering of `/metrics`.
//!
//! A leaf: every concern writes its counters here (and hands in snapshots of what it
//! tracks, such as [`DestinationStats`]), and this module depends on none of them.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

/// Upper bounds (seconds) of the journal commit latency histogram.
const COMMIT_BUCKETS: [f64; 12] = [
    0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
];

/// A per-tenant counter: name, help, and how to read it.
type TenantCounter = (&'static str, &'static str, fn(&TenantCounters) -> u64);

/// A per-destination gauge: name, help, and how to read it.
type Gauge = (&'static str, &'static str, fn(&DestinationStats) -> f64);

/// A figure snapshot of one destination, for metrics.
#[derive(Clone, Debug)]
pub struct DestinationStats {
    /// Tenant.
    pub tenant: String,
    /// `host:port`.
    pub destination: String,
    /// The current concurrency limit.
    pub limit: f64,
    /// Requests being sent now.
    pub in_flight: u32,
    /// Requests waiting in memory for a permit.
    pub queued: u32,
    /// `closed`, `open` or `half_open`.
    pub breaker: &'static str,
}

/// What one tenant's invocations did, for `/metrics`.
#[derive(Clone, Copy, Debug, Default)]
struct TenantCounters {
    steps_live: u64,
    http_attempts: u64,
    quota_refusals: u64,
}

/// The counters.
pub struct Metrics {
    /// Per tenant (a step taken live costs far more than this lock).
    tenants: Mutex<BTreeMap<String, TenantCounters>>,
    steps_live: AtomicU64,
    steps_replayed: AtomicU64,
    http_attempts: AtomicU64,
    http_retries: AtomicU64,
    commits: AtomicU64,
    commit_writes: AtomicU64,
    apply_micros: AtomicU64,
    log_micros: AtomicU64,
    commit_micros: AtomicU64,
    checkpoints: AtomicU64,
    checkpoint_micros: AtomicU64,
    commit_buckets: [AtomicU64; COMMIT_BUCKETS.len()],
}

/// The counters of this process.
pub static METRICS: Metrics = Metrics {
    tenants: Mutex::new(BTreeMap::new()),
    steps_live: AtomicU64::new(0),
    steps_replayed: AtomicU64::new(0),
    http_attempts: AtomicU64::new(0),
    http_retries: AtomicU64::new(0),
    commits: AtomicU64::new(0),
    commit_writes: AtomicU64::new(0),
    apply_micros: AtomicU64::new(0),
    log_micros: AtomicU64::new(0),
    commit_micros: AtomicU64::new(0),
    checkpoints: AtomicU64::new(0),
    checkpoint_micros: AtomicU64::new(0),
    commit_buckets: [const { AtomicU64::new(0) }; COMMIT_BUCKETS.len()],
};

impl Metrics {
    /// A step of `tenant` was journaled live.
    pub fn step_live(&self, tenant: &str) {
        self.steps_live.fetch_add(1, Ordering::Relaxed);
        self.for_tenant(tenant, |c| c.steps_live += 1);
    }

    /// Something of `tenant` was refused or stopped by one of its quotas.
    pub fn quota_refused(&self, tenant: &str) {
        self.for_tenant(tenant, |c| c.quota_refusals += 1);
    }

    fn for_tenant(&self, tenant: &str, f: impl FnOnce(&mut TenantCounters)) {
        let mut all = self.tenants.lock().unwrap_or_else(PoisonError::into_inner);
        match all.get_mut(tenant) {
            Some(counters) => f(counters),
            None => f(all.entry(tenant.to_string()).or_default()),
        }
    }

    /// A step was replayed from the journal.
    pub fn step_replayed(&self) {
        self.steps_replayed.fetch_add(1, Ordering::Relaxed);
    }

    /// An HTTP request of `tenant` was sent (one attempt).
    pub fn http_attempt(&self, tenant: &str) {
        self.http_attempts.fetch_add(1, Ordering::Relaxed);
        self.for_tenant(tenant, |c| c.http_attempts += 1);
    }

    /// An HTTP attempt failed transiently and will be retried.
    pub fn http_retry(&self) {
        self.http_retries.fetch_add(1, Ordering::Relaxed);
    }

    /// A checkpoint (a durable redb commit) took `took`, within a commit.
    pub fn checkpoint(&self, took: Duration) {
        self.checkpoints.fetch_add(1, Ordering::Relaxed);
        self.checkpoint_micros
            .fetch_add(took.as_micros() as u64, Ordering::Relaxed);
    }

    /// A journal transaction of `writes` ops, applied in `applying`, committed in `took`
    /// outside the apply (of which `logging` writing and syncing the write-ahead log; the
    /// disk writes the record while the batch applies).
    pub fn commit(&self, writes: usize, applying: Duration, logging: Duration, took: Duration) {
        self.log_micros
            .fetch_add(logging.as_micros() as u64, Ordering::Relaxed);
        self.commits.fetch_add(1, Ordering::Relaxed);
        self.commit_writes
            .fetch_add(writes as u64, Ordering::Relaxed);
        self.apply_micros
            .fetch_add(applying.as_micros() as u64, Ordering::Relaxed);
        self.commit_micros
            .fetch_add(took.as_micros() as u64, Ordering::Relaxed);
        let secs = took.as_secs_f64();
        if let Some(at) = COMMIT_BUCKETS.iter().position(|bound| secs <= *bound) {
            self.commit_buckets[at].fetch_add(1, Ordering::Relaxed);
        }
    }

    /// The Prometheus text exposition of these counters, invocation `counts` by (tenant,
    /// state) and `destinations`.
    pub fn render(
        &self,
        counts: &[(String, &str, u64)],
        destinations: &[DestinationStats],
    ) -> String {
        let mut out = String::new();
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        let _ = writeln!(out, "# HELP reprise_invocations Invocations by state.");
        let _ = writeln!(out, "# TYPE reprise_invocations gauge");
        for (tenant, state, n) in counts {
            let _ = writeln!(
                out,
                "reprise_invocations{{tenant=\"{}\",state=\"{}\"}} {n}",
                escape(tenant),
                state
            );
        }
        let _ = writeln!(
            out,
            "# HELP reprise_steps_total Journal steps, live or replayed."
        );
        let _ = writeln!(out, "# TYPE reprise_steps_total counter");
        let _ = writeln!(
            out,
            "reprise_steps_total{{mode=\"live\"}} {}",
            get(&self.steps_live)
        );
        let _ = writeln!(
            out,
            "reprise_steps_total{{mode=\"replayed\"}} {}",
            get(&self.steps_replayed)
        );
        counter(
            &mut out,
            "reprise_http_attempts_total",
            "HTTP requests sent.",
            get(&self.http_attempts),
        );
        counter(
            &mut out,
            "reprise_http_retries_total",
            "HTTP attempts that failed transiently and were retried.",
            get(&self.http_retries),
        );
        let gauges: [Gauge; 3] = [
            (
                "reprise_destination_limit",
                "Adaptive concurrency limit per destination.",
                |d| d.limit,
            ),
            (
                "reprise_destination_in_flight",
                "Requests in flight per destination.",
                |d| f64::from(d.in_flight),
            ),
            (
                "reprise_destination_queued",
                "Requests waiting in memory for a permit per destination.",
                |d| f64::from(d.queued),
            ),
        ];
        for (name, help, value) in gauges {
            let _ = writeln!(out, "# HELP {name} {help}");
            let _ = writeln!(out, "# TYPE {name} gauge");
            for d in destinations {
                let _ = writeln!(out, "{name}{{{}}} {}", labels(d), value(d));
            }
        }
        let _ = writeln!(
            out,
            "# HELP reprise_destination_breaker Circuit breaker state per destination (1 for the current state)."
        );
        let _ = writeln!(out, "# TYPE reprise_destination_breaker gauge");
        for d in destinations {
            for state in ["closed", "open", "half_open"] {
                let _ = writeln!(
                    out,
                    "reprise_destination_breaker{{{},state=\"{state}\"}} {}",
                    labels(d),
                    u8::from(d.breaker == state)
                );
            }
        }
        let _ = writeln!(
            out,
            "# HELP reprise_journal_commit_seconds Latency of durable journal commits."
        );
        let _ = writeln!(out, "# TYPE reprise_journal_commit_seconds histogram");
        let mut cumulative = 0;
        for (bound, bucket) in COMMIT_BUCKETS.iter().zip(&self.commit_buckets) {
            cumulative += get(bucket);
            let _ = writeln!(
                out,
                "reprise_journal_commit_seconds_bucket{{le=\"{bound}\"}} {cumulative}"
            );
        }
        let commits = get(&self.commits);
        let _ = writeln!(
            out,
            "reprise_journal_commit_seconds_bucket{{le=\"+Inf\"}} {commits}"
        );
        let _ = writeln!(
            out,
            "reprise_journal_commit_seconds_sum {}",
            get(&self.commit_micros) as f64 / 1e6
        );
        let _ = writeln!(out, "reprise_journal_commit_seconds_count {commits}");
        counter(
            &mut out,
            "reprise_journal_writes_total",
            "Writes committed (several per commit with group commit).",
            get(&self.commit_writes),
        );
        counter(
            &mut out,
            "reprise_journal_apply_seconds_total",
            "Time spent applying writes before their commits.",
            get(&self.apply_micros) as f64 / 1e6,
        );
        counter(
            &mut out,
            "reprise_journal_checkpoints_total",
            "Durable redb commits (checkpoints of the write-ahead log).",
            get(&self.checkpoints),
        );
        counter(
            &mut out,
            "reprise_journal_checkpoint_seconds_total",
            "Time spent in checkpoints, within commits.",
            get(&self.checkpoint_micros) as f64 / 1e6,
        );
        counter(
            &mut out,
            "reprise_journal_log_seconds_total",
            "Time spent writing and syncing the write-ahead log, within commits.",
            get(&self.log_micros) as f64 / 1e6,
        );
        let tenants = self
            .tenants
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        let per_tenant: [TenantCounter; 3] = [
            (
                "reprise_tenant_steps_live_total",
                "Steps journaled live, by tenant.",
                |c| c.steps_live,
            ),
            (
                "reprise_tenant_http_attempts_total",
                "HTTP requests sent, by tenant.",
                |c| c.http_attempts,
            ),
            (
                "reprise_tenant_quota_refusals_total",
                "Requests refused and runs stopped by a quota, by tenant.",
                |c| c.quota_refusals,
            ),
        ];
        for (name, help, read) in per_tenant {
            let _ = writeln!(out, "# HELP {name} {help}");
            let _ = writeln!(out, "# TYPE {name} counter");
            for (tenant, counters) in &tenants {
                let _ = writeln!(
                    out,
                    "{name}{{tenant=\"{}\"}} {}",
                    escape(tenant),
                    read(counters)
                );
            }
        }
        out
    }
}

/// Writes counter `name` without labels: its help, type and `value`.
fn counter(out: &mut String, name: &str, help: &str, value: impl std::fmt::Display) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} counter");
    let _ = writeln!(out, "{name} {value}");
}

fn labels(d: &DestinationStats) -> String {
    format!(
        "tenant=\"{}\",destination=\"{}\"",
        escape(&d.tenant),
        escape(&d.destination)
    )
}

/// A label value with `\`, `"` and newlines escaped.
fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}
