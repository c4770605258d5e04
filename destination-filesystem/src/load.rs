//! Writing one load package into the dataset folder.
//!
//! A package commits when `_dlt_loads/<schema>__<load_id>.jsonl` exists, and
//! that file is written last. The steps before it are safe to repeat: data
//! files get names derived from the job's stable file id, so a retry
//! overwrites the files of a failed attempt instead of adding duplicates.

use std::collections::{BTreeMap, HashSet};
use std::path::Path;

use plugin_sdk::PluginError;
use plugin_sdk::protocol::{LoadJob, LoadReport, LoadRequest};

use crate::config::FilesystemConfig;
use crate::dlt_files::{
    self, INIT_CONTENT, INIT_FILE, STATE_FOLDER, StateRecord, VERSION_FOLDER, dataset_path, file_name,
};
use crate::format::LoaderFileFormat;
use crate::layout::FileNameParts;
use crate::restore::committed_loads;
use crate::state_job::read_state_rows;
use crate::store::Bucket;
use crate::text_files::{TextFileSpec, convert_parquet};

/// Loads `request` into its dataset; see the module documentation for the
/// order of writes.
pub(crate) fn load_package(
    bucket: &Bucket,
    config: &FilesystemConfig,
    request: &LoadRequest,
) -> Result<LoadReport, PluginError> {
    validate_request(request)?;
    let dataset = request.dataset_name.as_str();
    let load_id = request.load_id.as_str();

    let marker = dataset_path(dataset, &dlt_files::load_record_name(&request.schema.name, load_id));
    if bucket.exists(&marker)? {
        tracing::info!(load_id, dataset, "load package was committed by an earlier attempt; nothing to do");
        return Ok(LoadReport {
            applied: false,
            rows_per_table: Vec::new(),
        });
    }

    let schema_hex = dlt_files::hash_hex(&request.schema.version_hash)?;
    ensure_dataset_marker(bucket, dataset)?;

    let mut rows_per_table: Vec<(String, u64)> = Vec::new();
    let mut states: Vec<StateRecord> = Vec::new();
    let mut written: HashSet<String> = HashSet::new();
    for job in &request.jobs {
        if job.table_name == STATE_FOLDER {
            states.extend(read_state_rows(Path::new(&job.file_path), load_id)?);
        } else {
            written.insert(write_data_file(bucket, config, request, job)?);
        }
        add_rows(&mut rows_per_table, &job.table_name, job.row_count);
    }

    remove_replaced_files(bucket, config, request, &written)?;
    store_schema_version(bucket, request, &schema_hex)?;
    write_states(bucket, request, &schema_hex, states)?;

    let record = dlt_files::load_record(load_id, &request.schema.name, &dlt_files::iso_now(), &request.schema.version_hash);
    bucket.put(&marker, record.into_bytes())?;

    let total_rows: u64 = rows_per_table.iter().map(|(_, rows)| rows).sum();
    tracing::info!(load_id, dataset, jobs = request.jobs.len(), rows = total_rows, "committed load package");

    prune_state_files(bucket, config, request);
    Ok(LoadReport {
        applied: true,
        rows_per_table,
    })
}

/// Rejects requests that cannot load, before anything is written.
fn validate_request(request: &LoadRequest) -> Result<(), PluginError> {
    let load_id = request.load_id.as_str();
    if load_id.is_empty() || !load_id.chars().all(|c| c.is_ascii_digit() || c == '.') {
        return Err(PluginError::terminal(format!(
            "load id {load_id:?} is invalid: dlt load ids are digits and dots"
        )));
    }
    check_path_segment("dataset name", &request.dataset_name)?;
    check_path_segment("schema name", &request.schema.name)?;

    for job in &request.jobs {
        check_path_segment("table name", &job.table_name)?;
        if job.file_format != "parquet" {
            return Err(PluginError::terminal(format!(
                "job {} of load {load_id} has format {:?}; the filesystem destination loads only parquet job files",
                job.job_id, job.file_format
            )));
        }

        let write_disposition = request
            .tables
            .iter()
            .find(|table| table.name == job.table_name)
            .map(|table| table.write_disposition.as_str());
        if write_disposition == Some("merge") {
            return Err(PluginError::config(format!(
                "table {} in dataset {} has write disposition `merge`, which the filesystem destination does \
                 not support; use `append` or `replace`",
                job.table_name, request.dataset_name
            )));
        }
    }
    Ok(())
}

/// Rejects a name that would not stay one path segment.
fn check_path_segment(what: &str, name: &str) -> Result<(), PluginError> {
    if name.is_empty() || name == "." || name == ".." || name.contains('/') || name.contains('\\') {
        return Err(PluginError::terminal(format!(
            "{what} {name:?} cannot be used as a folder or file name in the bucket"
        )));
    }
    Ok(())
}

