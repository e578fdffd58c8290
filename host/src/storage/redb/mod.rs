//! The embedded backend: one redb file, its write-ahead log, and one group-commit writer.
//!
//! Reads go to redb (`Store`), and journal reads also to the entries durable in the log but
//! not yet in redb (`recent`). Every write is an op sent to the writer (`writer`), which
//! applies a batch of them with the journal's rules in one redb transaction over `tables`,
//! appends the batch to the log (`wal`, records in `log_record`) and syncs it, then
//! acknowledges; redb itself is made durable at checkpoints. `disk` puts both files behind
//! traits so that `sim_disk` can cut them as a power loss would (`power_loss`).

mod disk;
mod failure;
#[cfg(test)]
mod inspect;
mod log_file;
mod log_record;
mod moves;
mod options;
mod outbox;
mod output;
#[cfg(test)]
mod power_loss;
mod recent;
mod schema;
#[cfg(test)]
mod sim_disk;
mod store;
mod tables;
mod versions;
mod wal;
#[cfg(test)]
mod workload;
mod writer;

pub use options::{DEFAULT_CACHE_BYTES, StoreOptions};
pub use store::Store;
