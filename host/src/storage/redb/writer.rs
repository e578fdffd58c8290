//! The group-commit writer: one thread owns every write transaction.
//!
//! Callers send an [`Op`] with an acknowledgement channel. The writer takes everything that is
//! waiting (up to [`MAX_BATCH`]) and applies it in one transaction. The batch becomes durable
//! in the write-ahead log (`wal`: one sequential write and sync) before the transaction commits
//! without an fsync; at most every `checkpoint_every` (or when the log is full, or the writer
//! is idle for a tenth of that) a batch commits durably in redb instead, and the log starts over. Only then is each
//! op acknowledged: no caller learns that a write happened before it is on disk, and no reader
//! sees a write before it is durable.

use std::sync::Arc;
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender, channel};
use std::time::{Duration, Instant};

use redb::{Database, Durability, ReadableDatabase, WriteTransaction};
use tokio::sync::oneshot;

use super::log_file::LogFile;
use super::log_record::{self, Stamped};
use super::options::{MAX_BATCH, StoreOptions};
use super::recent::{Recent, Staged};
use super::schema::META;
use super::tables::Tables;
use super::wal::Wal;
use crate::journal::rules::apply;
use crate::journal::{Effects, Op};
use crate::journal::{Halt, StorageFailure, WriteError};

/// Most journal entries kept in memory (durable in the log) before a checkpoint writes them
/// to redb: it bounds that memory and the length of a checkpoint (about 3 µs per entry).
const MAX_RECENT: usize = 16 * 1024;

/// The key in [`META`] of the last batch applied.
const LOG_POSITION: &str = "log position";

struct Request {
    op: Op,
    /// When the op was submitted (ms since the Unix epoch): the time it applies at.
    at_ms: u64,
    ack: oneshot::Sender<Result<Effects, WriteError>>,
}

/// Handle to the writer thread. When the last handle is dropped the thread finishes what is
/// queued, checkpoints, closes the database and is joined, so the file can be opened again
/// at once.
#[derive(Clone)]
pub(super) struct Writer {
    tx: Sender<Request>,
    /// Why the writer halted, once it has.
    halted: tokio::sync::watch::Receiver<Option<Arc<Halt>>>,
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
    /// Replays what the log in `log` holds beyond `db`'s last durable commit (even when the
    /// log is not used from now on: a crash may have left writes only there), then starts the
    /// writer thread, committing at most `options.max_batch` ops per transaction. Without a
    /// log (`options.log` false) every batch commits durably in redb.
    pub fn start(
        db: Arc<Database>,
        log: Option<Box<dyn LogFile>>,
        options: &StoreOptions,
        recent: Arc<Recent>,
    ) -> Result<Self, WriteError> {
        let mut lsn = log_position(&db)?;
        let wal = match log {
            Some(file) => {
                let log = Wal::open(file, options.log_bytes).map_err(storage)?;
                lsn = recover(&db, &log, lsn)?;
                options.log.then_some(log)
            }
            None => None,
        };
        let (tx, rx) = channel();
        let max_batch = options.max_batch.clamp(1, MAX_BATCH);
        let (halted_tx, halted) = tokio::sync::watch::channel(None);
        let mut batches = Batches {
            db,
            recent,
            wal,
            lsn,
            checkpoint_every: options.checkpoint_every,
            last_checkpoint: Instant::now(),
            halted_tx,
        };
        let handle = std::thread::Builder::new()
            .name("journal-writer".into())
            .spawn(move || batches.run(rx, max_batch))
            .map_err(storage)?;
        Ok(Writer {
            tx,
            halted,
            _thread: Arc::new(JoinOnDrop(Some(handle))),
        })
    }

    /// Waits until the writer halts; returns why.
    pub async fn halted(&self) -> Arc<Halt> {
        let mut halted = self.halted.clone();
        if let Ok(why) = halted.wait_for(Option::is_some).await
            && let Some(why) = why.clone()
        {
            return why;
        }
        // The writer is gone without halting: nothing more will happen.
        std::future::pending().await
    }

