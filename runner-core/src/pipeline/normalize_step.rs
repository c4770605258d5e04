//! Normalize: an extracted package into relational Parquet load files under
//! `load/normalized`.

use std::fs::{self, File};
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::sync::mpsc;

use indexmap::IndexMap;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

use super::extract_step::save_live_schema;
use super::{AddedColumn, Pipeline, Progress, SchemaChange};
use crate::normalize::{JsonValue, NormalizeOptions, Normalizer, ParsedLines, reader_metadata};
use crate::schema::{Schema, Table};
use crate::storage::{JobFileName, JobState, LoadPackage, PackageStage};
use crate::{Error, Result};

/// Rows per record batch read back from an extracted Parquet job.
const PARQUET_BATCH_ROWS: usize = 65_536;

/// Lines the JSON parser hands to the normalizer at a time, at most.
const PARSE_CHUNK_ROWS: u64 = 1024;

/// Text per parsed chunk, in bytes, beyond which a chunk ends early; with
/// `PARSE_CHUNKS_AHEAD` it bounds the memory of waiting chunks.
const PARSE_CHUNK_BYTES: usize = 1 << 20;

/// Parsed chunks that may wait for the normalizer.
const PARSE_CHUNKS_AHEAD: usize = 4;

/// Extracted job files, in bytes, below which a package normalizes on one
/// thread whatever the worker count, because starting the parser and
/// encoder threads costs more than they save. Whole runs on 2 CPUs: 2,000
/// generated events (1.1 MB) took 97 ms on one thread and 100 ms on three.
/// 10,000 events (5.4 MB) took 208 and 189 ms (medians of 20 and 12 runs).
const SMALL_PACKAGE_BYTES: u64 = 1 << 20;

/// Normalizes one package; returns how it changed the schema.
pub(super) fn normalize_package(pipeline: &mut Pipeline, extracted: LoadPackage) -> Result<SchemaChange> {
    let load_id = extracted.load_id().to_owned();
    let span = tracing::info_span!("normalize", load_id = %load_id);
    let _entered = span.enter();

    let mut schema = current_schema(pipeline, &extracted)?;
    let before = schema.clone();
    let scratch = pipeline.working_dir.normalize_scratch(&load_id);
    if scratch.exists() {
        fs::remove_dir_all(&scratch).map_err(|e| Error::io("remove folder", &scratch, e))?;
    }
    let package = LoadPackage::create(scratch, &load_id, PackageStage::Normalized)?;
    copy_package_metadata(&extracted, &package)?;

    extracted.check_job_list(&[JobState::New])?;
    let jobs = extracted.jobs(JobState::New)?;
    let threads = if jobs_are_small(&extracted, &jobs) { 1 } else { pipeline.options.normalize_workers };
    let options = NormalizeOptions {
        load_id: load_id.clone(),
        jobs_dir: package.jobs_dir(JobState::New),
        batch_rows: pipeline.options.normalize_batch_rows,
        max_nesting: None,
        file_max_rows: pipeline.options.file_max_rows,
        file_max_bytes: pipeline.options.file_max_bytes,
        threads,
    };
    tracing::debug!(threads = options.threads, "normalizing package");
    let mut normalizer = Normalizer::new(&mut schema, options)?;
    for job in jobs {
        let path = extracted.job_path(JobState::New, &job);
        normalize_job(pipeline, &mut normalizer, threads, &job, &path)?;
    }
    let output = normalizer.finish()?;
    check_merge_keys_in_data(&schema, &output.rows_per_table)?;

    schema.bump_version();
    package.write_schema(&schema)?;
    let updates = serde_json::to_value(&output.schema_updates).map_err(|e| Error::Internal(e.to_string()))?;
    package.write_json("schema_updates.json", &updates)?;
    let change = schema_change(&load_id, &before, &schema, &output.schema_updates);

    if output.jobs.is_empty() {
        tracing::info!("package has no rows to load; removing it");
        package.remove()?;
        save_live_schema(pipeline, &schema)?;
        extracted.remove()?;
        return Ok(change);
    }

    package.write_job_list(output.jobs.iter().map(|job| job.file_name.as_str()))?;
    package.commit(&pipeline.working_dir.stage_dir(PackageStage::Normalized), PackageStage::Normalized)?;
    save_live_schema(pipeline, &schema)?;
    pipeline.remove_in_background(extracted)?;

    tracing::info!(jobs = output.jobs.len(), tables = output.rows_per_table.len(), "normalized package");
    Ok(change)
}

