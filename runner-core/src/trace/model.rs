//! The trace of one attempt, as written to `traces/*_trace.json` and loaded
//! into the `<pipeline>_trace` tables.
//!
//! Timestamps are RFC 3339 strings in UTC with microseconds; durations are
//! seconds. No field contains a configuration value: `resolved_config_keys`
//! lists key paths only, and exception messages are the engine's own error
//! texts, which name keys, files and ids but never print configuration values.

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};

use crate::error::{ErrorCategory, Step};
use crate::pipeline::{PackageInfo, SchemaChange, SyncOutcome};

/// Version of the trace JSON layout; raised when a field changes meaning.
pub const TRACE_FORMAT_VERSION: u32 = 1;

/// One attempt of a run or a finalize.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AttemptTrace {
    /// 32 random hex characters, distinct for every attempt.
    pub transaction_id: String,
    pub pipeline_name: String,
    /// `run` or `finalize pending data`.
    pub description: String,
    /// 1-based attempt number within the run.
    pub attempt: u32,
    /// True when the attempt succeeded.
    pub success: bool,
    pub execution_context: ExecutionContext,
    pub started_at: String,
    pub finished_at: String,
    /// The sync from the destination, when the attempt ran one. The first
    /// attempt of a run syncs, but retries and finalize do not. It is kept
    /// apart from `steps`, which contain dlt's three steps as dlt's traces do.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sync: Option<StepTrace>,
    /// Extract, normalize and load in the order they ran; a failed attempt
    /// ends with the failed step.
    pub steps: Vec<StepTrace>,
    /// Configuration keys that were set for this pipeline, as dotted paths
    /// such as `destinations.warehouse.credentials.password`; values are never stored.
    pub resolved_config_keys: Vec<String>,
    pub engine_version: u32,
}

/// Execution context of an attempt: platform, runner version and CI.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExecutionContext {
    /// `std::env::consts::OS`, such as `linux`.
    pub os: String,
    /// `std::env::consts::ARCH`, such as `x86_64`.
    pub arch: String,
    pub runner_name: String,
    pub runner_version: String,
    /// True when the environment variable `CI` is set, as CI services do.
    pub ci_run: bool,
}

impl ExecutionContext {
    /// Describes the running process.
    pub fn current() -> Self {
        ExecutionContext {
            os: std::env::consts::OS.to_owned(),
            arch: std::env::consts::ARCH.to_owned(),
            runner_name: "dlt-runner-rs".to_owned(),
            runner_version: env!("CARGO_PKG_VERSION").to_owned(),
            ci_run: std::env::var_os("CI").is_some(),
        }
    }
}

/// One step (sync, extract, normalize or load) of an attempt.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepTrace {
    /// `sync`, `extract`, `normalize` or `load`.
    pub step: String,
    pub started_at: String,
    pub finished_at: String,
    pub duration_seconds: f64,
    /// False when the step failed; its `exceptions` then hold the error chain.
    pub success: bool,
    /// Details of the step's work; absent for a failed step.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step_info: Option<StepInfo>,
    /// The error and its causes, outermost first; empty for a successful step.
    pub exceptions: Vec<ExceptionTrace>,
}

/// Details of a successful step's work.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct StepInfo {
    /// Sync: `nothing_stored`, `up_to_date` or `restored`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sync_outcome: Option<String>,
    /// Sync: schemas restored from the destination, which change the local schema.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub restored_schemas: Vec<String>,
    /// Extract: the load id of the new package, when the source produced data.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub load_ids: Vec<String>,
    /// Normalize: per package that changed its schema, the tables and
    /// columns it added and the schema version before and after.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub schema_changes: Vec<SchemaChange>,
    /// Load: every package loaded, with jobs and rows per table.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub packages: Vec<PackageTrace>,
}

