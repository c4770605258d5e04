//! Extract: resources into a new package under `normalize/extracted`.

use std::fs;
use std::path::PathBuf;

use chrono::Utc;
use serde_json::{Map, Value, json};

use super::Pipeline;
use crate::extract::{CursorState, ExtractedTable, IncrementalSink, PackageWriter, Resource, Source};
use crate::extract::{ItemProducer, ItemSink, LimitSink, ResourceOutput};
use crate::load_id::new_load_id;
use crate::schema::{Column, SCHEMA_CONTRACT_HINT, Schema, Table};
use crate::state::PipelineState;
use crate::storage::{JobFolder, JobState, LoadPackage, PackageStage, write_atomic};
use crate::typed_json::{TypedValue, encode};
use crate::{Error, Result, naming};

/// Engine version of the state document dlt 1.31 writes.
const STATE_ENGINE_VERSION: i64 = 4;

pub(super) fn extract_source(pipeline: &mut Pipeline, source: Source) -> Result<Option<String>> {
    let schema_name = naming::normalize_identifier(&source.name);
    let load_id = new_load_id(pipeline.working_dir.newest_load_id()?.as_deref());
    let span = tracing::info_span!("extract", load_id = %load_id, schema = %schema_name);
    let _entered = span.enter();

    let mut schema = load_live_schema(pipeline, &schema_name)?;
    let mut state = load_or_create_state(pipeline, &schema_name)?;

    let scratch = pipeline.working_dir.new_extract_scratch(&load_id)?;
    let package = LoadPackage::create(scratch, &load_id, PackageStage::Extracted)?;
    let job_folder = JobFolder::open(&package.jobs_dir(JobState::New));
    snapshot_state(pipeline, &package)?;

    let mut extracted = Vec::new();
    for mut resource in source.resources {
        extracted.push(extract_resource(pipeline, &package, &mut schema, &mut state, &source.name, &mut resource)?);
    }
    let data_rows: u64 = extracted.iter().map(|table| table.rows).sum();
    let mut files: Vec<PathBuf> = extracted.iter().flat_map(|table| table.files.iter().cloned()).collect();

    state.bump_version();
    let state_changed = state.needs_extract();
    if state_changed {
        files.extend(write_state_row(pipeline, &package, &mut schema, &state)?.files);
    }

    if data_rows == 0 && !state_changed {
        tracing::info!("nothing extracted; no package created");
        package.remove()?;
        return Ok(None);
    }

    job_folder.sync_files(files.iter().map(PathBuf::as_path))?;
    package.write_job_list(files.iter().filter_map(|path| path.file_name()?.to_str()))?;
    schema.bump_version();
    package.write_schema(&schema)?;
    package.write_json("load_package_state.json", &package_state(&load_id))?;
    let committed = package.commit(&pipeline.working_dir.stage_dir(PackageStage::Extracted), PackageStage::Extracted)?;

    // The package is committed, so the schema and state it carries become
    // the live ones. A crash before these writes leaves the old state live,
    // and the package's own copy (in its `_dlt_pipeline_state` job) is what
    // the destination receives.
    save_live_schema(pipeline, &schema)?;
    state.mark_extracted(Utc::now());
    state.save(&pipeline.working_dir.state_path())?;

    tracing::info!(rows = data_rows, tables = extracted.len(), path = %committed.path().display(), "extracted package");
    Ok(Some(load_id))
}

fn extract_resource(
    pipeline: &Pipeline,
    package: &LoadPackage,
    schema: &mut Schema,
    state: &mut PipelineState,
    source_name: &str,
    resource: &mut Resource,
) -> Result<ExtractedTable> {
    let table_name = naming::normalize_path(&resource.table_name);
    if table_name.starts_with("_dlt") {
        return Err(Error::config(format!(
            "resource `{}` writes to table `{table_name}`, but names starting with `_dlt` are reserved for dlt's own tables; choose another table_name",
            resource.name
        )));
    }
    let disposition = resource.write_disposition.as_str();
    if !pipeline.destination.supports_write_disposition(disposition) {
        return Err(Error::config(format!(
            "destination `{}` ({}) does not support write disposition `{disposition}` used by resource `{}`; supported: {}",
            pipeline.destination.name,
            pipeline.destination.type_name,
            resource.name,
            pipeline.destination.capabilities.supported_write_dispositions.join(", ")
        )));
    }
    check_merge_keys(resource, &table_name)?;
    apply_resource_hints(schema, &table_name, resource);

    let progress = pipeline.progress();
    let report = |rows: u64| progress.add_extracted(rows);
    let mut writer = PackageWriter::new(&package.jobs_dir(JobState::New), &table_name, &report);

    let mut resource_state: Map<String, Value> = state.resource_state_mut(source_name, &resource.name).clone();
    match &resource.incremental {
        Some(incremental) => {
            let mut cursor = CursorState::from_state(&resource.name, incremental, &resource.primary_key, &resource_state);
            let mut filter = IncrementalSink {
                inner: &mut writer,
                cursor: &mut cursor,
                skipped: 0,
            };
            produce(&resource.name, resource.max_items, resource.producer.as_mut(), &mut filter, &mut resource_state)?;
            let skipped = filter.skipped;
            cursor.store(&mut resource_state);
            tracing::info!(resource = %resource.name, cursor = %incremental.cursor_path, skipped, "skipped rows already loaded");
        }
        None => produce(&resource.name, resource.max_items, resource.producer.as_mut(), &mut writer, &mut resource_state)?,
    }
    *state.resource_state_mut(source_name, &resource.name) = resource_state;

    let extracted = writer.finish()?;
    tracing::debug!(resource = %resource.name, table = %extracted.table_name, rows = extracted.rows, "extracted resource");
    Ok(extracted)
}