/// Fails when a `merge` table with rows in this package has a primary_key or
/// merge_key column that no row has, such as a misspelt key in `dlt.yml`. The
/// destination would find no key column and reject the package at load.
fn check_merge_keys_in_data(schema: &Schema, rows_per_table: &IndexMap<String, u64>) -> Result<()> {
    for (table_name, rows) in rows_per_table {
        let Some(table) = schema.tables.get(table_name) else { continue };
        if *rows == 0 || table.write_disposition.as_deref() != Some("merge") {
            continue;
        }
        let is_key = |column: &crate::schema::Column| column.primary_key == Some(true) || column.merge_key == Some(true);
        let Some(missing) = table.columns.values().find(|column| is_key(column) && column.data_type.is_none()) else {
            continue;
        };

        let kind = if missing.primary_key == Some(true) { "primary_key" } else { "merge_key" };
        let columns: Vec<&str> = table
            .columns
            .values()
            .filter(|column| column.data_type.is_some() && !column.name.starts_with("_dlt_"))
            .map(|column| column.name.as_str())
            .collect();
        return Err(Error::Normalize {
            table: table_name.clone(),
            message: format!(
                "{kind} column `{}` is in no row, so stored rows cannot be matched; the rows have columns {}. \
                 Fix `{kind}` of the resource in dlt.yml",
                missing.name,
                columns.join(", ")
            ),
        });
    }
    Ok(())
}

/// Returns whether the package's job files have less than
/// [`SMALL_PACKAGE_BYTES`] in all. A file whose size cannot be read counts as
/// large, and reading it reports the error.
fn jobs_are_small(package: &LoadPackage, jobs: &[JobFileName]) -> bool {
    let mut total: u64 = 0;
    for job in jobs {
        match fs::metadata(package.job_path(JobState::New, job)) {
            Ok(metadata) => total = total.saturating_add(metadata.len()),
            Err(_) => return false,
        }
    }
    total < SMALL_PACKAGE_BYTES
}

/// Describes how `updates` (the normalizer's schema updates) took the
/// schema from `before` to `after`.
fn schema_change(load_id: &str, before: &Schema, after: &Schema, updates: &IndexMap<String, Table>) -> SchemaChange {
    let had_typed_column =
        |name: &str| before.tables.get(name).is_some_and(|table| table.columns.values().any(|column| column.is_complete()));
    let tables_added = updates.keys().filter(|name| !had_typed_column(name)).cloned().collect();

    let columns_added = updates
        .iter()
        .flat_map(|(table_name, table)| {
            table.columns.values().map(|column| AddedColumn {
                table_name: table_name.clone(),
                column_name: column.name.clone(),
                data_type: column.data_type.map(|data_type| data_type.as_str().to_owned()),
                nullable: column.nullable,
            })
        })
        .collect();

    SchemaChange {
        load_id: load_id.to_owned(),
        schema_name: after.name.clone(),
        version_before: before.version,
        version_after: after.version,
        version_hash_before: before.version_hash.clone(),
        version_hash_after: after.version_hash.clone(),
        tables_added,
        columns_added,
    }
}

/// Returns the live schema if one exists, else the one the package was extracted with.
fn current_schema(pipeline: &Pipeline, package: &LoadPackage) -> Result<Schema> {
    let package_schema = package.read_schema()?;
    let live_path = pipeline.working_dir.schema_path(&package_schema.name);
    match fs::read_to_string(&live_path) {
        Ok(text) => {
            let live = Schema::from_json(&text)?;
            // A package extracted with hints the live schema lacks (the live
            // schema was lost in a crash) still carries them.
            Ok(if live.version >= package_schema.version { live } else { package_schema })
        }
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(package_schema),
        Err(error) => Err(Error::io("read", &live_path, error)),
    }
}

fn copy_package_metadata(from: &LoadPackage, to: &LoadPackage) -> Result<()> {
    let state = from.path().join("load_package_state.json");
    if state.exists() {
        let target = to.path().join("load_package_state.json");
        fs::copy(&state, &target).map_err(|e| Error::io("copy", &state, e))?;
        crate::storage::sync_file(&target)?;
    }
    let restore = from.path().join(".restore");
    if restore.is_dir() {
        let target = to.path().join(".restore");
        fs::create_dir_all(&target).map_err(|e| Error::io("create folder", &target, e))?;
        for entry in fs::read_dir(&restore).map_err(|e| Error::io("list folder", &restore, e))? {
            let entry = entry.map_err(|e| Error::io("list folder", &restore, e))?;
            if entry.path().is_file() {
                let destination = target.join(entry.file_name());
                fs::copy(entry.path(), &destination).map_err(|e| Error::io("copy", entry.path(), e))?;
                crate::storage::sync_file(&destination)?;
            }
        }
    }
    Ok(())
}

