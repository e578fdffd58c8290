//! A simulated disk for the store's two files that records every write and sync, injects
//! failures, and builds what a power loss could leave behind.
//!
//! The model is a disk with a volatile write cache: a write is visible to later reads at once
//! but durable only once its file is synced; at a power loss every synced byte survives, and
//! of the writes since the file's last sync any subset may have reached the disk, in any
//! order, the last of them possibly torn at a sector boundary.

use std::io;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

/// Which of the store's files.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum FileId {
    /// The redb database.
    Database = 0,
    /// The write-ahead log.
    Log = 1,
    /// A database being created, before it is renamed into place.
    Creating = 2,
}

/// Sector size: the unit a torn write is cut at.
pub(crate) const SECTOR: usize = 512;

/// One thing that happened on the disk, in order.
#[derive(Clone, Debug)]
pub(crate) enum Event {
    /// Bytes written to a file (visible, not yet durable).
    Write {
        file: FileId,
        offset: u64,
        data: Arc<[u8]>,
    },
    /// A file's length changed.
    SetLen { file: FileId, len: u64 },
    /// A file was synced: everything written to it so far is durable.
    Sync { file: FileId },
    /// A file was renamed over another (and the directory synced: the rename is durable).
    Rename { from: FileId, to: FileId },
    /// A mark the test placed (e.g. "op n was acknowledged").
    Mark(u64),
}

/// A failure to inject.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Fault {
    /// The `n`-th sync from now (0: the next) fails with EIO, and so does every later one.
    SyncFails { after: usize },
    /// A write or growth that would make a file longer than `limit` fails with ENOSPC.
    DiskFull { limit: u64 },
}

#[derive(Default)]
struct State {
    /// What each file holds as the system sees it (database, log); `None` if it does not
    /// exist.
    files: [Option<Vec<u8>>; 3],
    events: Vec<Event>,
    fault: Option<Fault>,
    syncs_until_failure: Option<usize>,
}

/// A shared simulated disk.
#[derive(Clone, Default)]
pub(crate) struct SimDisk {
    state: Arc<Mutex<State>>,
}

impl std::fmt::Debug for SimDisk {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SimDisk")
    }
}

impl SimDisk {
    /// A disk holding `database` and `log` (a crash image), with nothing recorded.
    pub fn with_files(database: Option<Vec<u8>>, log: Option<Vec<u8>>) -> Self {
        let disk = SimDisk::default();
        disk.lock().files = [database, log, None];
        disk
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Whether `file` exists.
    pub fn exists(&self, file: FileId) -> bool {
        self.lock().files[file as usize].is_some()
    }

    /// `file` as a redb backend (created empty if missing).
    pub fn backend(&self, file: FileId) -> SimFile {
        self.lock().files[file as usize].get_or_insert_with(Vec::new);
        SimFile {
            disk: self.clone(),
            file,
        }
    }

    /// Renames `from` over `to`, durably.
    pub fn rename(&self, from: FileId, to: FileId) {
        let mut state = self.lock();
        let moved = state.files[from as usize].take();
        state.files[to as usize] = moved;
        state.events.push(Event::Rename { from, to });
    }

    /// The log, created empty if `create`; `None` if it does not exist and `create` is false.
    pub fn log(&self, create: bool) -> Option<Box<dyn super::log_file::LogFile>> {
        let mut state = self.lock();
        let slot = &mut state.files[FileId::Log as usize];
        if slot.is_none() && !create {
            return None;
        }
        slot.get_or_insert_with(Vec::new);
        Some(Box::new(SimFile {
            disk: self.clone(),
            file: FileId::Log,
        }))
    }

    /// Injects `fault` from now on.
    pub fn inject(&self, fault: Fault) {
        let mut state = self.lock();
        state.fault = Some(fault);
        if let Fault::SyncFails { after } = fault {
            state.syncs_until_failure = Some(after);
        }
    }

    /// Records `mark` among the events.
    pub fn mark(&self, mark: u64) {
        self.lock().events.push(Event::Mark(mark));
    }

    /// Everything that happened so far.
    pub fn events(&self) -> Vec<Event> {
        self.lock().events.clone()
    }

    fn write(&self, file: FileId, offset: u64, data: &[u8]) -> io::Result<()> {
        let mut state = self.lock();
        let end = offset + data.len() as u64;
        if let Some(Fault::DiskFull { limit }) = state.fault {
            let len = state.files[file as usize].as_ref().map_or(0, Vec::len) as u64;
            if end > len.max(limit) {
                return Err(io::Error::from_raw_os_error(libc::ENOSPC));
            }
        }
        let bytes = state.files[file as usize].get_or_insert_with(Vec::new);
        if bytes.len() < end as usize {
            bytes.resize(end as usize, 0);
        }
        bytes[offset as usize..end as usize].copy_from_slice(data);
        state.events.push(Event::Write {
            file,
            offset,
            data: data.into(),
        });
        Ok(())
    }

    fn set_len(&self, file: FileId, len: u64) -> io::Result<()> {
        let mut state = self.lock();
        if let Some(Fault::DiskFull { limit }) = state.fault {
            let current = state.files[file as usize].as_ref().map_or(0, Vec::len) as u64;
            if len > current.max(limit) {
                return Err(io::Error::from_raw_os_error(libc::ENOSPC));
            }
        }
        state.files[file as usize]
            .get_or_insert_with(Vec::new)
            .resize(len as usize, 0);
        state.events.push(Event::SetLen { file, len });
        Ok(())
    }

    fn sync(&self, file: FileId) -> io::Result<()> {
        let mut state = self.lock();
        if let Some(left) = &mut state.syncs_until_failure {
            if *left == 0 {
                return Err(io::Error::from_raw_os_error(libc::EIO));
            }
            *left -= 1;
        }
        state.events.push(Event::Sync { file });
        Ok(())
    }

    fn read(&self, file: FileId, offset: u64, out: &mut [u8]) -> io::Result<()> {
        let state = self.lock();
        let bytes = state.files[file as usize].as_deref().unwrap_or_default();
        let end = offset as usize + out.len();
        if end > bytes.len() {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!("read of {}..{end} past the end ({})", offset, bytes.len()),
            ));
        }
        out.copy_from_slice(&bytes[offset as usize..end]);
        Ok(())
    }

    fn len(&self, file: FileId) -> u64 {
        self.lock().files[file as usize]
            .as_ref()
            .map_or(0, Vec::len) as u64
    }
}

