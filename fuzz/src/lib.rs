//! Shared code of the fuzz targets: a scratch folder per input, a pipeline
//! over it, and a destination that accepts every package without storing it.
//!
//! Every target calls the public `runner-core` API as the `dlt` binary does.
//! Errors are expected outcomes and are rendered to text, because building a
//! message (snippets, line lookups) is code that may panic too. Only a panic,
//! an abort or a sanitizer report is a finding.

pub mod files;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use plugin_sdk::protocol::{
    DestinationCapabilities, LoadReport, LoadRequest, LoadStatusRequest, SchemaRequest, SchemaVersion, StateRequest,
    StoredState,
};
use plugin_sdk::{Destination, PluginError};
use runner_core::config::Project;
use runner_core::destination::DestinationHandle;
use runner_core::extract::files::{FileFormat, FilesReader};
use runner_core::extract::{Resource, Source, WriteDisposition};
use runner_core::state::PipelineState;
use runner_core::trace::TraceStore;
use runner_core::{Pipeline, PipelineOptions};
use serde_json::json;
use tempfile::TempDir;

/// Name of the pipeline every target runs; its working directory is
/// `<scratch>/pipelines/fuzz`.
pub const PIPELINE_NAME: &str = "fuzz";

/// Rows per record batch and per load file. Small values make a short input
/// exercise batch flushes and load file rotation.
const BATCH_ROWS: usize = 2;
const FILE_MAX_ROWS: u64 = 3;

/// Creates a scratch folder for one input, in `$FUZZ_SCRATCH_DIR`, else in
/// `/dev/shm` when it exists (the runner syncs files, and a sync on tmpfs
/// costs nothing), else in the system's temporary folder.
pub fn scratch_dir() -> TempDir {
    let parent = match std::env::var_os("FUZZ_SCRATCH_DIR") {
        Some(folder) => PathBuf::from(folder),
        None if Path::new("/dev/shm").is_dir() => PathBuf::from("/dev/shm"),
        None => std::env::temp_dir(),
    };
    tempfile::Builder::new()
        .prefix("dlt-fuzz-")
        .tempdir_in(parent)
        .expect("the scratch folder for a fuzz input cannot be created")
}

/// Returns the folder that contains the pipeline's working directory.
pub fn pipelines_dir(scratch: &Path) -> PathBuf {
    scratch.join("pipelines")
}

/// Opens the `fuzz` pipeline in `scratch` with the accepting destination.
pub fn open_pipeline(scratch: &Path) -> runner_core::Result<Pipeline> {
    let destination = DestinationHandle::new(
        "accept_all",
        "accept_all",
        AcceptAll::capabilities(),
        Box::new(AcceptAll),
    );
    let mut options = PipelineOptions::new(PIPELINE_NAME).with_pipelines_dir(pipelines_dir(scratch));
    options.normalize_batch_rows = BATCH_ROWS;
    options.file_max_rows = Some(FILE_MAX_ROWS);
    Pipeline::new(options, destination)
}

/// Writes `data` to an input file, extracts it as `format` and normalizes the
/// package into Parquet load files.
pub fn extract_and_normalize(data: &[u8], format: FileFormat) {
    let scratch = scratch_dir();
    let input = scratch.path().join("input");
    std::fs::write(&input, data).expect("the fuzz input cannot be written");

    let mut resource = Resource::from_producer("items", Box::new(FilesReader::new(&input, Some(format))));
    // JSON Lines runs with a nesting limit and `replace`, JSON with dlt's
    // defaults, so both branches of the relational normalizer run.
    if format == FileFormat::Jsonl {
        resource = resource
            .with_max_table_nesting(1)
            .with_write_disposition(WriteDisposition::Replace);
    }
    let source = Source::new("fuzz", vec![resource]);

    let result = open_pipeline(scratch.path()).and_then(|mut pipeline| {
        pipeline.extract(source)?;
        pipeline.normalize()
    });
    render(result);
}