/// Writes `<dataset>/init` when it is missing or empty, so that a marker
/// lost or truncated on a mounted or eventually consistent store is repaired.
fn ensure_dataset_marker(bucket: &Bucket, dataset: &str) -> Result<(), PluginError> {
    let path = dataset_path(dataset, INIT_FILE);
    let present = bucket.get(&path)?.is_some_and(|content| !content.is_empty());
    if !present {
        bucket.put(&path, INIT_CONTENT.as_bytes().to_vec())?;
        tracing::debug!(path = %bucket.display(&path), "wrote dataset marker");
    }
    Ok(())
}

/// Writes a job's rows to their place in the layout: the Parquet job file
/// unchanged, or converted to the configured text format.
/// Writes a job's data file and returns its path in the bucket.
fn write_data_file(
    bucket: &Bucket,
    config: &FilesystemConfig,
    request: &LoadRequest,
    job: &LoadJob,
) -> Result<String, PluginError> {
    let (file_id, _) = split_job_id(job)?;
    let format = config.loader_file_format;
    let compressed = !config.disable_compression && format.supports_compression();
    let ext = format.extension(compressed);
    let relative = config.layout.render(&FileNameParts {
        table_name: &job.table_name,
        schema_name: &request.schema.name,
        load_id: &request.load_id,
        file_id,
        ext: &ext,
    });
    let path = dataset_path(&request.dataset_name, &relative);
    let job_file = Path::new(&job.file_path);

    let bytes = if format == LoaderFileFormat::Parquet {
        bucket.upload_file(job_file, &path)?
    } else {
        let converted = convert_job_file(request, job, file_id, format, compressed)?;
        bucket.upload_file(converted.path(), &path)?
    };

    tracing::debug!(
        load_id = %request.load_id,
        table = %job.table_name,
        rows = job.row_count,
        bytes,
        path = %bucket.display(&path),
        "wrote data file"
    );
    Ok(path)
}

/// Converts a job's Parquet file to a temporary file in `format`, in the
/// package folder. The file is deleted when the returned handle drops.
fn convert_job_file(
    request: &LoadRequest,
    job: &LoadJob,
    file_id: &str,
    format: LoaderFileFormat,
    compressed: bool,
) -> Result<tempfile::NamedTempFile, PluginError> {
    // The package folder, above the job folders: a converted file left by a
    // crash must not sit among the job files, which the runner lists.
    let job_file = Path::new(&job.file_path);
    let folder = job_file.parent().and_then(Path::parent).unwrap_or(Path::new("."));
    let converted = tempfile::Builder::new()
        .prefix(&format!(".{}.", job.job_id))
        .suffix(".tmp")
        .tempfile_in(folder)
        .map_err(|error| {
            PluginError::terminal(format!("failed to create a temporary file in {}", folder.display())).with_source(&error)
        })?;

    let json_columns: HashSet<String> = request
        .tables
        .iter()
        .filter(|table| table.name == job.table_name)
        .flat_map(|table| &table.columns)
        .filter(|column| column.data_type == "json")
        .map(|column| column.name.clone())
        .collect();
    let gzip_name = format!("{}.{file_id}.0.{}", job.table_name, format.name());
    let spec = TextFileSpec {
        format,
        compressed,
        json_columns: &json_columns,
        gzip_name: &gzip_name,
    };
    convert_parquet(job_file, converted.path(), &spec)?;
    Ok(converted)
}

/// Returns the file id and extension of a job id `<table>.<file_id>.<ext>`.
fn split_job_id(job: &LoadJob) -> Result<(&str, &str), PluginError> {
    let parts = job
        .job_id
        .strip_prefix(job.table_name.as_str())
        .and_then(|rest| rest.strip_prefix('.'))
        .and_then(|rest| rest.split_once('.'))
        .filter(|(file_id, ext)| !file_id.is_empty() && !ext.is_empty());
    parts.ok_or_else(|| {
        PluginError::internal(format!(
            "job id {:?} of table {} is not `<table>.<file_id>.<ext>`",
            job.job_id, job.table_name
        ))
    })
}

fn add_rows(rows_per_table: &mut Vec<(String, u64)>, table: &str, rows: u64) {
    match rows_per_table.iter_mut().find(|(name, _)| name == table) {
        Some((_, total)) => *total += rows,
        None => rows_per_table.push((table.to_owned(), rows)),
    }
}

