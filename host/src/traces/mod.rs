//! Traces: a span for each run of an invocation and for each step it takes live, exported to
//! an OpenTelemetry collector (OTLP over HTTP, JSON) when `serve --otlp-endpoint URL` is given;
//! off otherwise, and then it costs a branch per step.
//!
//! A span is made only for work done now: a step's span when its outcome is journaled, never
//! for a step replayed from the journal. So a crash, a suspension or a move, which replay an
//! invocation, never export a step's span twice. Every span of an invocation is in the trace
//! whose id is the invocation's id (both are 128 bits), so its runs, on whatever node, make one
//! trace. Spans wait in a bounded queue (spans past it are dropped and counted) and are sent in
//! batches; a collector that fails them is asked again a few times, then they are dropped.

mod otlp;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::sync::mpsc;

/// How many spans may wait to be sent.
const QUEUE: usize = 16_384;

/// An attribute's value.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    /// A string.
    Text(String),
    /// An integer.
    Int(i64),
}

/// One finished span.
#[derive(Clone, Debug)]
pub struct Span {
    /// The trace: the invocation's id.
    pub trace: u128,
    /// Its own id (never 0).
    pub id: u64,
    /// The span it is part of (a step's run).
    pub parent: Option<u64>,
    /// What it was, e.g. `run tg.steps` or `step 2 http`.
    pub name: String,
    /// When it started and ended (ns since the Unix epoch).
    pub start_ns: u64,
    pub end_ns: u64,
    /// What it was about.
    pub attributes: Vec<(&'static str, Value)>,
    /// Why it failed, if it did.
    pub error: Option<String>,
}

/// Where spans go: nowhere (off), or the exporter's queue.
#[derive(Clone, Debug, Default)]
pub struct Traces {
    queue: Option<mpsc::Sender<Span>>,
    dropped: Arc<AtomicU64>,
}

impl Traces {
    /// No traces.
    pub fn off() -> Self {
        Traces::default()
    }

    /// Exports to the OTLP/HTTP collector at `endpoint` (`http://HOST:PORT`; spans go to
    /// `/v1/traces` there), as service `service`; within a tokio runtime.
    pub fn to_collector(endpoint: &str, service: &str) -> Result<Self, otlp::BadEndpoint> {
        let exporter = otlp::Exporter::new(endpoint, service)?;
        let (queue, spans) = mpsc::channel(QUEUE);
        let dropped = Arc::new(AtomicU64::new(0));
        tokio::spawn(exporter.run(spans, dropped.clone()));
        Ok(Traces {
            queue: Some(queue),
            dropped,
        })
    }

    /// Whether spans are kept (so worth making).
    pub fn on(&self) -> bool {
        self.queue.is_some()
    }

    /// Queues `span` for export (dropped, and counted, if the queue is full).
    pub fn record(&self, span: Span) {
        if let Some(queue) = &self.queue
            && queue.try_send(span).is_err()
        {
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// How many spans were dropped: queue full, or the collector refused them.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }
}

/// A fresh span id.
pub fn span_id() -> u64 {
    loop {
        let id: u64 = rand::random();
        if id != 0 {
            return id;
        }
    }
}

/// Now, in ns since the Unix epoch.
pub fn now_ns() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
}
