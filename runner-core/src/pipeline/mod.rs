//! The pipeline: extract, normalize and load over a working directory.

mod extract_step;
mod info;
mod load_step;
mod normalize_step;
mod progress;
mod sync_step;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Instant;

pub use info::{AddedColumn, LoadInfo, PackageInfo, SchemaChange};
pub use progress::{Progress, ProgressSnapshot};
pub use sync_step::SyncOutcome;

use crate::destination::DestinationHandle;
use crate::error::Step;
use crate::extract::Source;
use crate::storage::{LoadPackage, PackageStage, PipelineLock, WorkingDir};
use crate::{Error, Result, naming};

/// Environment variable that moves dlt's data folder (and so every working
/// directory) away from `~/.dlt`, or from a project's `_data/dev`.
pub const DATA_DIR_ENV: &str = "DLT_DATA_DIR";

/// Entries of the working directory that [`Pipeline::wipe_working_dir`] keeps.
const KEPT_ON_WIPE: [&str; 2] = [crate::trace::TRACES_FOLDER, crate::trace::LAST_TRACE_FILE];

/// Deletes every entry of `folder` except those named in `kept`.
fn remove_all_but(folder: &Path, kept: &[&str]) -> Result<()> {
    let entries = match std::fs::read_dir(folder) {
        Ok(entries) => entries,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(error) => return Err(Error::io("list", folder, error)),
    };

    for entry in entries {
        let entry = entry.map_err(|e| Error::io("list", folder, e))?;
        if entry.file_name().to_str().is_some_and(|name| kept.contains(&name)) {
            continue;
        }
        let path = entry.path();
        let is_dir = entry.file_type().map_err(|e| Error::io("list", &path, e))?.is_dir();
        let removed = if is_dir { std::fs::remove_dir_all(&path) } else { std::fs::remove_file(&path) };
        removed.map_err(|e| Error::io("remove", &path, e))?;
    }
    Ok(())
}

/// Deletes a folder that [`WorkingDir::retire`] moved aside. A failure only
/// leaves the folder for the next run's recovery, so it is logged.
fn remove_retired(folder: &Path) {
    if let Err(error) = std::fs::remove_dir_all(folder) {
        tracing::warn!(folder = %folder.display(), %error, "failed to delete a processed package; the next run deletes it");
    }
}

/// Settings of a pipeline.
#[derive(Debug, Clone)]
pub struct PipelineOptions {
    pub pipeline_name: String,
    /// Folder holding every pipeline's working directory. Defaults to
    /// `$DLT_DATA_DIR/pipelines`, or `~/.dlt/pipelines` when that is unset.
    pub pipelines_dir: Option<PathBuf>,
    /// Dataset (DuckDB schema, bucket folder) to load into; defaults to
    /// `<pipeline_name>_dataset`, normalized with the naming convention.
    pub dataset_name: Option<String>,
    /// Rows buffered per table before normalize writes a record batch.
    pub normalize_batch_rows: usize,
    /// Rows after which normalize starts a new load file, or no limit when
    /// `None`. A `dlt.yml` project takes it from dlt's
    /// `NORMALIZE__DATA_WRITER__FILE_MAX_ITEMS` (or `DATA_WRITER__FILE_MAX_ITEMS`).
    pub file_max_rows: Option<u64>,
    /// Bytes of encoded rows from which normalize starts a new load file, or
    /// no limit when `None`. A `dlt.yml` project takes it from dlt's
    /// `NORMALIZE__DATA_WRITER__FILE_MAX_BYTES` (or `DATA_WRITER__FILE_MAX_BYTES`).
    pub file_max_bytes: Option<u64>,
    /// Threads normalize may keep busy: at 2 or more, JSON rows are parsed
    /// on a thread of their own, and Parquet files are encoded (with the
    /// nested row ids hashed) on another. Defaults to the number of CPUs, at
    /// most 2; a `dlt.yml` project takes it from `NORMALIZE__WORKERS`, as dlt
    /// does.
    pub normalize_workers: usize,
}

impl PipelineOptions {
    pub fn new(pipeline_name: impl Into<String>) -> Self {
        PipelineOptions {
            pipeline_name: pipeline_name.into(),
            pipelines_dir: None,
            dataset_name: None,
            normalize_batch_rows: 16_384,
            file_max_rows: None,
            file_max_bytes: None,
            normalize_workers: default_normalize_workers(),
        }
    }

    /// Sets the threads normalize may keep busy; 1 keeps it on one thread.
    pub fn with_normalize_workers(mut self, workers: usize) -> Self {
        self.normalize_workers = workers.max(1);
        self
    }

