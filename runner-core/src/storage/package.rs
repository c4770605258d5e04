use std::collections::HashSet;
use std::fs;
use std::path::{Path, PathBuf};

use super::atomic::sync_folder;
use super::{JobFileName, write_atomic};
use crate::schema::Schema;
use crate::{Error, Result};

/// The committed stage a package sits in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PackageStage {
    /// `normalize/extracted`: waiting for normalize.
    Extracted,
    /// `load/normalized`: waiting for load.
    Normalized,
    /// `load/loaded`: done (loaded or aborted).
    Loaded,
}

/// The sub-folder a job file sits in within a package.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobState {
    New,
    Started,
    Completed,
    Failed,
}

impl JobState {
    fn folder(self) -> &'static str {
        match self {
            JobState::New => "new_jobs",
            JobState::Started => "started_jobs",
            JobState::Completed => "completed_jobs",
            JobState::Failed => "failed_jobs",
        }
    }
}

/// File at a package's root that lists its job files by job id
/// (`<table>.<file_id>.<format>`), written before the package is committed.
/// dlt finds a package's jobs by listing its folders, so it loads the rest of
/// a package whose job file vanished and reports success. This runner
/// checks the list first.
const JOB_LIST_FILE: &str = "job_list.json";

/// A load package folder: `<stage folder>/<load_id>/`.
#[derive(Debug, Clone)]
pub struct LoadPackage {
    path: PathBuf,
    load_id: String,
    stage: PackageStage,
}

impl LoadPackage {
    pub fn new(path: PathBuf, load_id: String, stage: PackageStage) -> Self {
        LoadPackage { path, load_id, stage }
    }

