//! The write-ahead log's file: positioned reads and writes and a sync, on a real file or (in
//! tests) on the simulated disk.

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;

/// The log file as the write-ahead log uses it: positioned reads and writes, and a sync.
pub(crate) trait LogFile: Send + Sync {
    /// The file's length in bytes.
    fn len(&self) -> io::Result<u64>;
    /// Reads exactly `buf.len()` bytes at `offset`.
    fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> io::Result<()>;
    /// Writes all of `buf` at `offset`.
    fn write_all_at(&self, buf: &[u8], offset: u64) -> io::Result<()>;
    /// Waits until everything written is on the disk.
    fn sync_data(&self) -> io::Result<()>;
    /// Asks for `len` bytes at `offset` to start going to the disk without waiting (a hint:
    /// only [`LogFile::sync_data`] makes them durable).
    fn start_writeback(&self, _offset: u64, _len: usize) {}
}

impl LogFile for File {
    fn len(&self) -> io::Result<u64> {
        Ok(self.metadata()?.len())
    }

    fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> io::Result<()> {
        FileExt::read_exact_at(self, buf, offset)
    }

    fn write_all_at(&self, buf: &[u8], offset: u64) -> io::Result<()> {
        FileExt::write_all_at(self, buf, offset)
    }

    fn sync_data(&self) -> io::Result<()> {
        File::sync_data(self)
    }

    fn start_writeback(&self, offset: u64, len: usize) {
        #[cfg(target_os = "linux")]
        {
            use std::os::fd::AsRawFd;
            // SAFETY: sync_file_range only reads its integer arguments; the descriptor is open
            // for as long as `self` is borrowed.
            #[allow(unsafe_code)]
            unsafe {
                libc::sync_file_range(
                    self.as_raw_fd(),
                    offset as libc::off64_t,
                    len as libc::off64_t,
                    libc::SYNC_FILE_RANGE_WRITE,
                );
            }
        }
        #[cfg(not(target_os = "linux"))]
        let _ = (offset, len);
    }
}