/// One file of a [`SimDisk`].
#[derive(Debug)]
pub(crate) struct SimFile {
    disk: SimDisk,
    file: FileId,
}

impl redb::StorageBackend for SimFile {
    fn len(&self) -> Result<u64, io::Error> {
        Ok(self.disk.len(self.file))
    }

    fn read(&self, offset: u64, out: &mut [u8]) -> Result<(), io::Error> {
        self.disk.read(self.file, offset, out)
    }

    fn set_len(&self, len: u64) -> Result<(), io::Error> {
        self.disk.set_len(self.file, len)
    }

    fn sync_data(&self) -> Result<(), io::Error> {
        self.disk.sync(self.file)
    }

    fn write(&self, offset: u64, data: &[u8]) -> Result<(), io::Error> {
        self.disk.write(self.file, offset, data)
    }
}

impl super::log_file::LogFile for SimFile {
    fn len(&self) -> io::Result<u64> {
        Ok(self.disk.len(self.file))
    }

    fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> io::Result<()> {
        self.disk.read(self.file, offset, buf)
    }

    fn write_all_at(&self, buf: &[u8], offset: u64) -> io::Result<()> {
        self.disk.write(self.file, offset, buf)
    }

    fn sync_data(&self) -> io::Result<()> {
        self.disk.sync(self.file)
    }
}

/// What survives a power loss of one file: its durable bytes and the writes since its last
/// sync, of which any subset may also have reached the disk.
#[derive(Clone, Default)]
pub(crate) struct Volatile {
    /// The bytes as of the last sync (`None`: the file did not exist then).
    pub durable: Option<Vec<u8>>,
    /// Writes and length changes since, in order.
    pub unsynced: Vec<Event>,
}

impl Volatile {
    fn apply(bytes: &mut Vec<u8>, event: &Event, torn_sectors: Option<usize>) {
        match event {
            Event::Write { offset, data, .. } => {
                let len = torn_sectors.map_or(data.len(), |s| (s * SECTOR).min(data.len()));
                let end = *offset as usize + len;
                if bytes.len() < end {
                    bytes.resize(end, 0);
                }
                bytes[*offset as usize..end].copy_from_slice(&data[..len]);
            }
            Event::SetLen { len, .. } => bytes.resize(*len as usize, 0),
            Event::Sync { .. } | Event::Rename { .. } | Event::Mark(_) => {}
        }
    }

    /// The file after a power loss in which the unsynced events `kept` (indexes, in order)
    /// reached the disk, the last of them cut to `torn_sectors` sectors if given.
    pub fn image(&self, kept: &[usize], torn_sectors: Option<usize>) -> Option<Vec<u8>> {
        // Unsynced events are all writes and length changes: any of them makes the file.
        let mut bytes = match &self.durable {
            Some(bytes) => bytes.clone(),
            None if kept.is_empty() => return None,
            None => Vec::new(),
        };
        for (n, &i) in kept.iter().enumerate() {
            let torn = torn_sectors.filter(|_| n + 1 == kept.len());
            Self::apply(&mut bytes, &self.unsynced[i], torn);
        }
        Some(bytes)
    }

    /// Number of sectors of unsynced event `i`, if it is a write.
    pub fn sectors(&self, i: usize) -> Option<usize> {
        match &self.unsynced[i] {
            Event::Write { data, .. } => Some(data.len().div_ceil(SECTOR)),
            _ => None,
        }
    }
}

/// Both files' [`Volatile`] state as the events are replayed one by one: at any point, what
/// a power loss there could leave.
pub(crate) struct Replayed {
    /// The database, the log, and a database being created.
    pub files: [Volatile; 3],
}

impl Replayed {
    /// The state before the first event, with the files holding `initial`.
    pub fn new(initial: [Option<Vec<u8>>; 2]) -> Self {
        let [database, log] = initial;
        let file = |durable| Volatile {
            durable,
            unsynced: Vec::new(),
        };
        Replayed {
            files: [file(database), file(log), file(None)],
        }
    }

    /// Takes `event` into account.
    pub fn step(&mut self, event: &Event) {
        match event {
            Event::Write { file, .. } | Event::SetLen { file, .. } => {
                self.files[*file as usize].unsynced.push(event.clone());
            }
            Event::Sync { file } => {
                let f = &mut self.files[*file as usize];
                let all: Vec<usize> = (0..f.unsynced.len()).collect();
                f.durable = f.image(&all, None);
                f.unsynced.clear();
            }
            Event::Rename { from, to } => {
                let moved = std::mem::take(&mut self.files[*from as usize]);
                self.files[*to as usize] = moved;
            }
            Event::Mark(_) => {}
        }
    }
}
