use std::fs;
use std::io::Write;
use std::path::Path;

use rand::RngCore;

use crate::{Error, Result};

/// Ends the name of the temporary file of a write in progress.
const TEMPORARY_SUFFIX: &str = ".tmp";

/// Returns true for the name of a temporary file that [`write_atomic`]
/// creates; one that stays behind belongs to a write killed before its rename.
pub fn is_temporary_file_name(name: &str) -> bool {
    name.starts_with('.') && name.ends_with(TEMPORARY_SUFFIX)
}

/// Writes `contents` to `path` so that readers see the old file or the new
/// one, never a partial write: the bytes go to a temporary file in the same
/// folder, are synced, and the temporary file is renamed over `path`.
pub fn write_atomic(path: &Path, contents: &[u8]) -> Result<()> {
    write_renamed(path, contents, true)
}

/// Writes `contents` to `path` as [`write_atomic`] does, but without the
/// sync, for a file that is written again when a crash loses it.
pub(crate) fn write_atomic_unsynced(path: &Path, contents: &[u8]) -> Result<()> {
    write_renamed(path, contents, false)
}

fn write_renamed(path: &Path, contents: &[u8], sync: bool) -> Result<()> {
    let folder = path
        .parent()
        .ok_or_else(|| Error::Internal(format!("path `{}` has no parent folder", path.display())))?;

    let mut suffix = [0u8; 8];
    rand::thread_rng().fill_bytes(&mut suffix);
    let temporary = folder.join(format!(".{}{TEMPORARY_SUFFIX}", hex::encode(suffix)));

    let mut file = fs::File::create(&temporary).map_err(|e| Error::io("create", &temporary, e))?;
    file.write_all(contents).map_err(|e| Error::io("write", &temporary, e))?;
    if sync {
        file.sync_all().map_err(|e| Error::io("sync", &temporary, e))?;
    }
    drop(file);

    fs::rename(&temporary, path).map_err(|e| Error::io("rename", &temporary, e))
}

/// Syncs the file at `path` to disk, for files that a library or `fs::copy`
/// wrote through a handle of its own. A package folder is renamed into its
/// next stage and the previous stage deleted, so its files must be on disk
/// first.
pub fn sync_file(path: &Path) -> Result<()> {
    let file = fs::File::open(path).map_err(|e| Error::io("open", path, e))?;
    file.sync_all().map_err(|e| Error::io("sync", path, e))
}

/// Syncs the entries of `folder`, so that a file renamed into it stays there
/// after a power loss. Windows cannot open a folder as a file, and there the
/// rename is all the runner does.
pub(crate) fn sync_folder(folder: &Path) -> Result<()> {
    #[cfg(unix)]
    {
        let handle = fs::File::open(folder).map_err(|e| Error::io("open", folder, e))?;
        handle.sync_all().map_err(|e| Error::io("sync folder", folder, e))?;
    }
    #[cfg(not(unix))]
    let _ = folder;
    Ok(())
}
