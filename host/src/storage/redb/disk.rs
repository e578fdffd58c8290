//! The files a store keeps: the redb database and the write-ahead log, on a real file system
//! or (in tests) on a simulated disk that records every write and sync.
//!
//! redb reads and writes its file through its own `StorageBackend` trait; the log goes through
//! [`LogFile`]. Everything durable passes one of the two, so a test that stands between them
//! and the disk sees every byte written and every sync, and can build what a power loss
//! would leave behind.

use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};

use super::log_file::LogFile;
use crate::journal::StorageFailure;

/// Where a store's two files are.
#[derive(Clone, Debug)]
pub(crate) enum Disk {
    /// The database at this path, and its log beside it (the extension `wal`).
    Files(PathBuf),
    /// A simulated disk (tests).
    #[cfg(test)]
    Simulated(super::sim_disk::SimDisk),
}

impl Disk {
    /// Opens the database, creating it first if it does not exist.
    ///
    /// A new database is created under another name and renamed into place once it is
    /// durable, so a crash while it is being created never leaves a file that is not a
    /// database where the database should be.
    pub fn database(&self, builder: &redb::Builder) -> Result<redb::Database, StorageFailure> {
        match self {
            Disk::Files(path) => {
                if !path.exists() {
                    let creating = path.with_extension("creating");
                    let _ = std::fs::remove_file(&creating);
                    drop(builder.create(&creating)?);
                    std::fs::rename(&creating, path)?;
                    sync_dir(path)?;
                }
                Ok(builder.create(path)?)
            }
            #[cfg(test)]
            Disk::Simulated(disk) => {
                use super::sim_disk::FileId;
                if !disk.exists(FileId::Database) {
                    drop(builder.create_with_backend(disk.backend(FileId::Creating))?);
                    disk.rename(FileId::Creating, FileId::Database);
                }
                Ok(builder.create_with_backend(disk.backend(FileId::Database))?)
            }
        }
    }

    /// Opens the log, creating it if `create`; `None` if it does not exist and `create` is
    /// false.
    pub fn log(&self, create: bool) -> io::Result<Option<Box<dyn LogFile>>> {
        match self {
            Disk::Files(path) => {
                let path = log_path(path);
                let existed = path.exists();
                if !create && !existed {
                    return Ok(None);
                }
                let file = std::fs::OpenOptions::new()
                    .read(true)
                    .write(true)
                    .create(true)
                    .truncate(false)
                    .open(&path)?;
                // A new file's name is durable once its directory is synced.
                if !existed {
                    sync_dir(&path)?;
                }
                Ok(Some(Box::new(file)))
            }
            #[cfg(test)]
            Disk::Simulated(disk) => Ok(disk.log(create)),
        }
    }

    /// The database's path, for messages.
    pub fn describe(&self) -> String {
        match self {
            Disk::Files(path) => path.display().to_string(),
            #[cfg(test)]
            Disk::Simulated(_) => "a simulated disk".to_string(),
        }
    }
}

/// Syncs the directory holding `path`, so that a file created or renamed in it is there
/// after a crash.
fn sync_dir(path: &Path) -> io::Result<()> {
    match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => File::open(dir)?.sync_all(),
        _ => File::open(".")?.sync_all(),
    }
}

/// The log of the database at `path`.
fn log_path(path: &Path) -> PathBuf {
    path.with_extension("wal")
}
