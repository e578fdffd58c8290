//! The write-ahead log in front of redb.
//!
//! Each group-commit batch is written here as one record and synced (one sequential write,
//! one `fdatasync`) before its redb transaction commits without an fsync. The record is
//! written, and its writeback started, before the batch is applied; the sync waits for it
//! after, so the disk works while the writer does. A checkpoint (a durable redb commit) makes
//! the records before it unnecessary, and the log starts over at its beginning. The file is
//! allocated in full when created, so a sync never has to update the file's size.
//!
//! A record is `len: u32, lsn: u64, crc32(len, lsn, payload): u32, payload`. After a crash
//! the records to replay are those from the start of the file whose log sequence numbers
//! follow the last checkpoint's without a gap and whose checksums hold; the first that does
//! not is where the log ends (a torn last write, or a record of an earlier cycle).

use std::io;

use super::log_file::LogFile;

/// Bytes before each record's payload.
const HEADER: usize = 16;

/// The log file of one store.
pub(super) struct Wal {
    file: Box<dyn LogFile>,
    /// Where the next record goes.
    offset: u64,
    /// The size the file is allocated to.
    capacity: u64,
    /// Reused for each record: header and payload.
    buffer: Vec<u8>,
    /// The length of the record written and not yet synced or cancelled.
    pending: Option<u64>,
}

impl Wal {
    /// The log in `file`, allocated to `capacity` bytes first if it is shorter.
    pub fn open(file: Box<dyn LogFile>, capacity: u64) -> io::Result<Wal> {
        let len = file.len()?;
        if len < capacity {
            allocate(file.as_ref(), len, capacity)?;
        }
        Ok(Wal {
            file,
            offset: 0,
            capacity: capacity.max(len),
            buffer: Vec::new(),
            pending: None,
        })
    }

    /// The payloads of the records after log sequence number `checkpoint`, in order: what a
    /// crash left to replay.
    pub fn records_after(&self, checkpoint: u64) -> io::Result<Vec<(u64, Vec<u8>)>> {
        let mut out = Vec::new();
        let mut offset = 0u64;
        let mut expected = checkpoint + 1;
        let mut header = [0u8; HEADER];
        while offset + HEADER as u64 <= self.capacity {
            self.file.read_exact_at(&mut header, offset)?;
            let len = u32::from_le_bytes(header[0..4].try_into().expect("4 bytes")) as u64;
            let lsn = u64::from_le_bytes(header[4..12].try_into().expect("8 bytes"));
            let crc = u32::from_le_bytes(header[12..16].try_into().expect("4 bytes"));
            if lsn != expected || offset + HEADER as u64 + len > self.capacity {
                break;
            }
            let mut payload = vec![0u8; len as usize];
            self.file
                .read_exact_at(&mut payload, offset + HEADER as u64)?;
            if checksum(&header[0..12], &payload) != crc {
                break;
            }
            out.push((lsn, payload));
            offset += HEADER as u64 + len;
            expected += 1;
        }
        Ok(out)
    }

    /// Whether a record with a payload of `len` bytes fits before the end of the file.
    pub fn has_room(&self, len: usize) -> bool {
        self.offset + (HEADER + len) as u64 <= self.capacity
    }

    /// Whether records were written since the log last started over.
    pub fn is_empty(&self) -> bool {
        self.offset == 0
    }

    /// Appends record `lsn` with `payload` (which must fit, see [`Wal::has_room`]) and syncs
    /// it; when this returns, the record survives a crash.
    #[cfg(test)]
    pub fn append(&mut self, lsn: u64, payload: &[u8]) -> io::Result<()> {
        self.write(lsn, payload)?;
        self.sync()
    }

    /// Writes record `lsn` with `payload` (which must fit, see [`Wal::has_room`]) and starts
    /// sending it to the disk; [`Wal::sync`] waits until it is there. On an error nothing
    /// counts as written: the next record goes to the same place.
    pub fn write(&mut self, lsn: u64, payload: &[u8]) -> io::Result<()> {
        let len = u32::try_from(payload.len())
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "record too large"))?;
        self.buffer.clear();
        self.buffer.extend_from_slice(&len.to_le_bytes());
        self.buffer.extend_from_slice(&lsn.to_le_bytes());
        let crc = checksum(&self.buffer, payload);
        self.buffer.extend_from_slice(&crc.to_le_bytes());
        self.buffer.extend_from_slice(payload);
        self.pending = None;
        self.file.write_all_at(&self.buffer, self.offset)?;
        self.file.start_writeback(self.offset, self.buffer.len());
        self.pending = Some(self.buffer.len() as u64);
        Ok(())
    }

    /// Waits until the record written last is on the disk; then it survives a crash, and the
    /// next record goes after it.
    pub fn sync(&mut self) -> io::Result<()> {
        let Some(len) = self.pending else {
            return Err(io::Error::other("no record is waiting to be synced"));
        };
        self.file.sync_data()?;
        self.pending = None;
        self.offset += len;
        Ok(())
    }

    /// Takes back the record written last and not synced: its header is zeroed and synced, so
    /// a replay stops before it even if the record reached the disk. The next record goes to
    /// the same place.
    pub fn cancel(&mut self) -> io::Result<()> {
        self.pending = None;
        self.file.write_all_at(&[0u8; HEADER], self.offset)?;
        self.file.sync_data()
    }

    /// Starts the log over after a checkpoint: later records overwrite earlier ones.
    pub fn restart(&mut self) {
        self.offset = 0;
        self.pending = None;
        if self.buffer.capacity() > 1 << 20 {
            self.buffer = Vec::new();
        }
    }
}