    /// Submits `op`, made now, and waits until it is durable (or refused); returns what it
    /// caused.
    pub async fn submit(&self, op: Op) -> Result<Effects, WriteError> {
        self.submit_at(op, crate::clock::now_ms()).await
    }

    /// Submits `op`, made at `at_ms` (ms since the Unix epoch), and waits until it is durable
    /// (or refused); returns what it caused.
    pub async fn submit_at(&self, op: Op, at_ms: u64) -> Result<Effects, WriteError> {
        self.send_at(op, at_ms)?.await
    }

    /// Sends `op`, made at `at_ms`, to the writer now; the returned future resolves when it
    /// is durable (or refused). Ops sent one after another are applied in that order.
    pub fn send_at(
        &self,
        op: Op,
        at_ms: u64,
    ) -> Result<impl Future<Output = Result<Effects, WriteError>> + use<>, WriteError> {
        let (ack, done) = oneshot::channel();
        self.tx
            .send(Request { op, at_ms, ack })
            .map_err(|_| WriteError::Closed)?;
        Ok(async move { done.await.map_err(|_| WriteError::Closed)? })
    }
}

/// `err` as the result of each of `n` ops.
fn failed(err: &WriteError, n: usize) -> Results {
    (0..n).map(|_| Err(err.clone())).collect()
}

fn storage(e: impl Into<StorageFailure>) -> WriteError {
    WriteError::Storage(Arc::new(e.into()))
}

/// The log sequence number of the last batch `db` applied.
fn log_position(db: &Database) -> Result<u64, WriteError> {
    let txn = db.begin_read().map_err(storage)?;
    let lsn = txn
        .open_table(META)
        .map_err(storage)?
        .get(LOG_POSITION)
        .map_err(storage)?
        .map_or(0, |v| v.value());
    Ok(lsn)
}

/// Applies the batches the log holds beyond `db`'s last durable commit at `checkpoint`
/// (those a crash left out of redb), in order, and commits them durably; returns the log
/// sequence number of the last batch applied.
fn recover(db: &Database, wal: &Wal, checkpoint: u64) -> Result<u64, WriteError> {
    let records = wal.records_after(checkpoint).map_err(storage)?;
    let Some(&(last, _)) = records.last() else {
        return Ok(checkpoint);
    };
    tracing::info!(
        batches = records.len(),
        last,
        "replaying the write-ahead log into the journal"
    );
    let mut txn = db.begin_write().map_err(storage)?;
    txn.set_quick_repair(true);
    let mut tables = Tables::open(&txn).map_err(storage)?;
    let now = crate::clock::now_ms();
    for (_, payload) in &records {
        for Stamped { at_ms, op } in log_record::decode(payload, now).map_err(storage)? {
            // Refused ops were refused the first time too: replaying them writes nothing.
            let _refused =
                apply(&mut tables, &op, at_ms, &mut Effects::default()).map_err(storage)?;
        }
    }
    tables.flush().map_err(storage)?;
    drop(tables);
    set_log_position(&txn, last)?;
    txn.commit().map_err(storage)?;
    Ok(last)
}

fn set_log_position(txn: &WriteTransaction, lsn: u64) -> Result<(), WriteError> {
    txn.open_table(META)
        .map_err(storage)?
        .insert(LOG_POSITION, lsn)
        .map_err(storage)?;
    Ok(())
}

/// Each op's result.
type Results = Vec<Result<Effects, WriteError>>;

/// A batch applied in its transaction, not yet committed: the transaction, each op's result,
/// and the journal entries staged for the recent map.
type Applied = (WriteTransaction, Results, Staged);

/// The writer thread's state.
struct Batches {
    db: Arc<Database>,
    /// Journal entries durable in the log, written to redb at the next checkpoint.
    recent: Arc<Recent>,
    wal: Option<Wal>,
    /// The log sequence number of the last batch applied.
    lsn: u64,
    checkpoint_every: Duration,
    last_checkpoint: Instant,
    /// Why the writer stopped taking writes, if it did; the store's users wait on it.
    halted_tx: tokio::sync::watch::Sender<Option<Arc<Halt>>>,
}

