//! Wiring of one `dlt.yml` pipeline: its destination plugin, its source and
//! its working directory.
//!
//! The whole project file is validated before anything is created on disk:
//! a configuration error leaves no folder behind.

use std::num::IntErrorKind;
use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use crate::config::{DestinationConfig, FilesSource, Project, ResolvedPipeline, SourceConfig, TraceTarget};
use crate::destination::DestinationHandle;
use crate::extract::files::FilesReader;
use crate::extract::{Resource, Source};
use crate::pipeline::{project_pipelines_dir, validate_pipeline_name};
use crate::plugins::{PluginKind, PluginSearch, load_destination_library, open_source_plugin};
use crate::runner::{Runner, RunnerOptions, record_failed_open};
use crate::trace::{TRACE_PIPELINE_PREFIX, TraceSink, config_key_paths};
use crate::{Error, Pipeline, PipelineOptions, Result};

/// Settings that come from the command line or the embedding program rather
/// than from `dlt.yml`.
#[derive(Debug, Clone, Default)]
pub struct OpenOptions {
    /// Folder of working directories; see [`project_pipelines_dir`].
    pub pipelines_dir: Option<PathBuf>,
    /// Plugin search folders; the standard order when `None`.
    pub plugin_search: Option<PluginSearch>,
    /// Writes the trace of a failed run when the destination plugin rejects
    /// opening; set for runs only.
    pub trace_failed_open: bool,
    /// Leaves dlt's normalize settings in the environment
    /// (`NORMALIZE__WORKERS` and the `FILE_MAX_ITEMS` and `FILE_MAX_BYTES`
    /// settings of `NORMALIZE__DATA_WRITER__` and `DATA_WRITER__`) unread.
    /// Set by commands that never normalize, so that an invalid value there
    /// does not stop them.
    pub ignore_normalize_env: bool,
    /// Names of the source's resources to run, as dlt's `with_resources`;
    /// `None` runs all of them.
    pub resources: Option<Vec<String>>,
    /// Rows read from each resource at most, as dlt's `add_limit`.
    pub max_items: Option<u64>,
}

/// Creates the source of a pipeline; called again when extraction is retried.
pub type SourceFactory = Box<dyn FnMut() -> Result<Source> + Send>;

/// A pipeline of a project, ready to run its source.
pub struct OpenedPipeline {
    pub pipeline: Pipeline,
    pub source: SourceFactory,
    /// The runner settings of the pipeline's `run_config`.
    pub runner_options: RunnerOptions,
    pub resolved: ResolvedPipeline,
    /// The trace pipeline of `store_trace_info`; `None` when it is off.
    pub trace_sink: Option<TraceSink>,
}

impl OpenedPipeline {
    /// Creates a runner for this pipeline with its `run_config`.
    pub fn into_runner(self) -> (Runner, SourceFactory) {
        let mut runner = Runner::new(self.pipeline, self.runner_options);
        if let Some(sink) = self.trace_sink {
            runner = runner.with_trace_sink(sink);
        }
        (runner, self.source)
    }
}