/// One loaded package.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PackageTrace {
    pub load_id: String,
    /// False when the destination had committed the package already.
    pub applied: bool,
    pub job_count: u64,
    pub row_count: u64,
    /// Rows per table, in load order.
    pub tables: Vec<TableTrace>,
    /// Name, version and `version_hash` of the schema the package was
    /// loaded with. Reading an older trace without them gives empty values.
    #[serde(default)]
    pub schema_name: String,
    #[serde(default)]
    pub schema_version: u64,
    #[serde(default)]
    pub schema_version_hash: String,
    /// Tables that the package's schema update created or gave new columns;
    /// the destination created or altered those it lacked. Empty when the
    /// package was not applied or changed no table.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub migrated_tables: Vec<String>,
}

/// Rows loaded into one table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TableTrace {
    pub table_name: String,
    pub row_count: u64,
}

/// One error of an exception chain.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExceptionTrace {
    /// The error's message (its `Display` text).
    pub message: String,
    /// The Rust type of the error, with the variant for engine errors, such
    /// as `runner_core::Error::Destination`.
    pub exception_type: String,
    /// `config`, `transient`, `terminal` or `internal`; absent for foreign errors.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category: Option<String>,
    /// True when retrying cannot fix this error.
    pub is_terminal: bool,
}

/// Formats a timestamp as the trace stores it.
pub fn format_time(time: DateTime<Utc>) -> String {
    time.to_rfc3339_opts(SecondsFormat::Micros, true)
}

impl StepInfo {
    pub(crate) fn from_sync(outcome: &SyncOutcome) -> Self {
        let (name, schemas) = match outcome {
            SyncOutcome::NothingStored => ("nothing_stored", Vec::new()),
            SyncOutcome::UpToDate => ("up_to_date", Vec::new()),
            SyncOutcome::Restored { schemas, .. } => ("restored", schemas.clone()),
        };
        StepInfo {
            sync_outcome: Some(name.to_owned()),
            restored_schemas: schemas,
            ..StepInfo::default()
        }
    }

    pub(crate) fn from_extract(load_id: Option<&str>) -> Self {
        StepInfo {
            load_ids: load_id.map(str::to_owned).into_iter().collect(),
            ..StepInfo::default()
        }
    }

    pub(crate) fn from_normalize(changes: &[SchemaChange]) -> Self {
        StepInfo {
            schema_changes: changes.to_vec(),
            ..StepInfo::default()
        }
    }

    pub(crate) fn from_packages(packages: &[PackageInfo]) -> Self {
        StepInfo {
            load_ids: packages.iter().map(|package| package.load_id.clone()).collect(),
            packages: packages.iter().map(PackageTrace::from_info).collect(),
            ..StepInfo::default()
        }
    }
}

impl PackageTrace {
    fn from_info(info: &PackageInfo) -> Self {
        PackageTrace {
            load_id: info.load_id.clone(),
            applied: info.applied,
            job_count: info.job_count as u64,
            row_count: info.total_rows(),
            tables: info
                .rows_per_table
                .iter()
                .map(|(table, rows)| TableTrace {
                    table_name: table.clone(),
                    row_count: *rows,
                })
                .collect(),
            schema_name: info.schema_name.clone(),
            schema_version: info.schema_version,
            schema_version_hash: info.schema_version_hash.clone(),
            migrated_tables: info.migrated_tables.clone(),
        }
    }
}

impl AttemptTrace {
    /// Returns the packages that the attempt's load steps loaded.
    pub fn loaded_packages(&self) -> impl Iterator<Item = &PackageTrace> {
        self.steps
            .iter()
            .filter_map(|step| step.step_info.as_ref())
            .flat_map(|info| info.packages.iter())
    }

    /// Returns the failed step (sync included), if any.
    pub fn failed_step(&self) -> Option<&StepTrace> {
        self.sync.iter().chain(self.steps.iter()).find(|step| !step.success)
    }
}

/// Returns the name `Step` has in a trace.
pub(crate) fn step_name(step: Step) -> String {
    step.as_str().to_owned()
}

/// Returns the category name a trace stores.
pub(crate) fn category_name(category: ErrorCategory) -> String {
    category.as_str().to_owned()
}
