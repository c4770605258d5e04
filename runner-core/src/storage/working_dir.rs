use std::fs;
use std::path::{Path, PathBuf};

use rand::RngCore;

use super::package::{LoadPackage, PackageStage};
use super::atomic::write_atomic_unsynced;
use crate::{Error, Result};

/// Storage versions dlt 1.31 writes into `normalize/.version` and `load/.version`.
const NORMALIZE_STORAGE_VERSION: &str = "1.0.1";
const LOAD_STORAGE_VERSION: &str = "1.0.2";

/// A pipeline's working directory.
#[derive(Debug, Clone)]
pub struct WorkingDir {
    root: PathBuf,
}

impl WorkingDir {
    /// Opens the working directory at `root`, creating its folders as needed.
    pub fn open(root: impl Into<PathBuf>) -> Result<Self> {
        let working_dir = WorkingDir { root: root.into() };

        for folder in [
            working_dir.schemas_dir(),
            working_dir.root.join("normalize").join("extracted"),
            working_dir.root.join("load").join("new"),
            working_dir.root.join("load").join("normalized"),
            working_dir.root.join("load").join("loaded"),
        ] {
            fs::create_dir_all(&folder).map_err(|e| Error::io("create folder", &folder, e))?;
        }
        working_dir.write_version_file("normalize", NORMALIZE_STORAGE_VERSION)?;
        working_dir.write_version_file("load", LOAD_STORAGE_VERSION)?;

        Ok(working_dir)
    }