/// Loads the project at `project_path` (a folder or a `dlt.yml` file) and
/// opens pipeline `name` with its destination and source.
pub fn open_pipeline(project_path: &Path, name: &str, options: &OpenOptions) -> Result<OpenedPipeline> {
    let project = Project::load(project_path)?;
    let resolved = project.resolve(name)?;
    validate_pipeline_name(&resolved.name)?;

    let pipelines_dir = match &options.pipelines_dir {
        Some(folder) => folder.clone(),
        None => project_pipelines_dir(&resolved.project_dir),
    };
    let working_dir = pipelines_dir.join(&resolved.name);
    let search = options
        .plugin_search
        .clone()
        .unwrap_or_else(|| PluginSearch::standard(Some(&resolved.project_dir)));

    // Everything that can fail on configuration happens before the working
    // directory is created, so a bad project leaves no folder behind.
    let (normalize_workers, file_max_rows, file_max_bytes) = if options.ignore_normalize_env {
        (None, None, None)
    } else {
        (normalize_workers_from_env()?, file_max_items_from_env()?, file_max_bytes_from_env()?)
    };
    let mut runner_options = RunnerOptions::from_run_config(&resolved.run_config, &search)?;
    runner_options.resolved_config_keys = resolved_config_keys(&resolved);
    let trace_sink = trace_sink(&project, &resolved, &search, &pipelines_dir)?;
    let mut source = source_factory(&resolved, &search, &working_dir, options);
    source()?;
    let started_at = chrono::Utc::now();
    let destination = match open_destination(&resolved, &search, &working_dir) {
        Ok(destination) => destination,
        // Only the destination's own open is traced: a plugin that is
        // missing or cannot load is a project error, which leaves no
        // working directory behind. Trace failures are logged inside.
        Err(error) if options.trace_failed_open && matches!(error, Error::DestinationCall { .. }) => {
            record_failed_open(&working_dir, &resolved.name, &runner_options, trace_sink, started_at, &error);
            return Err(error);
        }
        Err(error) => return Err(error),
    };

    let mut pipeline_options = PipelineOptions::new(&resolved.name)
        .with_pipelines_dir(pipelines_dir)
        .with_dataset_name(&resolved.dataset_name);
    if let Some(workers) = normalize_workers {
        pipeline_options = pipeline_options.with_normalize_workers(workers);
    }
    if let Some(rows) = file_max_rows {
        pipeline_options = pipeline_options.with_file_max_rows(rows);
    }
    if let Some(bytes) = file_max_bytes {
        pipeline_options = pipeline_options.with_file_max_bytes(bytes);
    }
    let pipeline = Pipeline::new(pipeline_options, destination)?;

    Ok(OpenedPipeline {
        pipeline,
        source,
        runner_options,
        resolved,
        trace_sink,
    })
}

/// Environment variable of dlt's normalize worker count.
const NORMALIZE_WORKERS_ENV: &str = "NORMALIZE__WORKERS";

/// Environment variables of dlt's row limit per normalized load file, the
/// more specific first, as dlt resolves its config sections.
const FILE_MAX_ITEMS_ENVS: [&str; 2] = ["NORMALIZE__DATA_WRITER__FILE_MAX_ITEMS", "DATA_WRITER__FILE_MAX_ITEMS"];

/// Environment variables of dlt's byte limit per normalized load file, in
/// the same order.
const FILE_MAX_BYTES_ENVS: [&str; 2] = ["NORMALIZE__DATA_WRITER__FILE_MAX_BYTES", "DATA_WRITER__FILE_MAX_BYTES"];

/// Reads dlt's `NORMALIZE__WORKERS` setting, if set.
fn normalize_workers_from_env() -> Result<Option<usize>> {
    let meaning = "a positive whole number: the number of threads normalize may use, such as 2";
    let workers = whole_number_env(NORMALIZE_WORKERS_ENV, 1, meaning)?;
    Ok(workers.map(|workers| usize::try_from(workers).unwrap_or(usize::MAX)))
}

/// Reads dlt's `file_max_items` setting of the normalize data writer, if
/// set. 0 means no limit, as in dlt.
fn file_max_items_from_env() -> Result<Option<u64>> {
    let meaning = "a whole number: the maximum rows per load file, such as 100000, or 0 for no limit";
    file_limit_from_env(FILE_MAX_ITEMS_ENVS, meaning)
}

/// Reads dlt's `file_max_bytes` setting of the normalize data writer, like
/// [`file_max_items_from_env`].
fn file_max_bytes_from_env() -> Result<Option<u64>> {
    let meaning = "a whole number: the bytes from which a load file ends, such as 100000000, or 0 for no limit";
    file_limit_from_env(FILE_MAX_BYTES_ENVS, meaning)
}