/// Deletes the files of every table in `truncate_tables` that belong to
/// other loads. It runs after the new files are written, so a failure
/// before this point leaves the old data in place.
fn remove_replaced_files(
    bucket: &Bucket,
    config: &FilesystemConfig,
    request: &LoadRequest,
    written: &HashSet<String>,
) -> Result<(), PluginError> {
    let dataset = request.dataset_name.as_str();
    let dataset_prefix = format!("{dataset}/");

    for table in &request.truncate_tables {
        let folder = config.layout.table_folder(table, &request.schema.name);
        let listed = if folder.is_empty() {
            bucket.list(dataset)?
        } else {
            bucket.list(&dataset_path(dataset, &folder))?
        };

        let mut removed = 0_usize;
        for path in listed {
            // This load's own files stay whatever their names parse as.
            if written.contains(&path) {
                continue;
            }
            let Some(relative) = path.strip_prefix(&dataset_prefix) else {
                continue;
            };
            let file_load_id = config.layout.match_table_file(relative, table, &request.schema.name);
            if file_load_id.is_some_and(|file_load_id| file_load_id != request.load_id) {
                bucket.delete(&path)?;
                removed += 1;
            }
        }
        tracing::debug!(load_id = %request.load_id, dataset, table, removed, "removed files of replaced table");
    }
    Ok(())
}

/// Writes the schema to `_dlt_version` unless a file with its hash exists.
fn store_schema_version(bucket: &Bucket, request: &LoadRequest, schema_hex: &str) -> Result<(), PluginError> {
    let schema = &request.schema;
    let folder = dataset_path(&request.dataset_name, VERSION_FOLDER);

    let stored = bucket.list(&folder)?.iter().any(|path| {
        dlt_files::split_three(file_name(path))
            .is_some_and(|(name, _, hex)| name == schema.name && hex == schema_hex)
    });
    if stored {
        return Ok(());
    }

    let name = dlt_files::version_file_name(&schema.name, &dlt_files::unix_time_now(), schema_hex);
    let content = dlt_files::version_record(
        &schema.version_hash,
        &schema.name,
        schema.version,
        schema.engine_version,
        &dlt_files::iso_now(),
        &schema.schema_json,
    );
    let path = dataset_path(&request.dataset_name, &name);
    bucket.put(&path, content.into_bytes())?;
    tracing::debug!(schema = %schema.name, version = schema.version, path = %bucket.display(&path), "stored schema version");
    Ok(())
}

/// Writes one state file per pipeline, from its row with the highest version.
fn write_states(
    bucket: &Bucket,
    request: &LoadRequest,
    schema_hex: &str,
    states: Vec<StateRecord>,
) -> Result<(), PluginError> {
    let mut newest: BTreeMap<String, StateRecord> = BTreeMap::new();
    for state in states {
        let replace = newest
            .get(&state.pipeline_name)
            .is_none_or(|current| state.version > current.version);
        if replace {
            newest.insert(state.pipeline_name.clone(), state);
        }
    }

    for state in newest.values() {
        check_path_segment("pipeline name", &state.pipeline_name)?;
        let name = dlt_files::state_file_name(&state.pipeline_name, &request.load_id, schema_hex);
        let path = dataset_path(&request.dataset_name, &name);
        bucket.put(&path, dlt_files::state_record(state).into_bytes())?;
        tracing::debug!(
            load_id = %request.load_id,
            pipeline = %state.pipeline_name,
            version = state.version,
            path = %bucket.display(&path),
            "stored pipeline state"
        );
    }
    Ok(())
}

/// Deletes committed state files of the request's pipeline beyond the
/// newest `max_state_files`, as dlt does. Failures are logged and ignored,
/// because the package is already committed.
fn prune_state_files(bucket: &Bucket, config: &FilesystemConfig, request: &LoadRequest) {
    if config.max_state_files == 0 {
        return;
    }
    if let Err(error) = try_prune_state_files(bucket, config, request) {
        tracing::warn!(
            load_id = %request.load_id,
            dataset = %request.dataset_name,
            pipeline = %request.pipeline_name,
            %error,
            "failed to delete old state files; they stay in the dataset"
        );
    }
}

fn try_prune_state_files(bucket: &Bucket, config: &FilesystemConfig, request: &LoadRequest) -> Result<(), PluginError> {
    let dataset = request.dataset_name.as_str();
    let committed = committed_loads(bucket, dataset)?;

    let mut files: Vec<(String, String)> = bucket
        .list(&dataset_path(dataset, STATE_FOLDER))?
        .into_iter()
        .filter_map(|path| {
            let (pipeline, load_id, _) = dlt_files::split_three(file_name(&path))?;
            let keep = pipeline == request.pipeline_name && committed.contains(load_id);
            keep.then(|| (load_id.to_owned(), path.clone()))
        })
        .collect();
    if files.len() <= config.max_state_files {
        return Ok(());
    }

    files.sort_by(|(left, _), (right, _)| {
        dlt_files::numeric_order(right)
            .partial_cmp(&dlt_files::numeric_order(left))
            .unwrap_or(std::cmp::Ordering::Equal)
    });
    for (_, path) in &files[config.max_state_files..] {
        bucket.delete(path)?;
    }
    tracing::debug!(
        pipeline = %request.pipeline_name,
        removed = files.len() - config.max_state_files,
        "deleted old state files"
    );
    Ok(())
}
