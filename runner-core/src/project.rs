//! Wiring of one `dlt.yml` pipeline: its destination plugin, its source and
//! its working directory.
//!
//! The whole project file is validated before anything is created on disk:
//! a configuration error leaves no folder behind.

use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use crate::config::{DestinationConfig, FilesSource, Project, ResolvedPipeline, SourceConfig};
use crate::destination::DestinationHandle;
use crate::extract::files::FilesReader;
use crate::extract::{Resource, Source};
use crate::pipeline::{default_pipelines_dir, validate_pipeline_name};
use crate::plugins::{PluginKind, PluginSearch, load_destination_library, open_source_plugin};
use crate::{Error, Pipeline, PipelineOptions, Result};

/// Settings that come from the command line or the embedding program rather
/// than from `dlt.yml`.
#[derive(Debug, Clone, Default)]
pub struct OpenOptions {
    /// Folder of working directories; see [`default_pipelines_dir`].
    pub pipelines_dir: Option<PathBuf>,
    /// Where plugin libraries are searched; the standard order when `None`.
    pub plugin_search: Option<PluginSearch>,
}

/// A pipeline of a project, ready to run its source.
pub struct OpenedPipeline {
    pub pipeline: Pipeline,
    pub source: Source,
    pub resolved: ResolvedPipeline,
}

/// Loads the project at `project_path` (a folder or a `dlt.yml` file) and
/// opens pipeline `name` with its destination and source.
pub fn open_pipeline(project_path: &Path, name: &str, options: &OpenOptions) -> Result<OpenedPipeline> {
    let project = Project::load(project_path)?;
    let resolved = project.resolve(name)?;
    validate_pipeline_name(&resolved.name)?;
    warn_about_unapplied_run_config(&resolved);

    let pipelines_dir = match &options.pipelines_dir {
        Some(folder) => folder.clone(),
        None => default_pipelines_dir()?,
    };
    let working_dir = pipelines_dir.join(&resolved.name);
    let search = options
        .plugin_search
        .clone()
        .unwrap_or_else(|| PluginSearch::standard(Some(&resolved.project_dir)));

    let source = build_source(&resolved, &search, &working_dir)?;
    let destination = open_destination(&resolved, &search, &working_dir)?;

    let pipeline_options = PipelineOptions::new(&resolved.name)
        .with_pipelines_dir(pipelines_dir)
        .with_dataset_name(&resolved.dataset_name);
    let pipeline = Pipeline::new(pipeline_options, destination)?;

    Ok(OpenedPipeline {
        pipeline,
        source,
        resolved,
    })
}

/// The `_runner` object added to every plugin's configuration.
fn runner_context(resolved: &ResolvedPipeline, working_dir: &Path) -> Value {
    json!({
        "pipeline_name": resolved.name,
        "project_dir": resolved.project_dir,
        "working_dir": working_dir,
    })
}

fn open_destination(resolved: &ResolvedPipeline, search: &PluginSearch, working_dir: &Path) -> Result<DestinationHandle> {
    let DestinationConfig { name, type_name, config } = &resolved.destination;
    let path = search.find(PluginKind::Destination, type_name)?;
    let library = load_destination_library(&path)?;

    let mut config = config.clone();
    if let Value::Object(map) = &mut config {
        map.insert("_runner".to_owned(), runner_context(resolved, working_dir));
    }
    DestinationHandle::from_library(name, &library, &config).map_err(|source| Error::DestinationCall {
        destination: name.clone(),
        action: "open",
        source,
    })
}

fn build_source(resolved: &ResolvedPipeline, search: &PluginSearch, working_dir: &Path) -> Result<Source> {
    match &resolved.source {
        SourceConfig::Files(files) => files_source(resolved, files),
        SourceConfig::Plugin { type_name, config } => {
            let mut config = config.clone();
            if let Value::Object(map) = &mut config {
                map.insert("_runner".to_owned(), runner_context(resolved, working_dir));
            }
            open_source_plugin(search, &resolved.source_name, type_name, &config)
        }
    }
}

fn files_source(resolved: &ResolvedPipeline, files: &FilesSource) -> Result<Source> {
    if let Some(incremental) = &files.incremental {
        // TODO: incremental cursors on the files source.
        return Err(Error::config(format!(
            "source `{}`: `incremental` (cursor `{}`) is not supported yet by this runner; remove it to load every row",
            resolved.source_name, incremental.cursor_path
        )));
    }

    let pattern = resolved.project_dir.join(&files.path);
    let reader = FilesReader::new(pattern, files.effective_format());
    let table_name = files.table_name.clone().unwrap_or_else(|| resolved.source_name.clone());

    let mut resource = Resource::from_producer(table_name.clone(), Box::new(reader))
        .with_table_name(table_name)
        .with_write_disposition(files.write_disposition)
        .with_primary_key(files.primary_key.clone());
    if let Some(levels) = files.max_table_nesting {
        resource = resource.with_max_table_nesting(levels);
    }
    Ok(Source::new(resolved.source_name.clone(), vec![resource]))
}

fn warn_about_unapplied_run_config(resolved: &ResolvedPipeline) {
    let defaults = crate::config::RunConfig::default();
    if resolved.run_config != defaults {
        // TODO: apply run_config (retries, trace storage, clean folder) in the runner.
        tracing::warn!(
            pipeline = %resolved.name,
            "run_config is validated but not applied yet: the pipeline runs once, without retries or trace storage"
        );
    }
}