/// Returns the value of the first of `names` that is set, or `None` when
/// none is set or the value is 0. Every name is checked, also after the
/// first one set, because Python dlt's extract reads the general variable
/// and fails on an invalid value there.
fn file_limit_from_env(names: [&str; 2], meaning: &str) -> Result<Option<u64>> {
    let mut limit = None;
    for name in names {
        let value = whole_number_env(name, 0, meaning)?;
        limit = limit.or(value);
    }
    Ok(limit.filter(|value| *value > 0))
}

/// Reads environment variable `name` as a whole number of at least
/// `minimum`. A number beyond `u64::MAX` counts as `u64::MAX`, a limit that
/// no input reaches. `meaning` completes the hint of the error.
fn whole_number_env(name: &str, minimum: u64, meaning: &str) -> Result<Option<u64>> {
    let Ok(text) = std::env::var(name) else {
        return Ok(None);
    };
    let Some(digits) = without_digit_separators(text.trim()) else {
        return Err(invalid_env(name, &text, meaning));
    };
    let value = match digits.parse::<u64>() {
        Ok(value) => value,
        Err(error) if *error.kind() == IntErrorKind::PosOverflow => u64::MAX,
        Err(_) => return Err(invalid_env(name, &text, meaning)),
    };
    if value < minimum {
        return Err(invalid_env(name, &text, meaning));
    }
    Ok(Some(value))
}

/// Returns `text` without the underscores that Python's `int()` accepts
/// between two digits, as in `100_000`, or `None` when an underscore is
/// anywhere else.
fn without_digit_separators(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut digits = String::with_capacity(text.len());
    for (index, character) in text.char_indices() {
        if character != '_' {
            digits.push(character);
            continue;
        }
        let after_digit = index > 0 && bytes[index - 1].is_ascii_digit();
        let before_digit = bytes.get(index + 1).is_some_and(u8::is_ascii_digit);
        if !(after_digit && before_digit) {
            return None;
        }
    }
    Some(digits)
}

/// Returns the error for environment variable `name` set to `text`.
fn invalid_env(name: &str, text: &str, meaning: &str) -> Error {
    Error::config(format!("{name}=`{text}` is invalid. Set it to {meaning}, or unset it"))
}

/// Returns the key paths of the pipeline's destination and source
/// configuration, without values, for the trace.
fn resolved_config_keys(resolved: &ResolvedPipeline) -> Vec<String> {
    let mut keys = config_key_paths(&format!("destinations.{}", resolved.destination.name), &resolved.destination.config);
    if let SourceConfig::Plugin { config, .. } = &resolved.source {
        keys.extend(config_key_paths(&format!("sources.{}", resolved.source_name), config));
    }
    keys
}

/// Returns the trace pipeline of `store_trace_info`. The pipeline opens at
/// each store, so a destination that is down only fails that store.
fn trace_sink(project: &Project, resolved: &ResolvedPipeline, search: &PluginSearch, pipelines_dir: &Path) -> Result<Option<TraceSink>> {
    let target = match &resolved.run_config.store_trace_info {
        TraceTarget::Off => return Ok(None),
        TraceTarget::SamePipeline => {
            let mut target = resolved.clone();
            target.name = format!("{TRACE_PIPELINE_PREFIX}{}", resolved.name);
            target.dataset_name = format!("{TRACE_PIPELINE_PREFIX}{}", resolved.dataset_name);
            target
        }
        TraceTarget::Pipeline(name) => project.resolve(name)?,
    };
    validate_pipeline_name(&target.name)?;

    let search = search.clone();
    let pipelines_dir = pipelines_dir.to_path_buf();
    let open = move || {
        let working_dir = pipelines_dir.join(&target.name);
        let destination = open_destination(&target, &search, &working_dir)?;
        let options = PipelineOptions::new(&target.name)
            .with_pipelines_dir(pipelines_dir.clone())
            .with_dataset_name(&target.dataset_name);
        Pipeline::new(options, destination)
    };
    Ok(Some(TraceSink::with_factory(&resolved.name, Box::new(open))))
}