/// Writes zeros from `from` to `to` and syncs, so that later writes inside never change the
/// file's size.
fn allocate(file: &dyn LogFile, from: u64, to: u64) -> io::Result<()> {
    let zeros = vec![0u8; 1 << 20];
    let mut at = from;
    while at < to {
        let n = (to - at).min(zeros.len() as u64) as usize;
        file.write_all_at(&zeros[..n], at)?;
        at += n as u64;
    }
    file.sync_data()
}

fn checksum(header: &[u8], payload: &[u8]) -> u32 {
    let mut hasher = crc32fast::Hasher::new();
    hasher.update(header);
    hasher.update(payload);
    hasher.finalize()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp(name: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("reprise-wal-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("temp dir");
        dir.join("log")
    }

    /// The log file at `path`.
    fn file(path: &std::path::Path) -> Box<dyn LogFile> {
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .expect("open the log file");
        Box::new(file)
    }

    /// A new 4 KiB log in a fresh directory.
    fn new_log(name: &str) -> Wal {
        Wal::open(file(&temp(name)), 4096).expect("open")
    }

    #[test]
    fn records_after_the_checkpoint_are_read_back_in_order() {
        let path = temp("order");
        let mut wal = Wal::open(file(&path), 4096).expect("open");
        assert!(wal.is_empty());
        wal.append(8, b"eight").expect("append");
        wal.append(9, b"nine").expect("append");
        drop(wal);
        let wal = Wal::open(file(&path), 4096).expect("reopen");
        assert_eq!(
            wal.records_after(7).expect("read"),
            vec![(8, b"eight".to_vec()), (9, b"nine".to_vec())]
        );
        // A cycle starts at the beginning of the file with the record after the checkpoint:
        // after any other checkpoint these records are not the log's.
        for checkpoint in [5, 8, 9] {
            assert!(wal.records_after(checkpoint).expect("read").is_empty());
        }
    }

    #[test]
    fn a_torn_record_ends_the_log() {
        let mut wal = new_log("torn");
        wal.append(1, b"whole").expect("append");
        wal.append(2, b"torn record").expect("append");
        // Corrupt one byte of the second payload, as a write cut short by a crash would.
        let at = (HEADER + 5 + HEADER + 3) as u64;
        wal.file.write_all_at(b"X", at).expect("corrupt");
        assert_eq!(
            wal.records_after(0).expect("read"),
            vec![(1, b"whole".to_vec())]
        );
    }

    #[test]
    fn a_cancelled_record_is_not_replayed_and_the_next_takes_its_place() {
        let mut wal = new_log("cancel");
        wal.append(1, b"kept").expect("append");
        wal.write(2, b"cancelled").expect("write");
        wal.cancel().expect("cancel");
        assert!(wal.sync().is_err(), "nothing is left to sync");
        assert_eq!(
            wal.records_after(0).expect("read"),
            vec![(1, b"kept".to_vec())]
        );
        // The next record goes where the cancelled one was.
        wal.append(2, b"next").expect("append");
        assert_eq!(
            wal.records_after(0).expect("read"),
            vec![(1, b"kept".to_vec()), (2, b"next".to_vec())]
        );
    }

    #[test]
    fn records_of_an_earlier_cycle_are_not_replayed() {
        let mut wal = new_log("cycle");
        for lsn in 1..=5 {
            wal.append(lsn, b"first cycle").expect("append");
        }
        // A checkpoint at 6, then a shorter second cycle.
        wal.restart();
        wal.append(7, b"second").expect("append");
        assert_eq!(
            wal.records_after(6).expect("read"),
            vec![(7, b"second".to_vec())]
        );
        assert!(wal.has_room(4096 - 2 * HEADER - 6 - 100));
        assert!(!wal.has_room(4096));
    }
}