    /// Sets the rows after which normalize starts a new load file, at least 1.
    pub fn with_file_max_rows(mut self, rows: u64) -> Self {
        self.file_max_rows = Some(rows.max(1));
        self
    }

    /// Sets the encoded bytes from which normalize starts a new load file,
    /// at least 1.
    pub fn with_file_max_bytes(mut self, bytes: u64) -> Self {
        self.file_max_bytes = Some(bytes.max(1));
        self
    }

    pub fn with_pipelines_dir(mut self, folder: impl Into<PathBuf>) -> Self {
        self.pipelines_dir = Some(folder.into());
        self
    }

    pub fn with_dataset_name(mut self, dataset_name: impl Into<String>) -> Self {
        self.dataset_name = Some(dataset_name.into());
        self
    }
}

/// Normalize threads by default: more than two do not pay yet, because the
/// parser and encoder threads beside the normalizer are fixed at one each.
fn default_normalize_workers() -> usize {
    std::thread::available_parallelism().map_or(1, |cpus| cpus.get().min(2))
}

/// Returns the default folder of pipeline working directories.
pub fn default_pipelines_dir() -> Result<PathBuf> {
    if let Some(data_dir) = std::env::var_os(DATA_DIR_ENV) {
        return Ok(PathBuf::from(data_dir).join("pipelines"));
    }
    let home = std::env::var_os("HOME").ok_or_else(|| {
        Error::config(format!(
            "cannot find the pipelines folder: neither {DATA_DIR_ENV} nor HOME is set; set {DATA_DIR_ENV} to a writable folder"
        ))
    })?;
    Ok(PathBuf::from(home).join(".dlt").join("pipelines"))
}

/// Folder of a project's working directories, under the project folder as
/// dlt+ keeps them for its default profile `dev`.
pub const PROJECT_PIPELINES_DIR: &str = "_data/dev/pipelines";

/// Returns the folder of working directories for the pipelines of the
/// project in `project_dir`: `$DLT_DATA_DIR/pipelines` when the variable is
/// set, else `<project_dir>/_data/dev/pipelines`. A folder per project keeps
/// two projects with a pipeline of the same name apart: in one shared folder
/// they used each other's state, incremental cursors and pending packages.
pub fn project_pipelines_dir(project_dir: &Path) -> PathBuf {
    match std::env::var_os(DATA_DIR_ENV) {
        Some(data_dir) => PathBuf::from(data_dir).join("pipelines"),
        None => project_dir.join(PROJECT_PIPELINES_DIR),
    }
}

/// Checks a pipeline name: it becomes a folder name and a key in dlt's state.
pub fn validate_pipeline_name(name: &str) -> Result<()> {
    let invalid = name.is_empty()
        || name.trim() != name
        || name.contains(['.', '%', '{', '}', '/', '\\', '\0']);
    if invalid {
        return Err(Error::config(format!(
            "invalid pipeline name `{name}`: use a non-empty name without `.`, `%`, `{{`, `}}`, path separators or surrounding spaces"
        )));
    }
    Ok(())
}

/// A function called on the step's thread after each step of a [`Pipeline`]
/// ends, whether it succeeded or not; see [`Pipeline::set_step_end_hook`].
pub type StepEndHook = Arc<dyn Fn(Step) + Send + Sync>;

/// A pipeline with its working directory and destination.
pub struct Pipeline {
    name: String,
    dataset_name: String,
    working_dir: WorkingDir,
    _lock: PipelineLock,
    destination: DestinationHandle,
    options: PipelineOptions,
    progress: Arc<Progress>,
    step_end_hook: Option<StepEndHook>,
    /// Threads deleting retired package folders; see [`Pipeline::remove_in_background`].
    removals: Vec<JoinHandle<()>>,
}