/// Builds the `_runner` object added to every plugin's configuration. The
/// configuration is JSON, so both folders must be valid UTF-8.
fn runner_context(resolved: &ResolvedPipeline, working_dir: &Path) -> Result<Value> {
    let utf8_path = |path: &Path, what: &str| {
        path.to_str().map(str::to_owned).ok_or_else(|| {
            Error::config(format!(
                "the {what} `{}` is not valid UTF-8. Choose a folder whose path is valid UTF-8",
                path.display()
            ))
        })
    };
    Ok(json!({
        "pipeline_name": resolved.name,
        "project_dir": utf8_path(&resolved.project_dir, "project folder")?,
        "working_dir": utf8_path(working_dir, "working directory (set by --pipelines-dir)")?,
        "disable_compression": resolved.disable_compression,
    }))
}

fn open_destination(resolved: &ResolvedPipeline, search: &PluginSearch, working_dir: &Path) -> Result<DestinationHandle> {
    let DestinationConfig { name, type_name, config } = &resolved.destination;
    let path = search.find(PluginKind::Destination, type_name)?;
    let library = load_destination_library(&path)?;

    let mut config = config.clone();
    if let Value::Object(map) = &mut config {
        map.insert("_runner".to_owned(), runner_context(resolved, working_dir)?);
    }
    DestinationHandle::from_library(name, &library, &config).map_err(|source| Error::DestinationCall {
        destination: name.clone(),
        action: "open",
        source,
    })
}

/// Returns a function that builds the pipeline's source afresh on each call.
fn source_factory(resolved: &ResolvedPipeline, search: &PluginSearch, working_dir: &Path, options: &OpenOptions) -> SourceFactory {
    let resolved = resolved.clone();
    let search = search.clone();
    let working_dir = working_dir.to_path_buf();
    let resources = options.resources.clone();
    let max_items = options.max_items;
    Box::new(move || {
        let mut source = build_source(&resolved, &search, &working_dir)?;
        if let Some(names) = &resources {
            source = source.with_resources(names)?;
        }
        if let Some(rows) = max_items {
            source = source.with_max_items(rows);
        }
        Ok(source)
    })
}

fn build_source(resolved: &ResolvedPipeline, search: &PluginSearch, working_dir: &Path) -> Result<Source> {
    let mut source = open_source(resolved, search, working_dir)?;

    // The dataset's (or the files source's) contract covers every resource
    // that does not bring its own.
    if let Some(contract) = resolved.schema_contract {
        for resource in &mut source.resources {
            resource.schema_contract.get_or_insert(contract);
        }
    }
    Ok(source)
}

fn open_source(resolved: &ResolvedPipeline, search: &PluginSearch, working_dir: &Path) -> Result<Source> {
    match &resolved.source {
        SourceConfig::Files(files) => files_source(resolved, files),
        SourceConfig::Plugin { type_name, config } => {
            let mut config = config.clone();
            if let Value::Object(map) = &mut config {
                map.insert("_runner".to_owned(), runner_context(resolved, working_dir)?);
            }
            open_source_plugin(search, &resolved.source_name, type_name, &config)
        }
    }
}

fn files_source(resolved: &ResolvedPipeline, files: &FilesSource) -> Result<Source> {
    let pattern = resolved.project_dir.join(&files.path);
    let reader = FilesReader::new(pattern, files.effective_format());
    let table_name = files.table_name.clone().unwrap_or_else(|| resolved.source_name.clone());

    let mut resource = Resource::from_producer(table_name.clone(), Box::new(reader))
        .with_table_name(table_name)
        .with_write_disposition(files.write_disposition)
        .with_primary_key(files.primary_key.clone())
        .with_merge_key(files.merge_key.clone());
    if let Some(strategy) = files.merge_strategy {
        resource = resource.with_merge_strategy(strategy);
    }
    if let Some(incremental) = &files.incremental {
        resource = resource.with_incremental(incremental.cursor_path.clone(), incremental.initial_value.clone());
    }
    if let Some(levels) = files.max_table_nesting {
        resource = resource.with_max_table_nesting(levels);
    }
    Ok(Source::new(resolved.source_name.clone(), vec![resource]))
}