/// Runs the resource's producer into `sink`, through a [`LimitSink`] when
/// the resource has a row limit. The limit counts the rows the producer
/// gives, before an incremental cursor filters them, as dlt's `add_limit`
/// counts the items of the resource itself.
fn produce(
    name: &str,
    max_items: Option<u64>,
    producer: &mut dyn ItemProducer,
    sink: &mut dyn ItemSink,
    state: &mut Map<String, Value>,
) -> Result<()> {
    let Some(max_items) = max_items else {
        let mut output = ResourceOutput { sink, state };
        return producer.produce(&mut output);
    };

    let mut limited = LimitSink {
        inner: sink,
        remaining: max_items,
        reached: false,
    };
    let mut output = ResourceOutput {
        sink: &mut limited,
        state,
    };
    match producer.produce(&mut output) {
        // The error is the sink's own signal to stop.
        Err(_) if limited.reached => {
            tracing::info!(resource = %name, rows = max_items, "stopped the resource at its row limit");
            Ok(())
        }
        result => result,
    }
}

/// Rejects `merge` without key columns. dlt falls back to append there, which
/// silently duplicates rows on every run.
fn check_merge_keys(resource: &Resource, table_name: &str) -> Result<()> {
    if resource.write_disposition != crate::extract::WriteDisposition::Merge {
        return Ok(());
    }
    if resource.primary_key.is_empty() && resource.merge_key.is_empty() {
        return Err(Error::config(format!(
            "resource `{}` loads table `{table_name}` with write disposition merge but has no primary_key or merge_key; add one so stored rows can be matched",
            resource.name
        )));
    }
    let is_upsert = resource.merge_strategy == Some(crate::extract::MergeStrategy::Upsert);
    if is_upsert && resource.primary_key.is_empty() {
        return Err(Error::config(format!(
            "resource `{}` loads table `{table_name}` with merge strategy upsert, which needs a primary_key; add one",
            resource.name
        )));
    }
    Ok(())
}

/// Creates the root table with the resource's hints, as dlt does before any
/// data arrives: primary key columns come first in the column order.
fn apply_resource_hints(schema: &mut Schema, table_name: &str, resource: &Resource) {
    let table = schema
        .tables
        .entry(table_name.to_owned())
        .or_insert_with(|| Table::new(table_name));
    table.write_disposition = Some(resource.write_disposition.as_str().to_owned());
    table.resource = Some(resource.name.clone());
    if let Some(strategy) = resource.merge_strategy {
        table.extra.insert("x-merge-strategy".to_owned(), Value::from(strategy.as_str()));
    }
    if let Some(contract) = &resource.schema_contract {
        table.extra.insert(SCHEMA_CONTRACT_HINT.to_owned(), contract.to_hint());
    }

    if let Some(levels) = resource.max_table_nesting {
        let hints = table.x_normalizer.get_or_insert_with(|| Value::Object(Map::new()));
        if let Value::Object(map) = hints {
            map.insert("max_nesting".to_owned(), Value::from(levels));
        }
    }

    if let Some(incremental) = &resource.incremental {
        let column_name = naming::normalize_path(&incremental.cursor_path.replace('.', naming::PATH_SEPARATOR));
        let column = table
            .columns
            .entry(column_name.clone())
            .or_insert_with(|| hinted_column(&column_name));
        column.incremental = Some(true);
    }

    // A resource's primary_key and merge_key replace the table's earlier
    // ones, as dlt replaces such compound hints, so a misspelt key that was
    // fixed in dlt.yml leaves the schema.
    if !resource.primary_key.is_empty() {
        drop_key_hint(table, &resource.primary_key, |column| &mut column.primary_key);
    }
    if !resource.merge_key.is_empty() {
        drop_key_hint(table, &resource.merge_key, |column| &mut column.merge_key);
    }

    for key in &resource.primary_key {
        let column_name = naming::normalize_path(key);
        let column = table
            .columns
            .entry(column_name.clone())
            .or_insert_with(|| hinted_column(&column_name));
        column.nullable = false;
        column.primary_key = Some(true);
    }

    for key in &resource.merge_key {
        let column_name = naming::normalize_path(key);
        let column = table
            .columns
            .entry(column_name.clone())
            .or_insert_with(|| hinted_column(&column_name));
        column.merge_key = Some(true);
    }
}