impl Batches {
    fn run(&mut self, rx: Receiver<Request>, max_batch: usize) {
        let mut batch: Vec<Request> = Vec::with_capacity(max_batch);
        loop {
            let first = if self.log_holds_batches() {
                match rx.recv_timeout(self.checkpoint_every / 10) {
                    Ok(req) => req,
                    Err(RecvTimeoutError::Timeout) => {
                        self.checkpoint_idle();
                        continue;
                    }
                    Err(RecvTimeoutError::Disconnected) => break,
                }
            } else {
                match rx.recv() {
                    Ok(req) => req,
                    Err(_) => break,
                }
            };
            batch.push(first);
            while batch.len() < max_batch {
                match rx.try_recv() {
                    Ok(req) => batch.push(req),
                    Err(_) => break,
                }
            }
            let results = match self.halted() {
                Some(why) => failed(&WriteError::Halted(why), batch.len()),
                None => self.commit(&batch),
            };
            for (req, result) in batch.drain(..).zip(results) {
                let _ = req.ack.send(result);
            }
        }
        self.checkpoint_idle();
    }

    /// Why the writer stopped taking writes, if it did.
    fn halted(&self) -> Option<Arc<Halt>> {
        self.halted_tx.borrow().clone()
    }

    /// Whether batches are durable only in the log so far (a checkpoint is due when idle).
    fn log_holds_batches(&self) -> bool {
        self.wal.as_ref().is_some_and(|w| !w.is_empty())
    }

    /// Commits an empty batch durably if the log holds anything, so it can start over.
    fn checkpoint_idle(&mut self) {
        if self.halted().is_none() && self.log_holds_batches() {
            self.commit(&[]);
        }
    }

    /// Applies every op of `batch` in one transaction and makes it durable; returns each op's
    /// result.
    fn commit(&mut self, batch: &[Request]) -> Results {
        match self.try_commit(batch) {
            Ok(results) => results,
            Err(err) => failed(&err, batch.len()),
        }
    }

    fn try_commit(&mut self, batch: &[Request]) -> Result<Results, WriteError> {
        let lsn = self.lsn + 1;
        // A batch goes to the log unless a checkpoint is due, or the log or the memory kept
        // for it is full. Its record goes to the disk while the batch is applied, and is
        // synced after.
        let writing = Instant::now();
        let logging = match (self.log_record(batch), &mut self.wal) {
            (Some(payload), Some(wal)) => {
                wal.write(lsn, &payload).map_err(storage)?;
                true
            }
            _ => false,
        };
        let applying = Instant::now();
        let applied = self.apply_batch(batch, lsn, logging);
        let started = Instant::now();
        let (results, logged) = match (logging, &mut self.wal) {
            (true, Some(wal)) => {
                let (txn, results, mut staged) = match applied {
                    Ok(applied) => applied,
                    // The record is written and may reach the disk, where the next start
                    // would replay it (and fail the same way, if the error is in the data):
                    // it is taken back, and the batch fails alone — unless redb itself
                    // failed, which it does not recover from.
                    Err(err) => {
                        return match wal.cancel() {
                            Ok(()) => Err(self.halt_on_io(err)),
                            Err(cancel) => Err(self.halt(
                                "a logged batch did not apply and could not be taken back from \
                                 the log",
                                Some(cancel.into()),
                            )),
                        };
                    }
                };
                // After a failed sync the page cache cannot be trusted (the record may or may
                // not reach the disk): stop, and let the next start replay what the log holds.
                if let Err(err) = wal.sync() {
                    return Err(self.halt("the log did not sync", Some(err.into())));
                }
                let logged = applying.duration_since(writing) + started.elapsed();
                // Durable in the log: the entries become readable, then the rest of the batch.
                self.recent.publish(&mut staged);
                if let Err(err) = txn.commit() {
                    return Err(self.halt("a logged batch did not commit", Some(err.into())));
                }
                (results, logged)
            }
            (true, None) => return Err(self.halt("the log is gone", None)),
            (false, _) => {
                let (mut txn, results, _) = applied.map_err(|err| self.halt_on_io(err))?;
                // A checkpoint. Quick repair implies two-phase commit: a crash never leaves a
                // torn commit, and reopening after SIGKILL does not have to walk the whole file.
                txn.set_quick_repair(true);
                // A failed durable commit (a failed sync, a full disk) leaves redb's file in
                // doubt: stop, and let the next start recover from the last durable commit and
                // the log, which still holds every batch since.
                if let Err(err) = txn.commit() {
                    return Err(self.halt("a checkpoint did not commit", Some(err.into())));
                }
                self.recent.clear();
                self.last_checkpoint = Instant::now();
                crate::metrics::METRICS.checkpoint(writing.elapsed());
                if let Some(wal) = &mut self.wal {
                    wal.restart();
                }
                (results, Duration::ZERO)
            }
        };
        self.lsn = lsn;
        crate::metrics::METRICS.commit(
            batch.len(),
            started.duration_since(applying),
            logged,
            applying.duration_since(writing) + started.elapsed(),
        );
        Ok(results)
    }

