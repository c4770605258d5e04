//! Trace files in a pipeline's working directory.
//!
//! ```text
//! traces/<transaction_id>_attempt_<N>_trace.json   one attempt; loaded, or pruned without a trace pipeline
//! traces/.package_<load_id>.json                   trace files extracted into package <load_id>
//! last_trace.json                                  copy of the newest trace, kept after loading
//! ```
//!
//! Only names ending in `_trace.json` are trace files. Other files in
//! `traces/` are neither loaded nor deleted.

use std::path::{Path, PathBuf};

use serde_json::Value;

use super::model::AttemptTrace;
use crate::storage::write_atomic;
use crate::{Error, Result};

/// Folder of trace files inside the working directory.
pub const TRACES_FOLDER: &str = "traces";
/// Copy of the newest trace inside the working directory, outside `traces/`
/// so that loading and deleting trace files leaves it in place.
pub const LAST_TRACE_FILE: &str = "last_trace.json";
/// Suffix that marks a trace file.
const TRACE_SUFFIX: &str = "_trace.json";
/// Prefix of the files that list which trace files went into a package.
const PACKAGE_MARKER_PREFIX: &str = ".package_";

/// A trace file read from disk.
#[derive(Debug, Clone)]
pub struct TraceFile {
    pub path: PathBuf,
    /// The file's JSON, loaded as one row of `<pipeline>_trace`.
    pub row: Value,
}

/// Load id of the marker written before extraction, while the package's
/// own load id is not known yet.
pub const PENDING_MARKER_LOAD_ID: &str = "pending";

/// Trace files of extracted but possibly unloaded packages.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct PackageMarker {
    pub load_id: String,
    /// File names inside `traces/`.
    pub files: Vec<String>,
    /// Unix time in seconds when extraction started; set on the pending
    /// marker only. The package it produced has a load id at least this large.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending_since: Option<f64>,
}

/// The trace files of one pipeline.
#[derive(Debug, Clone)]
pub struct TraceStore {
    working_dir: PathBuf,
}

impl TraceStore {
    pub fn new(working_dir: impl Into<PathBuf>) -> Self {
        TraceStore {
            working_dir: working_dir.into(),
        }
    }

    /// Returns the `traces/` folder.
    pub fn folder(&self) -> PathBuf {
        self.working_dir.join(TRACES_FOLDER)
    }

    /// Returns the path of `last_trace.json`.
    pub fn last_trace_path(&self) -> PathBuf {
        self.working_dir.join(LAST_TRACE_FILE)
    }

    /// Writes `trace` to `traces/` and returns the file's path.
    pub fn write(&self, trace: &AttemptTrace) -> Result<PathBuf> {
        let folder = self.folder();
        std::fs::create_dir_all(&folder).map_err(|e| Error::io("create folder", &folder, e))?;
        let path = self
            .folder()
            .join(format!("{}_attempt_{}{TRACE_SUFFIX}", trace.transaction_id, trace.attempt));
        write_atomic(&path, &to_json(trace)?)?;
        Ok(path)
    }

    /// Replaces `last_trace.json` with `trace`.
    pub fn write_last(&self, trace: &AttemptTrace) -> Result<()> {
        write_atomic(&self.last_trace_path(), &to_json(trace)?)
    }

    /// Reads `last_trace.json`; `None` when no attempt has run yet.
    pub fn read_last(&self) -> Result<Option<AttemptTrace>> {
        let path = self.last_trace_path();
        if !path.exists() {
            return Ok(None);
        }
        let text = std::fs::read(&path).map_err(|e| Error::io("read", &path, e))?;
        let trace = serde_json::from_slice(&text).map_err(|e| Error::InvalidData {
            path: path.clone(),
            line: Some(e.line() as u64),
            message: e.to_string(),
        })?;
        Ok(Some(trace))
    }

    /// Returns true when `traces/` contains trace files or package markers.
    pub fn has_pending(&self) -> Result<bool> {
        Ok(!self.trace_file_names()?.is_empty() || !self.markers()?.is_empty())
    }

    /// Reads every trace file not listed in a package marker, oldest
    /// `started_at` first. A trace file that is not valid JSON is logged and
    /// skipped; it stays in place for inspection.
    pub fn unpackaged_traces(&self) -> Result<Vec<TraceFile>> {
        let packaged: Vec<String> = self.markers()?.into_iter().flat_map(|marker| marker.files).collect();
        let mut traces = Vec::new();

        for name in self.trace_file_names()? {
            if packaged.contains(&name) {
                continue;
            }
            let path = self.folder().join(&name);
            let text = std::fs::read(&path).map_err(|e| Error::io("read", &path, e))?;
            match serde_json::from_slice::<Value>(&text) {
                Ok(row) if row.is_object() => traces.push(TraceFile { path, row }),
                Ok(_) | Err(_) => {
                    tracing::warn!(path = %path.display(), "skipping a trace file that is not a JSON object; it stays in place")
                }
            }
        }

        traces.sort_by(|a, b| started_at(&a.row).cmp(started_at(&b.row)));
        Ok(traces)
    }

    /// Removes the temporary files of trace writes that a kill stopped before
    /// their rename. Call it only while the pipeline's lock is held, because
    /// a write in progress has the same kind of file.
    pub fn remove_interrupted_writes(&self) -> Result<()> {
        for name in self.file_names()? {
            if crate::storage::is_temporary_file_name(&name) {
                remove_if_present(&self.folder().join(name))?;
            }
        }
        Ok(())
    }