fn normalize_job(
    pipeline: &Pipeline,
    normalizer: &mut Normalizer<'_>,
    threads: usize,
    job: &JobFileName,
    path: &Path,
) -> Result<()> {
    let progress = pipeline.progress();
    match job.extension.as_str() {
        "typed-jsonl" | "jsonl" => {
            let file = File::open(path).map_err(|e| Error::io("open", path, e))?;
            let reader: Box<dyn BufRead + Send> = if job.compressed {
                Box::new(BufReader::new(flate2::read::GzDecoder::new(file)))
            } else {
                Box::new(BufReader::with_capacity(1 << 20, file))
            };
            let mut push = |row: &JsonValue<'_>| {
                normalizer.push_json(&job.table_name, row)?;
                progress.add_normalized(1);
                Ok(())
            };
            if threads > 1 {
                parse_json_lines_ahead(reader, path, &mut push)
            } else {
                parse_json_lines(reader, path, &mut |chunk| chunk.rows().iter().try_for_each(&mut push))
            }
        }
        "parquet" => normalize_parquet_job(normalizer, &progress, job, path).map_err(|error| name_job(error, path)),
        other => Err(Error::Package {
            load_id: normalizer_load_id(path),
            message: format!("job `{job}` has unsupported format `{other}`"),
        }),
    }
}

/// Normalizes an extracted Parquet job: passes it on whole when its columns
/// fit the table, and else reads it batch by batch.
fn normalize_parquet_job(normalizer: &mut Normalizer<'_>, progress: &Progress, job: &JobFileName, path: &Path) -> Result<()> {
    if let Some(rows) = normalizer.pass_parquet_file(&job.table_name, path)? {
        progress.add_normalized(rows);
        return Ok(());
    }

    let file = File::open(path).map_err(|e| Error::io("open", path, e))?;
    let arrow_error = |message: String| Error::Arrow {
        action: "reading extracted Parquet job",
        path: path.to_path_buf(),
        message,
    };
    let metadata = reader_metadata(&file).map_err(|e| arrow_error(e.to_string()))?;
    let reader = ParquetRecordBatchReaderBuilder::new_with_metadata(file, metadata)
        .with_batch_size(PARQUET_BATCH_ROWS)
        .build()
        .map_err(|e| arrow_error(e.to_string()))?;
    for batch in reader {
        let batch = batch.map_err(|e| arrow_error(e.to_string()))?;
        normalizer.push_batch(&job.table_name, &batch)?;
        progress.add_normalized(batch.num_rows() as u64);
    }
    Ok(())
}

/// Adds the job file to a rejection of its values. Extract writes the rows
/// of a Parquet input into the package under a job name, so that job file
/// is the one the user can open to find the rejected value.
fn name_job(error: Error, path: &Path) -> Error {
    match error {
        Error::Normalize { table, message } => Error::Normalize {
            table,
            message: format!("in the extracted job `{}`, {message}", path.display()),
        },
        other => other,
    }
}