/// Parses `data` as a `dlt.yml` file and resolves each of its pipelines.
pub fn parse_project(data: &[u8]) {
    let file = Path::new("/fuzz/dlt.yml");
    let project = match std::str::from_utf8(data) {
        Ok(text) => Project::from_str(text, file),
        // Text that is not UTF-8 is rejected on reading the file, with its
        // own message; only `Project::load` reaches that code.
        Err(_) => {
            let scratch = scratch_dir();
            let path = scratch.path().join("dlt.yml");
            std::fs::write(&path, data).expect("the fuzz input cannot be written");
            Project::load(&path)
        }
    };
    let project = match project {
        Ok(project) => project,
        Err(error) => {
            let _ = error.to_string();
            return;
        }
    };

    let environment = fuzz_environment();
    for name in project.pipelines.keys() {
        match project.resolve_with_env(name, &environment) {
            Ok(resolved) => {
                let _ = format!("{resolved:?}");
            }
            Err(error) => {
                let _ = error.to_string();
            }
        }
    }
}

/// Variables that `${VAR}` references and `DESTINATIONS__...` overrides of a
/// fuzzed `dlt.yml` can reach.
fn fuzz_environment() -> BTreeMap<String, String> {
    [
        ("FUZZ_VAR", "value"),
        ("DESTINATIONS__WAREHOUSE__CREDENTIALS", "{\"database\": \"w.duckdb\"}"),
        ("DESTINATION__WAREHOUSE__CREDENTIALS__PASSWORD", "secret"),
        ("DESTINATIONS__BUCKET__BUCKET_URL", "s3://bucket/path"),
    ]
    .into_iter()
    .map(|(key, value)| (key.to_owned(), value.to_owned()))
    .collect()
}

/// Lays out the files of `data` (see [`files::split`]) as the working
/// directory of the `fuzz` pipeline and reads it back as a run does. That
/// covers the traces and state, every pending package (normalize and load),
/// and a new package extracted on top of the stored state and schema.
pub fn run_over_working_dir(data: &[u8]) {
    let scratch = scratch_dir();
    let working_dir = pipelines_dir(scratch.path()).join(PIPELINE_NAME);
    files::write_all(&working_dir, &files::split(data));

    let traces = TraceStore::new(&working_dir);
    render(traces.read_last());
    render(traces.unpackaged_traces());
    render(traces.markers());
    render(PipelineState::load(&working_dir.join("state.json")));

    let rows = vec![json!({"id": 1, "name": "a", "tags": [{"tag": "x"}]})];
    let source = Source::new(PIPELINE_NAME, vec![Resource::from_rows("items", rows)]);
    render(open_pipeline(scratch.path()).and_then(|mut pipeline| pipeline.run(source)));
}

/// Renders a result as the CLI would, so that message code runs too.
fn render<T: std::fmt::Debug>(result: runner_core::Result<T>) {
    match result {
        Ok(value) => {
            let _ = format!("{value:?}");
        }
        Err(error) => {
            let _ = error.to_string();
        }
    }
}

/// A destination that accepts every package and stores nothing. Loading is
/// not under test: the targets check what the runner reads and writes on its
/// side of the plugin boundary.
struct AcceptAll;

impl AcceptAll {
    fn capabilities() -> DestinationCapabilities {
        DestinationCapabilities {
            preferred_loader_file_format: "parquet".to_owned(),
            supported_loader_file_formats: vec!["parquet".to_owned()],
            supported_write_dispositions: vec!["append".to_owned(), "replace".to_owned(), "merge".to_owned()],
            max_identifier_length: None,
            atomic_packages: true,
        }
    }
}

impl Destination for AcceptAll {
    fn load_package(&mut self, request: &LoadRequest) -> Result<LoadReport, PluginError> {
        let rows_per_table = request
            .jobs
            .iter()
            .map(|job| (job.table_name.clone(), job.row_count))
            .collect();
        Ok(LoadReport {
            applied: true,
            rows_per_table,
        })
    }

    fn fetch_state(&mut self, _request: &StateRequest) -> Result<Option<StoredState>, PluginError> {
        Ok(None)
    }

    fn fetch_schema(&mut self, _request: &SchemaRequest) -> Result<Option<SchemaVersion>, PluginError> {
        Ok(None)
    }

    fn is_load_committed(&mut self, _request: &LoadStatusRequest) -> Result<bool, PluginError> {
        Ok(false)
    }
}