    /// Deletes the oldest trace files so that at most `max_files` remain, and
    /// returns the deleted paths. Age is the trace's `started_at`, with ties
    /// broken by file name. A file that is not a JSON trace counts as
    /// oldest. Package markers and files with other names stay.
    pub fn prune(&self, max_files: usize) -> Result<Vec<PathBuf>> {
        let names = self.trace_file_names()?;
        if names.len() <= max_files {
            return Ok(Vec::new());
        }

        let mut dated = Vec::with_capacity(names.len());
        for name in names {
            let path = self.folder().join(&name);
            let text = std::fs::read(&path).map_err(|e| Error::io("read", &path, e))?;
            let row = serde_json::from_slice::<Value>(&text).unwrap_or(Value::Null);
            dated.push((started_at(&row).to_owned(), name, path));
        }
        dated.sort();

        let excess = dated.len() - max_files;
        let mut removed = Vec::with_capacity(excess);
        for (_, _, path) in dated.into_iter().take(excess) {
            remove_if_present(&path)?;
            removed.push(path);
        }
        Ok(removed)
    }

    /// Records that `files` were extracted into package `load_id`, so they
    /// are not extracted again while that package waits to be loaded.
    pub fn write_marker(&self, load_id: &str, files: &[PathBuf]) -> Result<()> {
        let marker = PackageMarker {
            load_id: load_id.to_owned(),
            files: files.iter().filter_map(|path| file_name(path)).collect(),
            pending_since: None,
        };
        self.save_marker(&marker)
    }

    /// Records `files` before they are extracted, so that a kill between the
    /// package commit and [`Self::write_marker`] cannot extract them twice.
    pub fn write_pending_marker(&self, files: &[PathBuf]) -> Result<()> {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|elapsed| elapsed.as_secs_f64())
            .unwrap_or(0.0);
        let marker = PackageMarker {
            load_id: PENDING_MARKER_LOAD_ID.to_owned(),
            files: files.iter().filter_map(|path| file_name(path)).collect(),
            pending_since: Some(now),
        };
        self.save_marker(&marker)
    }

    /// Moves the pending marker's files to the marker of package `load_id`.
    pub fn claim_pending_marker(&self, pending: &PackageMarker, load_id: &str) -> Result<()> {
        let claimed = PackageMarker {
            load_id: load_id.to_owned(),
            files: pending.files.clone(),
            pending_since: None,
        };
        self.save_marker(&claimed)?;
        self.release_marker(pending)
    }

    fn save_marker(&self, marker: &PackageMarker) -> Result<()> {
        let text = serde_json::to_vec_pretty(marker).map_err(|e| Error::Internal(format!("cannot serialize a package marker: {e}")))?;
        write_atomic(&self.marker_path(&marker.load_id), &text)
    }

    /// Returns every package marker.
    pub fn markers(&self) -> Result<Vec<PackageMarker>> {
        let mut markers = Vec::new();
        for name in self.file_names()? {
            if !(name.starts_with(PACKAGE_MARKER_PREFIX) && name.ends_with(".json")) {
                continue;
            }
            let path = self.folder().join(&name);
            let text = std::fs::read(&path).map_err(|e| Error::io("read", &path, e))?;
            let marker = serde_json::from_slice(&text).map_err(|e| Error::InvalidData {
                path: path.clone(),
                line: Some(e.line() as u64),
                message: e.to_string(),
            })?;
            markers.push(marker);
        }
        Ok(markers)
    }

    /// Deletes the trace files of `marker` and the marker; call only after
    /// its package committed.
    pub fn remove_packaged(&self, marker: &PackageMarker) -> Result<()> {
        for name in &marker.files {
            remove_if_present(&self.folder().join(name))?;
        }
        remove_if_present(&self.marker_path(&marker.load_id))
    }

    /// Deletes the marker of a package that no longer exists unloaded, so
    /// its trace files are extracted again.
    pub fn release_marker(&self, marker: &PackageMarker) -> Result<()> {
        remove_if_present(&self.marker_path(&marker.load_id))
    }

    fn marker_path(&self, load_id: &str) -> PathBuf {
        self.folder().join(format!("{PACKAGE_MARKER_PREFIX}{load_id}.json"))
    }

    fn trace_file_names(&self) -> Result<Vec<String>> {
        Ok(self.file_names()?.into_iter().filter(|name| is_trace_file_name(name)).collect())
    }

    fn file_names(&self) -> Result<Vec<String>> {
        let folder = self.folder();
        let entries = match std::fs::read_dir(&folder) {
            Ok(entries) => entries,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(error) => return Err(Error::io("list", &folder, error)),
        };

        let mut names = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|e| Error::io("list", &folder, e))?;
            if entry.file_type().map_err(|e| Error::io("list", &folder, e))?.is_file()
                && let Some(name) = entry.file_name().to_str()
            {
                names.push(name.to_owned());
            }
        }
        names.sort();
        Ok(names)
    }
}

/// Returns true for names the runner writes to `traces/`.
pub fn is_trace_file_name(name: &str) -> bool {
    name.ends_with(TRACE_SUFFIX) && !name.starts_with('.')
}

/// Returns a trace's `started_at`, which sorts by time because every trace
/// writes it in one format (RFC 3339, UTC, microseconds); empty when missing.
fn started_at(row: &Value) -> &str {
    row.get("started_at").and_then(Value::as_str).unwrap_or("")
}

fn file_name(path: &Path) -> Option<String> {
    path.file_name().and_then(|name| name.to_str()).map(str::to_owned)
}

fn to_json(trace: &AttemptTrace) -> Result<Vec<u8>> {
    serde_json::to_vec_pretty(trace).map_err(|e| Error::Internal(format!("cannot serialize trace {}: {e}", trace.transaction_id)))
}

fn remove_if_present(path: &Path) -> Result<()> {
    match std::fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(error) => Err(Error::io("remove", path, error)),
    }
}
