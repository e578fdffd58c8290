//! Process-wide counters and their Prometheus exposition at `/metrics` (prometheus-client).
//!
//! A leaf: every concern writes its counters here (and hands in snapshots of what it
//! tracks, such as [`DestinationStats`]), and this module depends on none of them. Counters
//! live for the process; what is a snapshot (invocations by state, destinations) is
//! registered afresh at each scrape.

use std::sync::LazyLock;
use std::sync::atomic::AtomicU64;
use std::time::Duration;

use prometheus_client::encoding::{EncodeLabelSet, EncodeLabelValue, LabelValueEncoder};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

/// The content type of [`Metrics::render`]'s text.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Upper bounds (seconds) of the journal commit latency histogram.
const COMMIT_BUCKETS: [f64; 12] = [
    0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
];

/// The states a destination's circuit breaker reports, one series each.
const BREAKER_STATES: [&str; 3] = ["closed", "open", "half_open"];

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

/// A label value from outside (a tenant, a destination), escaped as the text format asks:
/// the client writes values as given.
#[derive(Clone, Debug, Hash, PartialEq, Eq)]
struct Text(String);

impl EncodeLabelValue for Text {
    fn encode(&self, encoder: &mut LabelValueEncoder) -> Result<(), std::fmt::Error> {
        use std::fmt::Write as _;
        for c in self.0.chars() {
            match c {
                '\\' => encoder.write_str("\\\\")?,
                '"' => encoder.write_str("\\\"")?,
                '\n' => encoder.write_str("\\n")?,
                c => encoder.write_char(c)?,
            }
        }
        Ok(())
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct TenantLabels {
    tenant: Text,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ModeLabels {
    mode: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StateLabels {
    tenant: Text,
    state: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct DestinationLabels {
    tenant: Text,
    destination: Text,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct BreakerLabels {
    tenant: Text,
    destination: Text,
    state: &'static str,
}

/// A counter of seconds.
type Seconds = Counter<f64, AtomicU64>;

/// The counters.
pub struct Metrics {
    steps: Family<ModeLabels, Counter>,
    http_attempts: Counter,
    http_retries: Counter,
    commit_seconds: Histogram,
    commit_writes: Counter,
    apply_seconds: Seconds,
    log_seconds: Seconds,
    checkpoints: Counter,
    checkpoint_seconds: Seconds,
    tenant_steps_live: Family<TenantLabels, Counter>,
    tenant_http_attempts: Family<TenantLabels, Counter>,
    tenant_quota_refusals: Family<TenantLabels, Counter>,
}

/// The counters of this process.
pub static METRICS: LazyLock<Metrics> = LazyLock::new(Metrics::new);

/// The labels of `tenant`.
fn of(tenant: &str) -> TenantLabels {
    TenantLabels {
        tenant: Text(tenant.to_string()),
    }
}

impl Metrics {
    fn new() -> Self {
        Metrics {
            steps: Family::default(),
            http_attempts: Counter::default(),
            http_retries: Counter::default(),
            commit_seconds: Histogram::new(COMMIT_BUCKETS),
            commit_writes: Counter::default(),
            apply_seconds: Seconds::default(),
            log_seconds: Seconds::default(),
            checkpoints: Counter::default(),
            checkpoint_seconds: Seconds::default(),
            tenant_steps_live: Family::default(),
            tenant_http_attempts: Family::default(),
            tenant_quota_refusals: Family::default(),
        }
    }

    /// A step of `tenant` was journaled live.
    pub fn step_live(&self, tenant: &str) {
        self.steps.get_or_create(&ModeLabels { mode: "live" }).inc();
        self.tenant_steps_live.get_or_create(&of(tenant)).inc();
    }

    /// Something of `tenant` was refused or stopped by one of its quotas.
    pub fn quota_refused(&self, tenant: &str) {
        self.tenant_quota_refusals.get_or_create(&of(tenant)).inc();
    }

    /// A step was replayed from the journal.
    pub fn step_replayed(&self) {
        self.steps
            .get_or_create(&ModeLabels { mode: "replayed" })
            .inc();
    }

    /// An HTTP request of `tenant` was sent (one attempt).
    pub fn http_attempt(&self, tenant: &str) {
        self.http_attempts.inc();
        self.tenant_http_attempts.get_or_create(&of(tenant)).inc();
    }

    /// An HTTP attempt failed transiently and will be retried.
    pub fn http_retry(&self) {
        self.http_retries.inc();
    }

    /// A checkpoint (a durable redb commit) took `took`, within a commit.
    pub fn checkpoint(&self, took: Duration) {
        self.checkpoints.inc();
        self.checkpoint_seconds.inc_by(took.as_secs_f64());
    }

    /// A journal transaction of `writes` ops, applied in `applying`, committed in `took`
    /// outside the apply (of which `logging` writing and syncing the write-ahead log; the
    /// disk writes the record while the batch applies).
    pub fn commit(&self, writes: usize, applying: Duration, logging: Duration, took: Duration) {
        self.log_seconds.inc_by(logging.as_secs_f64());
        self.commit_writes.inc_by(writes as u64);
        self.apply_seconds.inc_by(applying.as_secs_f64());
        self.commit_seconds.observe(took.as_secs_f64());
    }

    /// The OpenMetrics text of these counters, invocation `counts` by (tenant, state) and
    /// `destinations`.
    pub fn render(
        &self,
        counts: &[(String, &'static str, u64)],
        destinations: &[DestinationStats],
    ) -> String {
        let mut registry = Registry::default();
        let invocations = Family::<StateLabels, Gauge>::default();
        for (tenant, state, n) in counts {
            let labels = StateLabels {
                tenant: Text(tenant.clone()),
                state,
            };
            invocations
                .get_or_create(&labels)
                .set(i64::try_from(*n).unwrap_or(i64::MAX));
        }
        registry.register(
            "reprise_invocations",
            "Invocations by tenant and state",
            invocations,
        );
        registry.register(
            "reprise_steps",
            "Journal steps, live or replayed",
            self.steps.clone(),
        );
        registry.register(
            "reprise_http_attempts",
            "HTTP requests sent",
            self.http_attempts.clone(),
        );
        registry.register(
            "reprise_http_retries",
            "HTTP attempts that failed transiently and were retried",
            self.http_retries.clone(),
        );
        register_destinations(&mut registry, destinations);
        registry.register(
            "reprise_journal_commit_seconds",
            "Latency of durable journal commits",
            self.commit_seconds.clone(),
        );
        registry.register(
            "reprise_journal_writes",
            "Writes committed (several per commit with group commit)",
            self.commit_writes.clone(),
        );
        registry.register(
            "reprise_journal_apply_seconds",
            "Time spent applying writes before their commits",
            self.apply_seconds.clone(),
        );
        registry.register(
            "reprise_journal_checkpoints",
            "Durable redb commits (checkpoints of the write-ahead log)",
            self.checkpoints.clone(),
        );
        registry.register(
            "reprise_journal_checkpoint_seconds",
            "Time spent in checkpoints, within commits",
            self.checkpoint_seconds.clone(),
        );
        registry.register(
            "reprise_journal_log_seconds",
            "Time spent writing and syncing the write-ahead log, within commits",
            self.log_seconds.clone(),
        );
        registry.register(
            "reprise_tenant_steps_live",
            "Steps journaled live, by tenant",
            self.tenant_steps_live.clone(),
        );
        registry.register(
            "reprise_tenant_http_attempts",
            "HTTP requests sent, by tenant",
            self.tenant_http_attempts.clone(),
        );
        registry.register(
            "reprise_tenant_quota_refusals",
            "Requests refused and runs stopped by a quota, by tenant",
            self.tenant_quota_refusals.clone(),
        );
        let mut text = String::new();
        // Writing to a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut text, &registry);
        text
    }
}

/// Registers the snapshot gauges of `destinations`: limit, in flight, queued, breaker state.
fn register_destinations(registry: &mut Registry, destinations: &[DestinationStats]) {
    let limit = Family::<DestinationLabels, Gauge<f64, AtomicU64>>::default();
    let in_flight = Family::<DestinationLabels, Gauge>::default();
    let queued = Family::<DestinationLabels, Gauge>::default();
    let breaker = Family::<BreakerLabels, Gauge>::default();
    for d in destinations {
        let labels = DestinationLabels {
            tenant: Text(d.tenant.clone()),
            destination: Text(d.destination.clone()),
        };
        limit.get_or_create(&labels).set(d.limit);
        in_flight.get_or_create(&labels).set(i64::from(d.in_flight));
        queued.get_or_create(&labels).set(i64::from(d.queued));
        for state in BREAKER_STATES {
            let labels = BreakerLabels {
                tenant: Text(d.tenant.clone()),
                destination: Text(d.destination.clone()),
                state,
            };
            breaker
                .get_or_create(&labels)
                .set(i64::from(d.breaker == state));
        }
    }
    registry.register(
        "reprise_destination_limit",
        "Adaptive concurrency limit per destination",
        limit,
    );
    registry.register(
        "reprise_destination_in_flight",
        "Requests in flight per destination",
        in_flight,
    );
    registry.register(
        "reprise_destination_queued",
        "Requests waiting in memory for a permit per destination",
        queued,
    );
    registry.register(
        "reprise_destination_breaker",
        "Circuit breaker state per destination (1 for the current state)",
        breaker,
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    fn value(text: &str, series: &str) -> Option<f64> {
        text.lines()
            .find_map(|line| line.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
    }

    #[test]
    fn counters_and_snapshots_render_as_openmetrics() {
        let metrics = Metrics::new();
        metrics.step_live("acme");
        metrics.step_live("acme");
        metrics.step_replayed();
        metrics.http_attempt("acme");
        metrics.quota_refused("globex");
        let ms = Duration::from_millis(3);
        metrics.commit(4, ms, ms, ms);
        let destination = DestinationStats {
            tenant: "acme".into(),
            destination: "crm.test:443".into(),
            limit: 12.5,
            in_flight: 3,
            queued: 7,
            breaker: "open",
        };
        let text = metrics.render(&[("acme".into(), "running", 2)], &[destination]);
        let odd = metrics.render(&[("a\"b\\c\nd".into(), "running", 1)], &[]);
        assert!(
            odd.contains(r#"reprise_invocations{tenant="a\"b\\c\nd",state="running"} 1"#),
            "{odd}"
        );
        let expect = [
            (
                "reprise_invocations{tenant=\"acme\",state=\"running\"}",
                2.0,
            ),
            ("reprise_steps_total{mode=\"live\"}", 2.0),
            ("reprise_steps_total{mode=\"replayed\"}", 1.0),
            ("reprise_http_attempts_total", 1.0),
            ("reprise_tenant_steps_live_total{tenant=\"acme\"}", 2.0),
            (
                "reprise_tenant_quota_refusals_total{tenant=\"globex\"}",
                1.0,
            ),
            ("reprise_journal_writes_total", 4.0),
            ("reprise_journal_commit_seconds_count", 1.0),
            ("reprise_journal_commit_seconds_bucket{le=\"0.005\"}", 1.0),
            ("reprise_journal_commit_seconds_bucket{le=\"0.002\"}", 0.0),
            (
                "reprise_destination_limit{tenant=\"acme\",destination=\"crm.test:443\"}",
                12.5,
            ),
            (
                "reprise_destination_queued{tenant=\"acme\",destination=\"crm.test:443\"}",
                7.0,
            ),
            (
                "reprise_destination_breaker{tenant=\"acme\",destination=\"crm.test:443\",state=\"open\"}",
                1.0,
            ),
            (
                "reprise_destination_breaker{tenant=\"acme\",destination=\"crm.test:443\",state=\"closed\"}",
                0.0,
            ),
        ];
        for (series, want) in expect {
            assert_eq!(value(&text, series), Some(want), "{series} in\n{text}");
        }
        let seconds = value(&text, "reprise_journal_apply_seconds_total").expect("apply");
        assert!((seconds - 0.003).abs() < 1e-9, "{text}");
        assert!(text.contains("# TYPE reprise_steps counter"), "{text}");
        assert!(text.ends_with("# EOF\n"), "{text}");
    }
}
