//! How a store is opened: its page cache, batch size, log and checkpoints.

/// Most ops committed in one transaction.
pub const MAX_BATCH: usize = 4096;

/// Size of the write-ahead log file by default; a batch that does not fit is committed
/// durably in redb.
pub const LOG_BYTES: u64 = 64 * 1024 * 1024;

/// The page cache a store keeps by default: it bounds the memory redb uses, whatever the
/// number of invocations on disk.
pub const DEFAULT_CACHE_BYTES: usize = 16 * 1024 * 1024;

/// How a store is opened.
#[derive(Clone, Debug)]
pub struct StoreOptions {
    /// Bytes of database pages kept in memory.
    pub cache_bytes: usize,
    /// Most writes committed in one transaction (1: a transaction per write).
    pub max_batch: usize,
    /// Make batches durable in the write-ahead log next to the database (and checkpoint redb
    /// now and then) rather than with a durable redb commit each.
    pub log: bool,
    /// Longest time between two durable redb commits (checkpoints) while the log is used: it
    /// bounds how much of the log a start after a crash replays.
    pub checkpoint_every: std::time::Duration,
    /// Size of the log file: when a batch does not fit in what is left, the batch checkpoints
    /// and the log starts over.
    pub log_bytes: u64,
}

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions {
            cache_bytes: DEFAULT_CACHE_BYTES,
            max_batch: MAX_BATCH,
            log: true,
            checkpoint_every: std::time::Duration::from_secs(1),
            log_bytes: LOG_BYTES,
        }
    }
}