/// Parses JSON Lines on a second thread, a chunk at a time, while the
/// calling thread normalizes. Parsing took about 30% of normalize's
/// instructions on nested events (callgrind). At most `PARSE_CHUNKS_AHEAD`
/// chunks wait, so memory stays bounded whatever the file size.
fn parse_json_lines_ahead(
    reader: Box<dyn BufRead + Send>,
    path: &Path,
    push: &mut dyn FnMut(&JsonValue<'_>) -> Result<()>,
) -> Result<()> {
    std::thread::scope(|scope| {
        let (sender, receiver) = mpsc::sync_channel::<Result<ParsedLines>>(PARSE_CHUNKS_AHEAD);
        // Normalized chunks go back to be freed on the parser's thread, which
        // has time to spare. Freeing the trees cost the normalizer about a
        // tenth of its instructions.
        let (done, normalized) = mpsc::channel::<ParsedLines>();
        let parser = scope.spawn(move || {
            // A send fails only when the normalizer stopped on an error,
            // which it reports itself.
            let parsed = crate::panics::catch_panic("the JSON parser thread", || {
                parse_json_lines(reader, path, &mut |chunk| {
                    normalized.try_iter().for_each(drop);
                    sender.send(Ok(chunk)).map_err(|_| Error::Internal("normalizer stopped".to_owned()))
                })
            });
            if let Err(error) = parsed {
                let _ = sender.send(Err(error));
            }
        });

        for chunk in receiver {
            let chunk = chunk?;
            chunk.rows().iter().try_for_each(&mut *push)?;
            // The parser may have finished; then the chunk is freed here.
            let _ = done.send(chunk);
        }
        parser
            .join()
            .map_err(|_| Error::Internal(format!("the JSON parser thread of {} panicked", path.display())))
    })
}

/// Reads and parses typed JSON Lines, handing rows over in chunks of at most
/// `PARSE_CHUNK_ROWS` lines or about `PARSE_CHUNK_BYTES` of text.
fn parse_json_lines(
    mut reader: Box<dyn BufRead + Send>,
    path: &Path,
    consume: &mut dyn FnMut(ParsedLines) -> Result<()>,
) -> Result<()> {
    let mut first_line = 1u64;
    loop {
        let (text, lines) =
            crate::lines::read_chunk(&mut reader, PARSE_CHUNK_ROWS, PARSE_CHUNK_BYTES).map_err(|e| Error::io("read", path, e))?;
        if lines == 0 {
            return Ok(());
        }

        let chunk = ParsedLines::parse(text, |error, index| Error::InvalidData {
            path: path.to_path_buf(),
            line: Some(first_line + index as u64),
            message: error.to_string(),
        })?;
        first_line += lines;
        consume(chunk)?;
    }
}

fn normalizer_load_id(job_path: &Path) -> String {
    job_path
        .parent()
        .and_then(Path::parent)
        .and_then(Path::file_name)
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use std::io::Cursor;

    use super::*;

    /// JSON Lines with a blank line and an invalid line at `bad_line` (1-based).
    fn lines(count: usize, bad_line: Option<usize>) -> Box<dyn BufRead + Send> {
        let mut text = String::new();
        for number in 1..=count {
            if Some(number) == bad_line {
                text.push_str("{\"id\": \n");
            } else if number == 7 {
                text.push('\n');
            } else {
                text.push_str(&format!("{{\"id\": {number}, \"items\": [{{\"n\": {number}}}]}}\n"));
            }
        }
        Box::new(Cursor::new(text.into_bytes()))
    }

    fn parse_ahead(reader: Box<dyn BufRead + Send>) -> (Vec<serde_json::Value>, Result<()>) {
        let mut rows = Vec::new();
        let result = parse_json_lines_ahead(reader, Path::new("items.jsonl"), &mut |row| {
            rows.push(row.to_value());
            Ok(())
        });
        (rows, result)
    }

    #[test]
    fn small_package_counts_all_job_bytes() {
        let folder = tempfile::tempdir().unwrap();
        let package = LoadPackage::create(folder.path().join("1"), "1", PackageStage::Extracted).unwrap();
        let first = JobFileName::new("events", "a1", "jsonl");
        let second = JobFileName::new("users", "b2", "jsonl");
        let half = usize::try_from(SMALL_PACKAGE_BYTES / 2).unwrap();
        for job in [&first, &second] {
            fs::write(package.job_path(JobState::New, job), vec![b' '; half]).unwrap();
        }

        assert!(jobs_are_small(&package, std::slice::from_ref(&first)));
        assert!(!jobs_are_small(&package, &[first.clone(), second.clone()]), "the sizes add up");
        let missing = JobFileName::new("gone", "c3", "jsonl");
        assert!(!jobs_are_small(&package, &[missing]), "an unreadable size counts as large");
    }

    #[test]
    fn parser_thread_keeps_rows_in_order() {
        let (rows, result) = parse_ahead(lines(2_500, None));
        result.unwrap();

        let mut inline = Vec::new();
        parse_json_lines(lines(2_500, None), Path::new("items.jsonl"), &mut |chunk| {
            inline.extend(chunk.rows().iter().map(JsonValue::to_value));
            Ok(())
        })
        .unwrap();

        assert_eq!(rows.len(), 2_499, "one of the lines is blank");
        assert_eq!(rows, inline);
    }

    #[test]
    fn parser_thread_names_bad_line() {
        let (rows, result) = parse_ahead(lines(2_500, Some(2_100)));

        let error = result.unwrap_err();
        assert!(matches!(error, Error::InvalidData { line: Some(2_100), .. }), "{error}");
        assert!(rows.len() <= 2_098, "rows after the bad line were normalized: {}", rows.len());
    }

    #[test]
    fn parser_thread_stops_on_normalizer_error() {
        let mut seen = 0;
        let result = parse_json_lines_ahead(lines(10_000, None), Path::new("items.jsonl"), &mut |_| {
            seen += 1;
            if seen == 1_500 { Err(Error::Internal("rejected".to_owned())) } else { Ok(()) }
        });

        assert!(matches!(result, Err(Error::Internal(ref message)) if message == "rejected"));
        assert_eq!(seen, 1_500);
    }
}
