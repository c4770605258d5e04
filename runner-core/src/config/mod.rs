//! `dlt.yml` project configuration.
//!
//! [`Project::load`] reads and validates the whole file before anything
//! else happens, and [`Project::resolve`] turns one pipeline into a
//! [`ResolvedPipeline`] with defaults applied and destination settings taken
//! from the environment. A complete file:
//!
//! ```yaml
//! sources:
//!   countries:
//!     type: files
//!     path: data/countries.json
//! destinations:            # `destination:` is accepted too
//!   warehouse:
//!     type: duckdb
//!     credentials: warehouse.duckdb
//! pipelines:
//!   countries_pipeline:
//!     source: countries
//!     destination: warehouse
//!     dataset_name: world
//!     run_config:
//!       store_trace_info: true
//!       retry_policy: {type: backoff, max_attempts: 5}
//!       retry_pipeline_steps: ["load"]
//! ```
//!
//! The types document every key: [`Project`] the top level, [`SourceConfig`]
//! and [`FilesSource`] the sources, [`DestinationConfig`] the destinations,
//! [`PipelineConfig`] the pipelines and [`RunConfig`] their `run_config`.
//! Unknown keys, duplicate keys, wrong types and names that refer to nothing
//! are errors ([`ConfigError`]) that name the file, line, column and key path.

mod contract;
mod destination;
mod error;
mod fields;
mod pipeline;
mod project;
pub mod resolve;
mod run_config;
mod source;
pub(crate) mod suggest;
mod toml_files;
mod yaml;

#[cfg(test)]
mod contract_tests;
#[cfg(test)]
mod tests;

pub use contract::DatasetConfig;
pub use destination::{BUILTIN_DESTINATION_TYPES, DestinationConfig};
pub use error::{ConfigError, ConfigErrorKind, Location};
pub use pipeline::PipelineConfig;
pub use project::{PROJECT_FILE_NAME, Project};
pub use resolve::ResolvedPipeline;
pub use run_config::{RetryPolicyConfig, RunConfig, TraceTarget};
pub use toml_files::TomlSettings;
pub use source::{FileFormat, FilesSource, IncrementalConfig, MergeStrategy, SourceConfig, WriteDisposition};
