//! The group-commit writer: one thread owns every write transaction.
//!
//! Callers send an [`Op`] with an acknowledgement channel. The writer takes everything that is
//! waiting (up to [`MAX_BATCH`]), applies it in one transaction, commits it durably once, and
//! only then acknowledges each op. No caller learns that a write happened before it is on disk.

use std::sync::Arc;

use redb::Database;
use tokio::sync::{mpsc, oneshot};

use super::apply::{Effects, Op, apply};

/// Most ops committed in one transaction.
pub const MAX_BATCH: usize = 4096;

/// Why a write was refused or lost.
#[derive(Debug, Clone, thiserror::Error)]
pub enum WriteError {
    /// The journal already holds an entry at this position; entries are never overwritten.
    #[error("journal of {invocation} already has step {seq}")]
    StepTaken { invocation: String, seq: u32 },
    /// An invocation with this id exists already.
    #[error("invocation {0} exists already")]
    InvocationExists(String),
    /// The invocation to update does not exist.
    #[error("invocation {0} does not exist")]
    NoSuchInvocation(String),
    /// The invocation has finished; its record no longer changes.
    #[error("invocation {0} has finished and cannot change")]
    InvocationFinished(String),
    /// The invocation is not pending or running, so it takes no steps (e.g. it was cancelled).
    #[error("invocation {0} is not running")]
    NotRunning(String),
    /// redb failed; nothing of the batch was committed.
    #[error("storage failure: {0}")]
    Storage(String),
    /// The writer has stopped.
    #[error("the journal writer has stopped")]
    Closed,
}

struct Request {
    op: Op,
    ack: oneshot::Sender<Result<Effects, WriteError>>,
}

/// Handle to the writer thread. When the last handle is dropped the thread finishes what is
/// queued, closes the database and is joined, so the file can be opened again at once.
#[derive(Clone)]
pub(super) struct Writer {
    tx: mpsc::UnboundedSender<Request>,
    _thread: Arc<JoinOnDrop>,
}

struct JoinOnDrop(Option<std::thread::JoinHandle<()>>);

impl Drop for JoinOnDrop {
    fn drop(&mut self) {
        // Runs after the last `tx` is gone (fields drop in order), so the thread ends.
        if let Some(handle) = self.0.take() {
            let _ = handle.join();
        }
    }
}

impl Writer {
    /// Starts the writer thread for `db`, committing at most `max_batch` ops per transaction.
    pub fn start(db: Arc<Database>, max_batch: usize) -> std::io::Result<Self> {
        let (tx, rx) = mpsc::unbounded_channel();
        let max_batch = max_batch.clamp(1, MAX_BATCH);
        let handle = std::thread::Builder::new()
            .name("journal-writer".into())
            .spawn(move || run(db, rx, max_batch))?;
        Ok(Writer {
            tx,
            _thread: Arc::new(JoinOnDrop(Some(handle))),
        })
    }

    /// Submits `op` and waits until it is durable (or refused); returns what it caused.
    pub async fn submit(&self, op: Op) -> Result<Effects, WriteError> {
        let (ack, done) = oneshot::channel();
        self.tx
            .send(Request { op, ack })
            .map_err(|_| WriteError::Closed)?;
        done.await.map_err(|_| WriteError::Closed)?
    }
}

fn run(db: Arc<Database>, mut rx: mpsc::UnboundedReceiver<Request>, max_batch: usize) {
    let mut batch: Vec<Request> = Vec::with_capacity(max_batch);
    while let Some(first) = rx.blocking_recv() {
        batch.push(first);
        while batch.len() < max_batch {
            match rx.try_recv() {
                Ok(req) => batch.push(req),
                Err(_) => break,
            }
        }
        let results = commit_batch(&db, &batch);
        for (req, result) in batch.drain(..).zip(results) {
            let _ = req.ack.send(result);
        }
    }
}

/// Applies every op of `batch` in one durable transaction; returns each op's result.
fn commit_batch(db: &Database, batch: &[Request]) -> Vec<Result<Effects, WriteError>> {
    let storage = |e: &dyn std::fmt::Display| WriteError::Storage(e.to_string());
    let outcome = (|| -> Result<Vec<Result<Effects, WriteError>>, WriteError> {
        let mut txn = db.begin_write().map_err(|e| storage(&e))?;
        // Quick repair implies two-phase commit: a crash never leaves a torn commit, and
        // reopening after SIGKILL does not have to walk the whole file.
        txn.set_quick_repair(true);
        let results = batch
            .iter()
            .map(|req| {
                let mut effects = Effects::default();
                Ok(apply(&txn, &req.op, &mut effects)?.map(|()| effects))
            })
            .collect::<Result<Vec<_>, redb::Error>>()
            .map_err(|e| storage(&e))?;
        let started = std::time::Instant::now();
        txn.commit().map_err(|e| storage(&e))?;
        crate::metrics::METRICS.commit(started.elapsed());
        Ok(results)
    })();
    match outcome {
        Ok(results) => results,
        Err(err) => batch.iter().map(|_| Err(err.clone())).collect(),
    }
}