impl Pipeline {
    /// Opens (or creates) the pipeline's working directory.
    pub fn new(options: PipelineOptions, destination: DestinationHandle) -> Result<Self> {
        validate_pipeline_name(&options.pipeline_name)?;

        let pipelines_dir = match &options.pipelines_dir {
            Some(folder) => folder.clone(),
            None => default_pipelines_dir()?,
        };
        let raw_dataset = options
            .dataset_name
            .clone()
            .unwrap_or_else(|| format!("{}_dataset", options.pipeline_name));
        let dataset_name = naming::normalize_identifier(&raw_dataset);
        if dataset_name != raw_dataset {
            tracing::warn!(dataset = %raw_dataset, normalized = %dataset_name, "dataset name normalized by the naming convention");
        }
        let lock = PipelineLock::acquire(&pipelines_dir.join(format!("{}.lock", options.pipeline_name)), &options.pipeline_name)?;
        let working_dir = WorkingDir::open(pipelines_dir.join(&options.pipeline_name))?;

        Ok(Pipeline {
            name: options.pipeline_name.clone(),
            dataset_name,
            working_dir,
            _lock: lock,
            destination,
            options,
            progress: Arc::new(Progress::default()),
            step_end_hook: None,
            removals: Vec::new(),
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn dataset_name(&self) -> &str {
        &self.dataset_name
    }

    pub fn working_dir(&self) -> &Path {
        self.working_dir.root()
    }

    pub fn destination(&self) -> &DestinationHandle {
        &self.destination
    }

    /// Counters for a progress display; shared, so another thread may poll them.
    pub fn progress(&self) -> Arc<Progress> {
        Arc::clone(&self.progress)
    }

    /// Sets a function to call after each step (sync, extract, normalize,
    /// load). A program can use it to return the memory a step freed to the
    /// system before the next step, which its allocator may keep for a while.
    pub fn set_step_end_hook(&mut self, hook: StepEndHook) {
        self.step_end_hook = Some(hook);
    }

    /// Deletes the folder of a package that no stage needs any more on a
    /// thread of its own, after moving it out of its stage. Deleting the
    /// 546 MB extracted file of 1M nested events took 90 ms. If the process
    /// ends first, the next run's [`Pipeline::recover`] deletes the rest.
    fn remove_in_background(&mut self, package: LoadPackage) -> Result<()> {
        let folder = self.working_dir.retire(package)?;

        let thread_folder = folder.clone();
        let spawned = std::thread::Builder::new()
            .name("package-removal".to_owned())
            .spawn(move || remove_retired(&thread_folder));
        match spawned {
            Ok(handle) => self.removals.push(handle),
            Err(_) => remove_retired(&folder),
        }
        Ok(())
    }

    /// Waits for the deletions that [`Pipeline::remove_in_background`] started.
    fn finish_removals(&mut self) {
        for handle in self.removals.drain(..) {
            // A panic there leaves a folder that the next run deletes.
            let _ = handle.join();
        }
    }

    fn step_ended(&self, step: Step) {
        if let Some(hook) = &self.step_end_hook {
            hook(step);
        }
    }

    /// Returns true when packages from an earlier run wait to be normalized or loaded.
    pub fn has_pending_data(&self) -> Result<bool> {
        self.working_dir.has_pending_packages()
    }

    /// Normalizes and loads every pending package, then extracts `source`
    /// into a new package and loads it. Pending data is never skipped: it is
    /// completed first, with its original load ids.
    pub fn run(&mut self, source: Source) -> Result<LoadInfo> {
        let span = tracing::info_span!("run", pipeline = %self.name);
        let _entered = span.enter();
        let started = Instant::now();

        let pending = self.finish_pending()?;
        let pending_count = pending.len();

        self.extract(source)?;
        let mut packages = pending;
        packages.extend(self.normalize_and_load()?);

        Ok(self.load_info(packages, pending_count, started))
    }

    /// Normalizes and loads packages left by earlier runs; returns what was loaded.
    pub fn finalize(&mut self) -> Result<LoadInfo> {
        let span = tracing::info_span!("finalize", pipeline = %self.name);
        let _entered = span.enter();
        let started = Instant::now();

        let packages = self.finish_pending()?;
        let count = packages.len();
        Ok(self.load_info(packages, count, started))
    }

    fn finish_pending(&mut self) -> Result<Vec<PackageInfo>> {
        self.recover()?;

        if !self.working_dir.has_pending_packages()? {
            return Ok(Vec::new());
        }
        tracing::info!("completing packages left pending by an earlier run");
        self.normalize_and_load()
    }

    fn normalize_and_load(&mut self) -> Result<Vec<PackageInfo>> {
        self.normalize()?;
        self.load()
    }

    /// Restores the state and schemas from the destination when its stored
    /// state is newer than the local one; see [`SyncOutcome`].
    pub fn sync(&mut self) -> Result<SyncOutcome> {
        let outcome = sync_step::sync_from_destination(self).map_err(|error| error.in_step(Step::Sync, &self.name));
        self.step_ended(Step::Sync);
        outcome
    }

    /// Deletes the local working directory (state, schemas, packages) and
    /// creates it empty, except for the runner's trace files (`traces/`,
    /// `last_trace.json`), which may not be loaded yet. Refuses while
    /// packages are pending, so that no extracted or normalized data is ever dropped.
    pub fn wipe_working_dir(&mut self) -> Result<()> {
        if self.working_dir.has_pending_packages()? {
            return Err(Error::config(format!(
                "pipeline `{}` has pending packages in `{}`; load them first with `dlt pipeline <name> run`, or discard them with `dlt pipeline <name> drop-pending-packages`",
                self.name,
                self.working_dir.root().display()
            )));
        }
        let root = self.working_dir.root().to_path_buf();
        remove_all_but(&root, &KEPT_ON_WIPE)?;
        self.working_dir = WorkingDir::open(root)?;
        Ok(())
    }

    /// Deletes every pending (extracted or normalized) package and rewinds
    /// the local state to what it was before the oldest of them was
    /// extracted, so incremental cursors do not skip the dropped rows.
    /// Returns the dropped load ids. Data in the destination is untouched.
    pub fn drop_pending_packages(&mut self) -> Result<Vec<String>> {
        self.recover()?;
        let mut packages = self.working_dir.packages(PackageStage::Extracted)?;
        packages.extend(self.working_dir.packages(PackageStage::Normalized)?);
        packages.sort_by(|a, b| a.load_id().cmp(b.load_id()));

        // Extraction snapshots `state.json` into `.restore` when one exists;
        // no snapshot means the oldest package was extracted with no state.
        if let Some(oldest) = packages.first() {
            let snapshot = oldest.path().join(".restore").join("state.json");
            let state_path = self.working_dir.state_path();
            if snapshot.exists() {
                let text = std::fs::read(&snapshot).map_err(|e| Error::io("read", &snapshot, e))?;
                crate::storage::write_atomic(&state_path, &text)?;
            } else if state_path.exists() {
                std::fs::remove_file(&state_path).map_err(|e| Error::io("remove", &state_path, e))?;
            }
        }

        let mut dropped = Vec::with_capacity(packages.len());
        for package in packages {
            let load_id = package.load_id().to_owned();
            package.remove()?;
            tracing::warn!(load_id = %load_id, "dropped pending package");
            dropped.push(load_id);
        }
        Ok(dropped)
    }

    /// Discards scratch folders left by an interrupted run; see [`WorkingDir::recover`].
    pub fn recover(&mut self) -> Result<()> {
        for folder in self.working_dir.recover()? {
            tracing::info!(folder = %folder, "discarded an incomplete stage left by an interrupted run");
        }
        Ok(())
    }

    /// Normalizes every extracted package; returns the schema changes of
    /// the packages that changed their schema, oldest package first.
    pub fn normalize(&mut self) -> Result<Vec<SchemaChange>> {
        let changes = self.normalize_packages();
        self.step_ended(Step::Normalize);
        changes
    }

    fn normalize_packages(&mut self) -> Result<Vec<SchemaChange>> {
        let mut changes = Vec::new();
        for package in self.working_dir.packages(PackageStage::Extracted)? {
            let change = normalize_step::normalize_package(self, package).map_err(|error| error.in_step(Step::Normalize, &self.name))?;
            if !change.is_empty() {
                changes.push(change);
            }
        }
        Ok(changes)
    }

    /// Loads every normalized package, oldest first.
    pub fn load(&mut self) -> Result<Vec<PackageInfo>> {
        let loaded = self.load_packages();
        self.finish_removals();
        self.step_ended(Step::Load);
        loaded
    }

    fn load_packages(&mut self) -> Result<Vec<PackageInfo>> {
        let mut loaded = Vec::new();
        for package in self.working_dir.packages(PackageStage::Normalized)? {
            let info = load_step::load_package(self, package).map_err(|error| error.in_step(Step::Load, &self.name))?;
            loaded.push(info);
        }
        Ok(loaded)
    }

    /// Extracts `source` into a new package; returns its load id, or `None`
    /// when the source produced nothing and the state did not change.
    pub fn extract(&mut self, source: Source) -> Result<Option<String>> {
        let load_id = extract_step::extract_source(self, source).map_err(|error| error.in_step(Step::Extract, &self.name));
        self.step_ended(Step::Extract);
        load_id
    }

    pub(crate) fn load_info_since(&self, packages: Vec<PackageInfo>, pending_packages: usize, started: Instant) -> LoadInfo {
        self.load_info(packages, pending_packages, started)
    }

    fn load_info(&self, packages: Vec<PackageInfo>, pending_packages: usize, started: Instant) -> LoadInfo {
        LoadInfo {
            pipeline_name: self.name.clone(),
            destination_name: self.destination.name.clone(),
            destination_type: self.destination.type_name.clone(),
            dataset_name: self.dataset_name.clone(),
            packages,
            pending_packages,
            duration: started.elapsed(),
        }
    }
}

impl Drop for Pipeline {
    /// Waits for package deletions still running, while the pipeline lock is
    /// held, so that the next user of the working directory finds them done.
    fn drop(&mut self) {
        self.finish_removals();
    }
}
