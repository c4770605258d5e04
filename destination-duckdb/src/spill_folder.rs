//! The folder next to the database file where DuckDB spills what does not
//! fit in memory: `<file>.tmp`.
//!
//! DuckDB creates the folder at the first spill and keeps it while the
//! instance runs. The CLI never ends its instance (ending it costs about 5 ms
//! of a three-row run), so a load that spilled left an empty folder behind.
//! Each attach therefore creates the folder, and each detach removes it again
//! when it is empty. It must exist before every spill, because DuckDB creates
//! it only once per instance.

use std::io::ErrorKind;
use std::path::{Path, PathBuf};

use crate::config::DuckDbConfig;

/// The spill folder of an attached database file. Dropping it removes the
/// folder if it is empty.
#[derive(Debug)]
pub(crate) struct SpillFolder {
    path: PathBuf,
}

impl SpillFolder {
    /// Returns the folder that the instance's `temp_directory` names, or
    /// `None` when the configuration sets `temp_directory` itself or the
    /// database path is not UTF-8 (the setting is then left at DuckDB's
    /// default).
    pub(crate) fn path(config: &DuckDbConfig) -> Option<String> {
        if config.sets_any(&["temp_directory"]) {
            return None;
        }
        config.database.to_str().map(|database| format!("{database}.tmp"))
    }

    /// Creates the spill folder of `config`'s database if it is missing, and
    /// returns its path and whether this call created it. A folder that
    /// cannot be created is only logged, because most loads never spill, and
    /// a load that does spill fails with DuckDB's own error.
    pub(crate) fn create(config: &DuckDbConfig) -> Option<(PathBuf, bool)> {
        let path = PathBuf::from(Self::path(config)?);
        let existed = path.is_dir();
        if let Err(error) = std::fs::create_dir_all(&path) {
            tracing::debug!(path = %path.display(), %error, "failed to create DuckDB's spill folder");
        }
        Some((path, !existed))
    }

    /// Removes the folder that [`SpillFolder::create`] created for an attach
    /// that then failed, such as one of a file that is no DuckDB database.
    /// Another process that has the file attached created the folder at its
    /// own attach, so a folder this process created is not in its use.
    pub(crate) fn remove_created(path: &Path) {
        if let Err(error) = std::fs::remove_dir(path) {
            tracing::debug!(path = %path.display(), %error, "failed to remove DuckDB's spill folder");
        }
    }

    /// Takes over the folder at `path`, to remove it when dropped if it is
    /// empty. Call it only once the database file is attached: a process
    /// that failed to attach must not remove the folder of the process that
    /// has the file attached and may spill into it next.
    pub(crate) fn remove_when_empty(path: PathBuf) -> SpillFolder {
        SpillFolder { path }
    }
}

impl Drop for SpillFolder {
    fn drop(&mut self) {
        match std::fs::remove_dir(&self.path) {
            Ok(()) => {}
            // Spill files that DuckDB still keeps, or user files, stay.
            Err(error) if matches!(error.kind(), ErrorKind::NotFound | ErrorKind::DirectoryNotEmpty) => {}
            Err(error) => tracing::debug!(path = %self.path.display(), %error, "failed to remove DuckDB's spill folder"),
        }
    }
}
