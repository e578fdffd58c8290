//! The group-commit writer: one thread owns every write transaction.
//!
//! Callers send an [`Op`] with an acknowledgement channel. The writer takes everything that is
//! waiting (up to [`MAX_BATCH`]), applies it in one transaction, commits it durably once, and
//! only then acknowledges each op. No caller learns that a write happened before it is on disk.

use std::sync::Arc;

use redb::{Database, ReadableTable, WriteTransaction};
use tokio::sync::{mpsc, oneshot};

use super::codec::encode;
use super::records::{Deployment, InvocationRecord};
use super::records::{InvocationState, Wait};
use super::schema::{COMPONENTS, DEPLOYMENTS, INVOCATIONS, JOURNAL, RUNNABLE, TIMERS};

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
    /// redb failed; nothing of the batch was committed.
    #[error("storage failure: {0}")]
    Storage(String),
    /// The writer has stopped.
    #[error("the journal writer has stopped")]
    Closed,
}

/// One write.
pub(super) enum Op {
    /// Append a step at `seq`; refused if that position is taken.
    AppendStep {
        invocation: u128,
        seq: u32,
        entry: Vec<u8>,
    },
    /// Create (`create`) or update an invocation record and its index rows (runnable, timers).
    PutInvocation {
        record: Box<InvocationRecord>,
        create: bool,
    },
    /// Remove a timer row whose invocation no longer waits for it.
    RemoveTimer { due_ms: u64, invocation: u128 },
    /// Store a component (if not stored yet) and point a deployment at it.
    Deploy {
        deployment: Deployment,
        component: Vec<u8>,
    },
}

struct Request {
    op: Op,
    ack: oneshot::Sender<Result<(), WriteError>>,
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
    /// Starts the writer thread for `db`.
    pub fn start(db: Arc<Database>) -> std::io::Result<Self> {
        let (tx, rx) = mpsc::unbounded_channel();
        let handle = std::thread::Builder::new()
            .name("journal-writer".into())
            .spawn(move || run(db, rx))?;
        Ok(Writer {
            tx,
            _thread: Arc::new(JoinOnDrop(Some(handle))),
        })
    }

    /// Submits `op` and waits until it is durable (or refused).
    pub async fn submit(&self, op: Op) -> Result<(), WriteError> {
        let (ack, done) = oneshot::channel();
        self.tx
            .send(Request { op, ack })
            .map_err(|_| WriteError::Closed)?;
        done.await.map_err(|_| WriteError::Closed)?
    }
}

fn run(db: Arc<Database>, mut rx: mpsc::UnboundedReceiver<Request>) {
    let mut batch: Vec<Request> = Vec::with_capacity(MAX_BATCH);
    while let Some(first) = rx.blocking_recv() {
        batch.push(first);
        while batch.len() < MAX_BATCH {
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
fn commit_batch(db: &Database, batch: &[Request]) -> Vec<Result<(), WriteError>> {
    let storage = |e: &dyn std::fmt::Display| WriteError::Storage(e.to_string());
    let outcome = (|| -> Result<Vec<Result<(), WriteError>>, WriteError> {
        let mut txn = db.begin_write().map_err(|e| storage(&e))?;
        // Quick repair implies two-phase commit: a crash never leaves a torn commit, and
        // reopening after SIGKILL does not have to walk the whole file.
        txn.set_quick_repair(true);
        let results = batch
            .iter()
            .map(|req| apply(&txn, &req.op))
            .collect::<Result<Vec<_>, redb::Error>>()
            .map_err(|e| storage(&e))?;
        txn.commit().map_err(|e| storage(&e))?;
        Ok(results)
    })();
    match outcome {
        Ok(results) => results,
        Err(err) => batch.iter().map(|_| Err(err.clone())).collect(),
    }
}

/// Applies one op. Checks come before writes, so a refused op writes nothing.
/// The outer `Err` is a storage failure that aborts the whole batch.
fn apply(txn: &WriteTransaction, op: &Op) -> Result<Result<(), WriteError>, redb::Error> {
    match op {
        Op::AppendStep {
            invocation,
            seq,
            entry,
        } => {
            let mut journal = txn.open_table(JOURNAL)?;
            if journal.get((*invocation, *seq))?.is_some() {
                return Ok(Err(WriteError::StepTaken {
                    invocation: crate::ids::InvocationId(*invocation).to_string(),
                    seq: *seq,
                }));
            }
            journal.insert((*invocation, *seq), entry.as_slice())?;
        }
        Op::PutInvocation { record, create } => {
            let key = (record.tenant.as_str(), record.id.0);
            let mut invocations = txn.open_table(INVOCATIONS)?;
            let existing = invocations
                .get(key)?
                .map(|v| super::codec::decode::<InvocationRecord>("invocation", v.value()));
            let old = match (existing, create) {
                (Some(_), true) => {
                    return Ok(Err(WriteError::InvocationExists(record.id.to_string())));
                }
                (None, false) => {
                    return Ok(Err(WriteError::NoSuchInvocation(record.id.to_string())));
                }
                (Some(Ok(old)), false) if old.state.is_terminal() => {
                    return Ok(Err(WriteError::InvocationFinished(record.id.to_string())));
                }
                (Some(Ok(old)), false) => Some(old),
                _ => None,
            };
            invocations.insert(key, encode(record.as_ref()).as_slice())?;
            // The indexes follow the record: drop the old record's rows, add the new one's.
            let mut runnable = txn.open_table(RUNNABLE)?;
            let mut timers = txn.open_table(TIMERS)?;
            if let Some(Wait::Timer { due_ms }) = old.and_then(|o| o.waiting) {
                timers.remove((due_ms, record.id.0))?;
            }
            match record.state {
                InvocationState::Pending | InvocationState::Running => {
                    runnable.insert(key, ())?;
                }
                InvocationState::Suspended
                | InvocationState::Completed
                | InvocationState::Failed => {
                    runnable.remove(key)?;
                }
            }
            if let (InvocationState::Suspended, Some(Wait::Timer { due_ms })) =
                (record.state, record.waiting)
            {
                timers.insert((due_ms, record.id.0), record.tenant.as_str())?;
            }
        }
        Op::RemoveTimer { due_ms, invocation } => {
            txn.open_table(TIMERS)?.remove((*due_ms, *invocation))?;
        }
        Op::Deploy {
            deployment,
            component,
        } => {
            let mut components = txn.open_table(COMPONENTS)?;
            let hash = deployment.component.0;
            if components.get(hash.as_slice())?.is_none() {
                components.insert(hash.as_slice(), component.as_slice())?;
            }
            let mut deployments = txn.open_table(DEPLOYMENTS)?;
            let key = (deployment.tenant.as_str(), deployment.name.as_str());
            let previous = deployments
                .get(key)?
                .and_then(|v| super::codec::decode::<Deployment>("deployment", v.value()).ok())
                .map_or(0, |d| d.version);
            let stored = Deployment {
                version: previous + 1,
                ..deployment.clone()
            };
            deployments.insert(key, encode(&stored).as_slice())?;
        }
    }
    Ok(Ok(()))
}
