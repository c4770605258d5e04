//! Job files whose bytes start going to disk while they are still written.

use std::fs::File;
use std::io::{self, Write};

/// Bytes written between two requests to start writeback.
const WRITEBACK_STEP_BYTES: u64 = 8 << 20;

/// A job file, written from its start, that requests writeback of the new
/// bytes from the kernel every [`WRITEBACK_STEP_BYTES`], without waiting for
/// them. The sync before a package changes stage then finds most
/// of the file on disk already. Before, at 1M nested events, syncing the
/// 546 MB extracted file took 146 ms and the two Parquet files 113 ms, all
/// of it on the run's critical path.
pub(crate) struct WritebackFile {
    file: File,
    written: u64,
    requested: u64,
}

impl WritebackFile {
    pub(crate) fn new(file: File) -> Self {
        WritebackFile {
            file,
            written: 0,
            requested: 0,
        }
    }
}

impl Write for WritebackFile {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        let count = self.file.write(bytes)?;
        self.written += count as u64;

        if self.written - self.requested >= WRITEBACK_STEP_BYTES {
            start_writeback(&self.file, self.requested, self.written - self.requested);
            self.requested = self.written;
        }
        Ok(count)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}

/// Starts writing `length` bytes from `offset` to disk. An error is ignored:
/// the request only saves time, and the final sync reports any failure.
#[cfg(target_os = "linux")]
fn start_writeback(file: &File, offset: u64, length: u64) {
    use std::os::fd::AsRawFd;

    let (Ok(offset), Ok(length)) = (i64::try_from(offset), i64::try_from(length)) else {
        return;
    };
    // SAFETY: sync_file_range reads no memory of ours; the descriptor is open
    // for as long as `file` is borrowed.
    unsafe { libc::sync_file_range(file.as_raw_fd(), offset, length, libc::SYNC_FILE_RANGE_WRITE) };
}

#[cfg(not(target_os = "linux"))]
fn start_writeback(_file: &File, _offset: u64, _length: u64) {}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    #[test]
    fn writes_every_byte_in_order() {
        let dir = tempfile::tempdir().expect("create temporary folder");
        let path = dir.path().join("job.bin");
        let mut file = WritebackFile::new(File::create(&path).expect("create file"));
        let chunk: Vec<u8> = (0..=255u8).cycle().take(3 << 20).collect();

        for _ in 0..6 {
            file.write_all(&chunk).expect("write");
        }

        let written = std::fs::read(&path).expect("read back");
        assert_eq!(written.len(), 6 * chunk.len());
        assert!(written.chunks(chunk.len()).all(|part| part == chunk.as_slice()));
        assert_eq!(file.requested, 18 << 20, "writeback requested after 9 and 18 MiB");
    }
}