    /// Creates the package folders of dlt's layout inside `path`.
    pub fn create(path: PathBuf, load_id: &str, stage: PackageStage) -> Result<Self> {
        for folder in ["new_jobs", "started_jobs", "completed_jobs", "failed_jobs", ".exceptions", ".pending_transitions"] {
            let folder = path.join(folder);
            fs::create_dir_all(&folder).map_err(|e| Error::io("create folder", &folder, e))?;
        }
        Ok(LoadPackage::new(path, load_id.to_owned(), stage))
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn load_id(&self) -> &str {
        &self.load_id
    }

    pub fn stage(&self) -> PackageStage {
        self.stage
    }

    pub fn jobs_dir(&self, state: JobState) -> PathBuf {
        self.path.join(state.folder())
    }

    /// Lists the job files in `state`, sorted by file name.
    pub fn jobs(&self, state: JobState) -> Result<Vec<JobFileName>> {
        let folder = self.jobs_dir(state);
        let entries = match fs::read_dir(&folder) {
            Ok(entries) => entries,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(error) => return Err(Error::io("list folder", &folder, error)),
        };

        let mut jobs = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|e| Error::io("list folder", &folder, e))?;
            let file_name = entry.file_name();
            let Some(file_name) = file_name.to_str() else { continue };
            // Hidden files are temporary files of a destination plugin that
            // a crash left behind, never jobs.
            if file_name.starts_with('.') {
                continue;
            }
            match JobFileName::parse(file_name) {
                Some(job) => jobs.push(job),
                None => {
                    return Err(self.damaged(format!(
                        "unexpected file `{file_name}` in `{}`",
                        folder.display()
                    )));
                }
            }
        }
        jobs.sort_by_key(|job| job.to_string());
        Ok(jobs)
    }

    pub fn job_path(&self, state: JobState, job: &JobFileName) -> PathBuf {
        self.jobs_dir(state).join(job.to_string())
    }

    /// Moves a job file between states with one rename.
    pub fn move_job(&self, job: &JobFileName, from: JobState, to: JobState) -> Result<()> {
        let source = self.job_path(from, job);
        let target = self.job_path(to, job);
        fs::rename(&source, &target).map_err(|e| Error::io("move job file", &source, e))
    }

    /// Moves a started job back to `new_jobs` under its next retry name and
    /// records why the attempt failed in `.exceptions`, as dlt does.
    pub fn retry_job(&self, job: &JobFileName, category: &str, message: &str) -> Result<JobFileName> {
        let exception = self.path.join(".exceptions").join(format!(
            "{}.{}.{}.exception",
            job.table_name, job.file_id, job.retry_count
        ));
        // The record only explains the failure, so it is not synced: a failed
        // load of 40,000 jobs spent about 75 s syncing their records.
        fs::write(&exception, format!("retry: {category}\n{message}")).map_err(|e| Error::io("write", &exception, e))?;

        let next = job.next_retry();
        let source = self.job_path(JobState::Started, job);
        let target = self.job_path(JobState::New, &next);
        fs::rename(&source, &target).map_err(|e| Error::io("move job file", &source, e))?;
        Ok(next)
    }

    pub fn schema_path(&self) -> PathBuf {
        self.path.join("schema.json")
    }

    pub fn read_schema(&self) -> Result<Schema> {
        let path = self.schema_path();
        let text = fs::read_to_string(&path).map_err(|e| Error::io("read", &path, e))?;
        Schema::from_json(&text)
    }

    pub fn write_schema(&self, schema: &Schema) -> Result<()> {
        write_atomic(&self.schema_path(), schema.to_compact_json().as_bytes())
    }

    /// Writes a JSON file at the package root (`load_package_state.json`, ...).
    pub fn write_json(&self, file_name: &str, value: &serde_json::Value) -> Result<()> {
        let text = serde_json::to_string(value).map_err(|e| Error::Internal(e.to_string()))?;
        write_atomic(&self.path.join(file_name), text.as_bytes())
    }

    /// Reads a JSON file at the package root; `None` when it does not exist.
    pub fn read_json(&self, file_name: &str) -> Result<Option<serde_json::Value>> {
        let path = self.path.join(file_name);
        let text = match fs::read_to_string(&path) {
            Ok(text) => text,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(error) => return Err(Error::io("read", &path, error)),
        };
        serde_json::from_str(&text)
            .map(Some)
            .map_err(|e| self.damaged(format!("`{file_name}` is not valid JSON: {e}")))
    }

    /// Writes the job list of a package whose job files are `file_names`.
    pub fn write_job_list<'a>(&self, file_names: impl IntoIterator<Item = &'a str>) -> Result<()> {
        let mut job_ids = Vec::new();
        for file_name in file_names {
            let job = JobFileName::parse(file_name)
                .ok_or_else(|| Error::Internal(format!("`{file_name}` is not the file name of a job")))?;
            job_ids.push(job.job_id());
        }
        job_ids.sort();
        self.write_json(JOB_LIST_FILE, &serde_json::json!({ "jobs": job_ids }))
    }

    /// Fails when a job of the package's job list is in none of the folders
    /// of `states`. A package without a list, as Python dlt writes them,
    /// passes.
    pub fn check_job_list(&self, states: &[JobState]) -> Result<()> {
        let Some(list) = self.read_json(JOB_LIST_FILE)? else {
            return Ok(());
        };
        let listed = list
            .get("jobs")
            .and_then(serde_json::Value::as_array)
            .ok_or_else(|| self.damaged(format!("`{JOB_LIST_FILE}` has no `jobs` array")))?;

        let listed: HashSet<&str> = listed.iter().filter_map(serde_json::Value::as_str).collect();
        if listed.is_empty() {
            return Err(self.damaged(format!("`{JOB_LIST_FILE}` lists no jobs, and every package has at least one")));
        }

        // Each job is in one folder under one retry count. A second copy, or
        // a job that the list lacks, would load its rows twice or rows that
        // are no part of the package.
        let mut present = HashSet::new();
        for state in states {
            for job in self.jobs(*state)? {
                let job_id = job.job_id();
                if !listed.contains(job_id.as_str()) {
                    return Err(self.damaged(format!(
                        "job file `{job}` in {} is not in the package's `{JOB_LIST_FILE}`; remove it",
                        state.folder()
                    )));
                }
                if !present.insert(job_id) {
                    return Err(self.damaged(format!(
                        "job `{}` has more than one file in the package (one is `{job}` in {}); keep one",
                        job.job_id(),
                        state.folder()
                    )));
                }
            }
        }

        let mut missing: Vec<&str> = listed.iter().copied().filter(|job_id| !present.contains(*job_id)).collect();
        missing.sort_unstable();
        let Some(first) = missing.first() else {
            return Ok(());
        };
        let folders: Vec<&str> = states.iter().map(|state| state.folder()).collect();
        let others = match missing.len() {
            1 => String::new(),
            count => format!(" and {} other job files", count - 1),
        };
        Err(self.damaged(format!(
            "job file `{first}`{others} of the package's {} are missing from {}, so loading the rest would lose their rows",
            listed.len(),
            folders.join(", ")
        )))
    }

    /// Renames the package folder into `stage_dir`, committing it to `stage`.
    pub fn commit(self, stage_dir: &Path, stage: PackageStage) -> Result<LoadPackage> {
        let target = stage_dir.join(&self.load_id);
        if target.exists() {
            return Err(self.damaged(format!("a package with this load id already exists in `{}`", stage_dir.display())));
        }
        fs::rename(&self.path, &target).map_err(|e| Error::io("commit package", &self.path, e))?;

        // Next, the copy in the previous stage is deleted, or the pipeline
        // state records the extract, so the rename must reach the disk
        // first. A lost move to `loaded` only makes the package load again,
        // and the destination skips it by its load id.
        if stage != PackageStage::Loaded {
            sync_folder(stage_dir)?;
        }

        // The scratch folder that held an extracted package is now empty.
        if let Some(parent) = self.path.parent()
            && parent.file_name().is_some_and(|name| name.len() == 16)
        {
            let _ = fs::remove_dir(parent);
        }
        Ok(LoadPackage::new(target, self.load_id, stage))
    }

    /// Deletes the package folder.
    pub fn remove(self) -> Result<()> {
        fs::remove_dir_all(&self.path).map_err(|e| Error::io("remove folder", &self.path, e))
    }

    fn damaged(&self, message: String) -> Error {
        Error::Package {
            load_id: self.load_id.clone(),
            message,
        }
    }
}