    /// The log record of `batch` if it goes to the log: not when a checkpoint is due, or the
    /// log or the memory kept for it is full.
    fn log_record(&self, batch: &[Request]) -> Option<Vec<u8>> {
        let wal = self.wal.as_ref()?;
        if self.last_checkpoint.elapsed() >= self.checkpoint_every
            || batch.is_empty()
            || self.recent.len() >= MAX_RECENT
        {
            return None;
        }
        let payload = log_record::encode(batch.iter().map(|req| Stamped {
            at_ms: req.at_ms,
            op: &req.op,
        }));
        wal.has_room(payload.len()).then_some(payload)
    }

    /// Applies `batch` in a new transaction that will be commit number `lsn`: staging its
    /// journal entries if the batch is `logged`, else (a checkpoint) writing the kept entries
    /// to redb first.
    fn apply_batch(
        &self,
        batch: &[Request],
        lsn: u64,
        logged: bool,
    ) -> Result<Applied, WriteError> {
        let mut txn = self.db.begin_write().map_err(storage)?;
        let mut tables = if logged {
            Tables::staging(&txn, &self.recent).map_err(storage)?
        } else {
            let mut tables = Tables::open(&txn).map_err(storage)?;
            tables.write_recent(&self.recent).map_err(storage)?;
            tables
        };
        let results = batch
            .iter()
            .map(|req| {
                let mut effects = Effects::default();
                Ok(apply(&mut tables, &req.op, req.at_ms, &mut effects)?.map(|()| effects))
            })
            .collect::<Result<Vec<_>, StorageFailure>>()
            .map_err(storage)?;
        tables.flush().map_err(storage)?;
        let staged = tables.take_staged();
        drop(tables);
        set_log_position(&txn, lsn)?;
        if logged {
            // redb keeps this commit in memory until a checkpoint: the log makes it durable.
            txn.set_durability(Durability::None).map_err(storage)?;
        }
        Ok((txn, results, staged))
    }

    /// `err` if the data was at fault (a stored value that does not decode: the batch fails
    /// alone); otherwise (redb or a file failed, e.g. a full disk) the writer halts: redb
    /// refuses every later transaction after an I/O error, and closing it could make its
    /// non-durable commits durable without their journal entries.
    fn halt_on_io(&mut self, err: WriteError) -> WriteError {
        match err {
            WriteError::Storage(failure) if !matches!(*failure, StorageFailure::Corrupt(_)) => {
                let source = Arc::try_unwrap(failure).ok();
                self.halt("a batch did not apply", source)
            }
            other => other,
        }
    }

    /// Stops taking writes after `what` (caused by `source`); returns the error every later
    /// write gets.
    fn halt(&mut self, what: &'static str, source: Option<StorageFailure>) -> WriteError {
        let why = Arc::new(Halt { what, source });
        tracing::error!("journal halted: {why}");
        if self.halted().is_none() {
            // Closing a redb database flushes its non-durable commits and marks the file
            // consistent. Those commits hold batches whose journal entries are only in the log
            // (and `recent`), and the log position they carry would make the next start skip
            // them: a halted database is never closed (it stays open until the process exits),
            // so the next start recovers from the last durable commit and the log.
            std::mem::forget(Arc::clone(&self.db));
        }
        self.halted_tx.send_replace(Some(why.clone()));
        WriteError::Halted(why)
    }
}