/// Removes a key hint from the columns of `table` that `keys` does not name.
/// A column that only the hint created, before any value gave it a type,
/// goes with it.
fn drop_key_hint(table: &mut Table, keys: &[String], hint: fn(&mut Column) -> &mut Option<bool>) {
    let keep: Vec<String> = keys.iter().map(|key| naming::normalize_path(key)).collect();
    let mut unhinted = Vec::new();
    for (name, column) in table.columns.iter_mut() {
        if !keep.contains(name) && *hint(column) == Some(true) {
            *hint(column) = None;
            unhinted.push(name.clone());
        }
    }
    table.columns.retain(|name, column| {
        let hinted = column.primary_key == Some(true) || column.merge_key == Some(true) || column.incremental == Some(true);
        !unhinted.contains(name) || column.data_type.is_some() || hinted
    });
}

/// Creates a column from a resource hint, before any data gives it a type.
fn hinted_column(name: &str) -> Column {
    let mut column = Column::new(name, crate::schema::DataType::Text);
    column.data_type = None;
    column
}

fn load_live_schema(pipeline: &Pipeline, schema_name: &str) -> Result<Schema> {
    let path = pipeline.working_dir.schema_path(schema_name);
    match fs::read_to_string(&path) {
        Ok(text) => Schema::from_json(&text),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(Schema::new(schema_name)),
        Err(error) => Err(Error::io("read", &path, error)),
    }
}

pub(super) fn save_live_schema(pipeline: &Pipeline, schema: &Schema) -> Result<()> {
    write_atomic(&pipeline.working_dir.schema_path(&schema.name), schema.to_pretty_json().as_bytes())
}

fn load_or_create_state(pipeline: &Pipeline, schema_name: &str) -> Result<PipelineState> {
    let path = pipeline.working_dir.state_path();
    if let Some(state) = PipelineState::load(&path)? {
        return Ok(state);
    }
    Ok(PipelineState::new(
        &pipeline.name,
        &pipeline.dataset_name,
        schema_name,
        &format!("dlt.destinations.{}", pipeline.destination.type_name),
    ))
}

/// Copies the current `state.json` into the package's `.restore` folder, so
/// that an aborted package can rewind the state to what it was before.
fn snapshot_state(pipeline: &Pipeline, package: &LoadPackage) -> Result<()> {
    let current = pipeline.working_dir.state_path();
    if !current.exists() {
        return Ok(());
    }
    let folder = package.path().join(".restore");
    fs::create_dir_all(&folder).map_err(|e| Error::io("create folder", &folder, e))?;
    let target = folder.join("state.json");
    fs::copy(&current, &target).map_err(|e| Error::io("copy", &current, e))?;
    Ok(())
}

/// Adds the pipeline state as one row of `_dlt_pipeline_state`, as dlt
/// extracts it whenever the state's hash changed.
fn write_state_row(
    pipeline: &Pipeline,
    package: &LoadPackage,
    schema: &mut Schema,
    state: &PipelineState,
) -> Result<ExtractedTable> {
    schema.ensure_pipeline_state_table();

    let row = json!({
        "version": state.version(),
        "engine_version": STATE_ENGINE_VERSION,
        "pipeline_name": pipeline.name,
        "state": state.to_blob(),
        "created_at": encode(&TypedValue::DateTime(Utc::now().fixed_offset())),
        "version_hash": state.version_hash(),
    });

    let ignore = |_: u64| {};
    let mut writer = PackageWriter::new(&package.jobs_dir(JobState::New), crate::schema::PIPELINE_STATE_TABLE, &ignore);
    crate::extract::push_row_to(&mut writer, row)?;
    writer.finish()
}

/// Builds the package state document, which records when the package was created.
fn package_state(load_id: &str) -> Value {
    let seconds: f64 = load_id.parse().unwrap_or(0.0);
    let created_at = chrono::DateTime::from_timestamp_micros((seconds * 1e6) as i64).unwrap_or_else(Utc::now);
    json!({
        "created_at": encode(&TypedValue::DateTime(created_at.fixed_offset())),
        "_state_version": 1,
        "_state_engine_version": 1,
    })
}