    /// Writes a version file that is missing or contains no version. It is not
    /// synced, because a version file lost to a crash, or left empty or full
    /// of zero bytes by one, is written again when the folder is opened next.
    fn write_version_file(&self, storage: &str, version: &str) -> Result<()> {
        let path = self.root.join(storage).join(".version");
        let blank = |byte: &u8| byte.is_ascii_whitespace() || *byte == 0;
        if fs::read(&path).is_ok_and(|text| !text.iter().all(blank)) {
            return Ok(());
        }
        write_atomic_unsynced(&path, version.as_bytes())
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn state_path(&self) -> PathBuf {
        self.root.join("state.json")
    }

    pub fn schemas_dir(&self) -> PathBuf {
        self.root.join("schemas")
    }

    pub fn schema_path(&self, schema_name: &str) -> PathBuf {
        self.schemas_dir().join(format!("{schema_name}.schema.json"))
    }

    pub fn traces_dir(&self) -> PathBuf {
        self.root.join("traces")
    }

    /// Returns the folder of committed packages of `stage`.
    pub fn stage_dir(&self, stage: PackageStage) -> PathBuf {
        match stage {
            PackageStage::Extracted => self.root.join("normalize").join("extracted"),
            PackageStage::Normalized => self.root.join("load").join("normalized"),
            PackageStage::Loaded => self.root.join("load").join("loaded"),
        }
    }

    /// Creates a scratch folder for a package being extracted:
    /// `normalize/<16 hex>/<load_id>`.
    pub fn new_extract_scratch(&self, load_id: &str) -> Result<PathBuf> {
        let mut token = [0u8; 8];
        rand::thread_rng().fill_bytes(&mut token);
        let path = self.root.join("normalize").join(hex::encode(token)).join(load_id);
        fs::create_dir_all(&path).map_err(|e| Error::io("create folder", &path, e))?;
        Ok(path)
    }

    /// Moves the folder of a package that no stage needs any more to
    /// `normalize/<16 hex>`, which [`WorkingDir::recover`] discards like any
    /// scratch folder, and returns its new path. A rename takes microseconds
    /// where deleting a large job file takes tens of milliseconds, so the
    /// caller can delete the folder later or on another thread.
    pub fn retire(&self, package: LoadPackage) -> Result<PathBuf> {
        let mut token = [0u8; 8];
        rand::thread_rng().fill_bytes(&mut token);
        let retired = self.root.join("normalize").join(hex::encode(token));
        fs::rename(package.path(), &retired).map_err(|e| Error::io("move the normalized package's extract out of", package.path(), e))?;
        Ok(retired)
    }

    /// Returns the scratch folder of a package being normalized: `load/new/<load_id>`.
    pub fn normalize_scratch(&self, load_id: &str) -> PathBuf {
        self.root.join("load").join("new").join(load_id)
    }

    /// Returns the committed packages of `stage`, in ascending load id order
    /// (string order, as dlt processes them).
    pub fn packages(&self, stage: PackageStage) -> Result<Vec<LoadPackage>> {
        let folder = self.stage_dir(stage);
        let mut load_ids = list_folders(&folder)?;
        load_ids.sort();
        Ok(load_ids
            .into_iter()
            .map(|load_id| LoadPackage::new(folder.join(&load_id), load_id, stage))
            .collect())
    }

    /// Returns true when an extracted or normalized package waits to be loaded.
    pub fn has_pending_packages(&self) -> Result<bool> {
        Ok(!self.packages(PackageStage::Extracted)?.is_empty() || !self.packages(PackageStage::Normalized)?.is_empty())
    }

    /// Removes what an interrupted run left in scratch folders, and extracted
    /// packages whose normalized copy was already committed.
    ///
    /// Scratch folders are never a committed stage: an interrupted extract is
    /// redone from the source, an interrupted normalize from the extracted
    /// package, which is only deleted after the normalized one is committed.
    pub fn recover(&self) -> Result<Vec<String>> {
        let mut discarded = Vec::new();

        let normalize_root = self.root.join("normalize");
        for name in list_folders(&normalize_root)? {
            if name != "extracted" {
                let path = normalize_root.join(&name);
                fs::remove_dir_all(&path).map_err(|e| Error::io("remove folder", &path, e))?;
                discarded.push(path.display().to_string());
            }
        }

        let load_new = self.root.join("load").join("new");
        for name in list_folders(&load_new)? {
            let path = load_new.join(&name);
            fs::remove_dir_all(&path).map_err(|e| Error::io("remove folder", &path, e))?;
            discarded.push(path.display().to_string());
        }

        let normalized: Vec<String> = list_folders(&self.stage_dir(PackageStage::Normalized))?;
        for load_id in normalized {
            let extracted = self.stage_dir(PackageStage::Extracted).join(&load_id);
            if extracted.exists() {
                fs::remove_dir_all(&extracted).map_err(|e| Error::io("remove folder", &extracted, e))?;
                discarded.push(extracted.display().to_string());
            }
        }

        Ok(discarded)
    }

    /// Returns the newest load id of any package in any stage, so that new
    /// load ids stay strictly increasing.
    pub fn newest_load_id(&self) -> Result<Option<String>> {
        let mut newest: Option<String> = None;
        for stage in [PackageStage::Extracted, PackageStage::Normalized, PackageStage::Loaded] {
            for load_id in list_folders(&self.stage_dir(stage))? {
                if newest.as_deref().is_none_or(|current| load_id.as_str() > current) {
                    newest = Some(load_id);
                }
            }
        }
        Ok(newest)
    }
}

/// Lists the names of the sub-folders of `folder`; an absent folder has none.
/// Returns the names of the folders in `folder`, in no order; none when it
/// does not exist.
pub fn list_folders(folder: &Path) -> Result<Vec<String>> {
    let entries = match fs::read_dir(folder) {
        Ok(entries) => entries,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(error) => return Err(Error::io("list folder", folder, error)),
    };

    let mut names = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| Error::io("list folder", folder, e))?;
        let is_dir = entry.file_type().map_err(|e| Error::io("inspect", entry.path(), e))?.is_dir();
        if is_dir && let Some(name) = entry.file_name().to_str() {
            names.push(name.to_owned());
        }
    }
    Ok(names)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blank_version_file_rewritten() {
        let dir = tempfile::tempdir().expect("create temporary folder");
        let working_dir = WorkingDir::open(dir.path()).expect("create working directory");
        let version = working_dir.root().join("load").join(".version");

        for damaged in [&b""[..], b"\n", b"\0\0\0\0"] {
            fs::write(&version, damaged).expect("damage the version file");
            WorkingDir::open(dir.path()).expect("open working directory");
            assert_eq!(fs::read_to_string(&version).expect("read version file"), LOAD_STORAGE_VERSION);
        }
    }
}
