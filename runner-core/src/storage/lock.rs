use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};

use crate::{Error, Result};

/// An exclusive lock on a pipeline, held while a pipeline object lives.
///
/// The lock is an `flock` on `<pipelines_dir>/<name>.lock`, outside the
/// working directory so that a clean-folder run can delete the directory
/// while keeping the lock. The operating system releases it when the
/// process ends, however it ends, so a lock left by a dead process is taken
/// over at once. The file contains the holder's process id for messages.
#[derive(Debug)]
pub struct PipelineLock {
    path: PathBuf,
    _file: File,
}

impl PipelineLock {
    /// Takes the lock, or fails at once naming the lock file and the holder.
    pub fn acquire(path: &Path, pipeline_name: &str) -> Result<Self> {
        if let Some(folder) = path.parent() {
            std::fs::create_dir_all(folder).map_err(|e| Error::io("create folder", folder, e))?;
        }
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .map_err(|e| Error::io("open lock file", path, e))?;

        // SAFETY: `flock` only reads the descriptor, which `file` keeps open.
        let status = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
        if status != 0 {
            let error = std::io::Error::last_os_error();
            if error.raw_os_error() == Some(libc::EWOULDBLOCK) {
                let mut holder = String::new();
                let _ = file.read_to_string(&mut holder);
                return Err(Error::Locked {
                    pipeline: pipeline_name.to_owned(),
                    path: path.to_path_buf(),
                    holder_pid: holder.trim().parse().ok(),
                });
            }
            return Err(Error::io("lock", path, error));
        }

        file.set_len(0).map_err(|e| Error::io("write lock file", path, e))?;
        file.seek(SeekFrom::Start(0)).map_err(|e| Error::io("write lock file", path, e))?;
        write!(file, "{}", std::process::id()).map_err(|e| Error::io("write lock file", path, e))?;
        file.flush().map_err(|e| Error::io("write lock file", path, e))?;

        Ok(PipelineLock {
            path: path.to_path_buf(),
            _file: file,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn second_lock_names_holder() {
        let folder = tempfile::tempdir().unwrap();
        let path = folder.path().join("p.lock");
        let _held = PipelineLock::acquire(&path, "p").unwrap();

        let error = PipelineLock::acquire(&path, "p").unwrap_err();

        let message = error.to_string();
        assert!(message.contains(&std::process::id().to_string()), "{message}");
        assert!(message.contains("p.lock"), "{message}");
        assert_eq!(error.category(), crate::error::ErrorCategory::Transient);
    }

    #[test]
    fn lock_is_released_on_drop() {
        let folder = tempfile::tempdir().unwrap();
        let path = folder.path().join("p.lock");
        drop(PipelineLock::acquire(&path, "p").unwrap());

        assert!(PipelineLock::acquire(&path, "p").is_ok());
    }
}
