//! `pipelines.<name>`: which source goes to which destination, and how to run it.

use super::error::{ConfigError, Location};
use super::fields::{Fields, as_str};
use super::run_config::{RunConfig, parse_run_config};
use super::yaml::Entry;

/// One entry of the `pipelines` mapping.
///
/// ```yaml
/// pipelines:
///   countries_pipeline:
///     source: countries        # a name from sources
///     destination: warehouse   # a name from destinations, or a bare type such as duckdb
///     dataset_name: world      # optional; default <pipeline_name>_dataset
///     run_config: {}           # optional, see RunConfig
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct PipelineConfig {
    /// The entry's name, which is also the pipeline's name.
    pub name: String,
    /// `source` (required): a key of `sources`.
    pub source: String,
    /// `destination` (required): a key of `destinations`, or a built-in
    /// destination type (`duckdb`, `filesystem`) that no entry defines.
    pub destination: String,
    /// `dataset_name`: the dataset (schema) that the tables go to. See
    /// [`PipelineConfig::dataset_name_or_default`].
    pub dataset_name: Option<String>,
    /// `run_config`, with defaults for everything absent.
    pub run_config: RunConfig,
}

impl PipelineConfig {
    /// Returns `dataset_name`, or `<pipeline_name>_dataset` as dlt defaults it.
    pub fn dataset_name_or_default(&self) -> String {
        match &self.dataset_name {
            Some(name) => name.clone(),
            None => format!("{}_dataset", self.name),
        }
    }
}

const PIPELINE_KEYS: &[&str] = &["source", "destination", "dataset_name", "run_config"];

/// A parsed pipeline with the locations of the names it refers to, which the
/// project checks once all sections are read.
pub(crate) struct ParsedPipeline {
    pub config: PipelineConfig,
    pub source_location: Location,
    pub destination_location: Location,
    pub trace_pipeline_location: Option<Location>,
}

/// Reads one entry of `pipelines` found at `path`.
pub(crate) fn parse_pipeline(entry: &Entry, path: &str) -> Result<ParsedPipeline, ConfigError> {
    let fields = Fields::read(&entry.value, path, entry.key_location, PIPELINE_KEYS)?;

    let source_entry = fields.require(
        "source",
        "add `source:` with the name of an entry in sources",
    )?;
    let source = as_str(&source_entry.value, &fields.key_path("source"))?;

    let destination_help =
        "add `destination:` with the name of an entry in destinations, or `duckdb`";
    let destination_entry = fields.require("destination", destination_help)?;
    let destination = as_str(&destination_entry.value, &fields.key_path("destination"))?;

    let dataset_name = fields
        .string("dataset_name")?
        .map(|name| name.value.to_owned());

    let (run_config, trace_pipeline_location) = match fields.get("run_config") {
        Some(run_entry) => {
            let parsed = parse_run_config(run_entry, &fields.key_path("run_config"))?;
            (parsed.config, parsed.trace_pipeline_location)
        }
        None => (RunConfig::default(), None),
    };

    Ok(ParsedPipeline {
        config: PipelineConfig {
            name: entry.key.clone(),
            source: source.value.to_owned(),
            destination: destination.value.to_owned(),
            dataset_name,
            run_config,
        },
        source_location: source.location,
        destination_location: destination.location,
        trace_pipeline_location,
    })
}
