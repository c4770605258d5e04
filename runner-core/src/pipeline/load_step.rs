//! Load: a normalized package into the destination, then into `load/loaded`.

use indexmap::IndexMap;
use plugin_sdk::protocol::{ColumnSpec, LoadJob, LoadRequest, SchemaVersion, TableSpec};

use super::{PackageInfo, Pipeline};
use crate::schema::{ENGINE_VERSION, Schema};
use crate::storage::{JobFileName, JobState, LoadPackage, PackageStage, write_atomic};
use crate::{Error, Result};

pub(super) fn load_package(pipeline: &mut Pipeline, package: LoadPackage) -> Result<PackageInfo> {
    let load_id = package.load_id().to_owned();
    let span = tracing::info_span!("load", load_id = %load_id, destination = %pipeline.destination.name);
    let _entered = span.enter();

    package.check_job_list(&[JobState::New, JobState::Started, JobState::Completed])?;
    let schema = package.read_schema()?;
    let updated_tables = schema_update_tables(&package)?;
    let jobs = start_jobs(&package)?;
    let request = build_request(pipeline, &package, &schema, &jobs)?;

    let report = match pipeline.destination.client.load_package(&request) {
        Ok(report) => report,
        Err(error) => {
            // The destination rolled the package back; the jobs wait in
            // `new_jobs` under their next retry name, as dlt keeps them.
            for job in &jobs {
                package.retry_job(job, error.category.as_str(), &error.to_string())?;
            }
            // The runner logs the failed attempt; this line only adds the package state.
            tracing::debug!(category = %error.category, error = %error, "package failed to load and stays pending");
            return Err(Error::Destination {
                pipeline: pipeline.name.clone(),
                destination: pipeline.destination.name.clone(),
                load_id,
                pending_jobs: package.jobs_dir(JobState::New),
                source: error,
            });
        }
    };

    for job in &jobs {
        package.move_job(job, JobState::Started, JobState::Completed)?;
    }
    mark_schema_updates_applied(&package)?;
    write_atomic(&package.path().join("package_completed.json"), b"loaded")?;
    package.commit(&pipeline.working_dir.stage_dir(PackageStage::Loaded), PackageStage::Loaded)?;

    let rows_per_table: IndexMap<String, u64> = report.rows_per_table.iter().cloned().collect();
    let total: u64 = rows_per_table.values().sum();
    pipeline.progress.add_loaded(total);
    if report.applied {
        tracing::info!(rows = total, jobs = jobs.len(), "loaded package");
    } else {
        tracing::info!("package was already committed by an earlier attempt; not loaded again");
    }

    Ok(PackageInfo {
        load_id,
        applied: report.applied,
        rows_per_table,
        job_count: jobs.len(),
        schema_name: schema.name,
        schema_version: schema.version,
        schema_version_hash: schema.version_hash,
        migrated_tables: if report.applied { updated_tables } else { Vec::new() },
    })
}

/// Returns the tables of the package's pending schema update, or nothing
/// when an earlier attempt applied it (the file is renamed then).
fn schema_update_tables(package: &LoadPackage) -> Result<Vec<String>> {
    let path = package.path().join("schema_updates.json");
    let text = match std::fs::read(&path) {
        Ok(text) => text,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(error) => return Err(Error::io("read", &path, error)),
    };
    let updates: IndexMap<String, serde_json::Value> = serde_json::from_slice(&text).map_err(|e| Error::InvalidData {
        path: path.clone(),
        line: Some(e.line() as u64),
        message: e.to_string(),
    })?;
    Ok(updates.into_keys().collect())
}

/// Moves every new job to `started_jobs`; returns all started jobs,
/// including those a crashed run left there.
fn start_jobs(package: &LoadPackage) -> Result<Vec<JobFileName>> {
    for job in package.jobs(JobState::New)? {
        package.move_job(&job, JobState::New, JobState::Started)?;
    }
    package.jobs(JobState::Started)
}

