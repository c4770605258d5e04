//! Syncing the many job files of one package before the package changes stage.

use std::fs::File;
use std::path::{Path, PathBuf};

use crate::Result;
#[cfg(target_os = "linux")]
use crate::Error;

/// Job files from which one `syncfs` of the file system replaces a sync per
/// file. On a new ext4 file system, 40,000 one-row job files took 24 to 28 s
/// to normalize with a sync each (about 0.6 ms per file) and 3.6 to 5.2 s
/// with one `syncfs`. But `syncfs` also waits for data that other programs
/// wrote to the file system: with 1.5 GB of such data waiting, 80 job files
/// took 3.5 s to sync that way and 58 ms one by one. Below this count, a
/// sync per file costs under a second.
#[cfg_attr(not(target_os = "linux"), allow(dead_code))]
const SYNCFS_MIN_FILES: usize = 1024;

/// The folder that receives a package's job files, opened before the first
/// of them is written. On Linux a `syncfs` reports only the write errors
/// that the kernel recorded after the descriptor was opened, so it is opened
/// early and kept.
pub(crate) struct JobFolder {
    path: PathBuf,
    #[cfg_attr(not(target_os = "linux"), allow(dead_code))]
    handle: Option<File>,
}

impl JobFolder {
    /// Opens `path`. A folder that cannot be opened yet is opened again when
    /// the files are synced, and a failure is reported then.
    pub(crate) fn open(path: &Path) -> Self {
        JobFolder {
            path: path.to_owned(),
            handle: File::open(path).ok(),
        }
    }

    /// Waits until every byte of `files`, which lie in this folder's file
    /// system, is on disk.
    pub(crate) fn sync_files<'f>(&self, files: impl ExactSizeIterator<Item = &'f Path>) -> Result<()> {
        #[cfg(target_os = "linux")]
        if files.len() >= SYNCFS_MIN_FILES && syncfs_reports_errors() {
            self.sync_file_system()?;
            // `syncfs` opens no job file, so each is checked to exist, as a
            // sync per file would check it.
            for path in files {
                std::fs::metadata(path).map_err(|e| Error::io("check job file", path, e))?;
            }
            return Ok(());
        }
        for path in files {
            super::sync_file(path)?;
        }
        Ok(())
    }

    #[cfg(target_os = "linux")]
    fn sync_file_system(&self) -> Result<()> {
        use std::os::fd::AsRawFd;

        let opened_now;
        let handle = match &self.handle {
            Some(handle) => handle,
            None => {
                opened_now = File::open(&self.path).map_err(|e| Error::io("open", &self.path, e))?;
                &opened_now
            }
        };
        // SAFETY: syncfs reads no memory of ours; the descriptor stays open
        // while `handle` is borrowed.
        if unsafe { libc::syncfs(handle.as_raw_fd()) } != 0 {
            return Err(Error::io("sync the file system of job folder", &self.path, std::io::Error::last_os_error()));
        }
        Ok(())
    }
}

/// Returns whether `syncfs` reports write errors: Linux does since kernel
/// 5.8, and before it returned success whatever happened.
#[cfg(target_os = "linux")]
fn syncfs_reports_errors() -> bool {
    static REPORTS: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *REPORTS.get_or_init(|| {
        let Ok(release) = std::fs::read_to_string("/proc/sys/kernel/osrelease") else {
            return false;
        };
        kernel_at_least(&release, (5, 8))
    })
}

/// Returns whether a kernel release such as `6.1.0-18-amd64` is at least
/// `minimum` (major, minor).
#[cfg(target_os = "linux")]
fn kernel_at_least(release: &str, minimum: (u32, u32)) -> bool {
    let mut parts = release.trim().split(['.', '-']).map(|part| part.parse::<u32>());
    match (parts.next(), parts.next()) {
        (Some(Ok(major)), Some(Ok(minor))) => (major, minor) >= minimum,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    #[test]
    #[cfg(target_os = "linux")]
    fn kernel_release_compared_by_major_and_minor() {
        assert!(kernel_at_least("6.18.44-fc-v1272\n", (5, 8)));
        assert!(kernel_at_least("5.8.0", (5, 8)));
        assert!(kernel_at_least("5.10", (5, 8)));
        assert!(!kernel_at_least("5.4.0-150-generic", (5, 8)));
        assert!(!kernel_at_least("4.19", (5, 8)));
        assert!(!kernel_at_least("unknown", (5, 8)));
    }

    /// Both ways of syncing, below and above the threshold, finish on real
    /// files and leave their bytes readable.
    #[test]
    fn syncs_few_and_many_files() {
        let dir = tempfile::tempdir().expect("create temporary folder");
        let folder = JobFolder::open(dir.path());
        let mut paths = Vec::new();
        for index in 0..SYNCFS_MIN_FILES + 1 {
            let path = dir.path().join(format!("job.{index}.parquet"));
            File::create(&path)
                .and_then(|mut file| file.write_all(format!("row {index}").as_bytes()))
                .expect("write job file");
            paths.push(path);
        }

        folder.sync_files(paths[..2].iter().map(PathBuf::as_path)).expect("sync two files");
        folder.sync_files(paths.iter().map(PathBuf::as_path)).expect("sync all files");
        for (index, path) in paths.iter().enumerate() {
            assert_eq!(std::fs::read_to_string(path).expect("read back"), format!("row {index}"));
        }
    }

    #[test]
    fn missing_file_named_in_error() {
        let dir = tempfile::tempdir().expect("create temporary folder");
        let folder = JobFolder::open(dir.path());
        let missing = dir.path().join("gone.parquet");

        let error = folder.sync_files([missing.as_path()].into_iter()).expect_err("file is missing");
        assert!(error.to_string().contains("gone.parquet"), "{error}");

        // Among as many files as one `syncfs` covers.
        let mut paths: Vec<PathBuf> = (0..SYNCFS_MIN_FILES)
            .map(|index| dir.path().join(format!("job.{index}.parquet")))
            .collect();
        for path in &paths {
            File::create(path).expect("create job file");
        }
        paths.push(missing);
        let error = folder.sync_files(paths.iter().map(PathBuf::as_path)).expect_err("file is missing");
        assert!(error.to_string().contains("gone.parquet"), "{error}");
    }
}