fn build_request(pipeline: &Pipeline, package: &LoadPackage, schema: &Schema, jobs: &[JobFileName]) -> Result<LoadRequest> {
    let mut load_jobs = Vec::with_capacity(jobs.len());
    for job in jobs {
        if job.extension != "parquet" {
            return Err(Error::Package {
                load_id: package.load_id().to_owned(),
                message: format!("job `{job}` is not a Parquet file; only Parquet load files are supported"),
            });
        }
        let path = package.job_path(JobState::Started, job);
        let row_count = parquet_row_count(&path)?;
        load_jobs.push(LoadJob {
            job_id: job.job_id(),
            table_name: job.table_name.clone(),
            file_path: path.to_string_lossy().into_owned(),
            file_format: job.extension.clone(),
            row_count,
        });
    }

    Ok(LoadRequest {
        pipeline_name: pipeline.name.clone(),
        load_id: package.load_id().to_owned(),
        dataset_name: pipeline.dataset_name.clone(),
        schema: SchemaVersion {
            name: schema.name.clone(),
            version: schema.version,
            engine_version: ENGINE_VERSION,
            version_hash: schema.version_hash.clone(),
            schema_json: schema.to_compact_json(),
        },
        tables: table_specs(schema),
        truncate_tables: replace_tables(schema, jobs),
        jobs: load_jobs,
    })
}

/// Reads the row count from a Parquet file's footer.
fn parquet_row_count(path: &std::path::Path) -> Result<u64> {
    use parquet::file::reader::{FileReader, SerializedFileReader};

    let file = std::fs::File::open(path).map_err(|e| Error::io("open", path, e))?;
    let reader = SerializedFileReader::new(file).map_err(|e| Error::Arrow {
        action: "reading Parquet footer",
        path: path.to_path_buf(),
        message: e.to_string(),
    })?;
    Ok(u64::try_from(reader.metadata().file_metadata().num_rows()).unwrap_or(0))
}

/// Tables the destination must have: dlt's own tables and every table that
/// received data, with their complete columns.
fn table_specs(schema: &Schema) -> Vec<TableSpec> {
    schema
        .tables
        .values()
        .filter(|table| table.name.starts_with("_dlt") || table.has_seen_data())
        .filter(|table| table.columns.values().any(|column| column.is_complete()))
        .map(|table| TableSpec {
            name: table.name.clone(),
            write_disposition: table
                .write_disposition
                .clone()
                .unwrap_or_else(|| write_disposition_of(schema, &table.name)),
            merge_strategy: merge_strategy_of(schema, &table.name),
            parent: table.parent.clone(),
            columns: table
                .columns
                .values()
                .filter_map(|column| {
                    Some(ColumnSpec {
                        name: column.name.clone(),
                        data_type: column.data_type?.as_str().to_owned(),
                        nullable: column.nullable,
                        precision: column.precision,
                        scale: column.scale,
                        timezone: column.timezone,
                        primary_key: column.primary_key == Some(true),
                        merge_key: column.merge_key == Some(true),
                        root_key: column.root_key == Some(true),
                        row_key: column.row_key == Some(true),
                    })
                })
                .collect(),
        })
        .collect()
}

/// Nested tables inherit the write disposition of their root table.
fn write_disposition_of(schema: &Schema, table: &str) -> String {
    let root = schema.root_table_of(table);
    schema
        .tables
        .get(&root)
        .and_then(|root| root.write_disposition.clone())
        .unwrap_or_else(|| "append".to_owned())
}

/// Returns the `x-merge-strategy` hint of the root table, which nested tables share.
fn merge_strategy_of(schema: &Schema, table: &str) -> Option<String> {
    let root = schema.root_table_of(table);
    schema
        .tables
        .get(&root)
        .and_then(|root| root.extra.get("x-merge-strategy"))
        .and_then(|strategy| strategy.as_str())
        .map(str::to_owned)
}

/// For each root table loaded with `replace`, the root and all its nested
/// tables that exist in the destination, so that nested rows of the old
/// data go too.
fn replace_tables(schema: &Schema, jobs: &[JobFileName]) -> Vec<String> {
    let mut tables: Vec<String> = Vec::new();
    for job in jobs {
        let root = schema.root_table_of(&job.table_name);
        let is_replace = schema
            .tables
            .get(&root)
            .and_then(|table| table.write_disposition.as_deref())
            == Some("replace");
        if !is_replace || tables.contains(&root) {
            continue;
        }
        tables.push(root.clone());
        for nested in schema.nested_tables(&root) {
            let seen = schema.tables.get(&nested).is_some_and(|table| table.has_seen_data());
            if seen && !tables.contains(&nested) {
                tables.push(nested);
            }
        }
    }
    tables
}

/// Renames `schema_updates.json` to `applied_schema_updates.json`: its
/// absence tells a later run that the migration is done.
fn mark_schema_updates_applied(package: &LoadPackage) -> Result<()> {
    let pending = package.path().join("schema_updates.json");
    if pending.exists() {
        let applied = package.path().join("applied_schema_updates.json");
        std::fs::rename(&pending, &applied).map_err(|e| Error::io("rename", &pending, e))?;
    }
    Ok(())
}
