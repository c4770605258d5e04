//! Loading one package in one transaction.

use std::collections::HashSet;
use std::path::Path;

use duckdb::{Connection, params, params_from_iter};
use plugin_sdk::PluginError;
use plugin_sdk::protocol::{LoadJob, LoadReport, LoadRequest, TableSpec};

use crate::connection::{dataset_tables, execute, existing_table_columns, log_memory_usage};
use crate::dlt_tables::{LOADS_TABLE, VERSION_TABLE, loads_table, version_table};
use crate::engine::{JobThreads, SCRATCH_CATALOG};
use crate::error::database_error;
use crate::merge::{self, MergePlan};
use crate::restore::load_recorded;
use crate::sql::{self, TypeOptions, qualified_table, quote_identifier, validate_identifier};

/// The only job file format this destination reads.
const PARQUET: &str = "parquet";

/// Applies a load package atomically.
///
/// Schema migration, the `_dlt_version` row, truncation, every job, the
/// merge of `merge` tables from their staging tables and the `_dlt_loads` row
/// run in one transaction. Any error rolls all of it back, so a failed
/// `replace` or `merge` keeps the table's old rows. A package whose load id is
/// already in `_dlt_loads` is not applied again, and the report has
/// `applied: false`.
pub(crate) fn load_package(
    connection: &mut Connection,
    options: TypeOptions,
    new_file: bool,
    job_threads: &mut JobThreads<'_>,
    request: &LoadRequest,
) -> Result<LoadReport, PluginError> {
    validate_request(request)?;
    let merge_plan = MergePlan::build(request)?;
    let dataset = request.dataset_name.as_str();
    let load_id = request.load_id.as_str();

    let transaction = connection.transaction().map_err(|error| {
        database_error(
            &error,
            format!("failed to start the transaction for load {load_id}"),
        )
    })?;

    // A file this call created contains no tables. The first listing of
    // `duckdb_tables()` costs about 7 million instructions (2 ms).
    let mut stored_tables = if new_file {
        HashSet::new()
    } else {
        dataset_tables(&transaction, dataset)?
    };
    let committed_before = stored_tables.contains(LOADS_TABLE)
        && load_recorded(&transaction, dataset, load_id)?;
    if committed_before {
        tracing::info!(
            load_id,
            dataset,
            "load package was committed before, so it is not applied again"
        );
        transaction.rollback().map_err(|error| {
            database_error(
                &error,
                format!("failed to end the transaction for load {load_id}"),
            )
        })?;
        return Ok(LoadReport {
            applied: false,
            rows_per_table: Vec::new(),
        });
    }

    let create_schema = format!("CREATE SCHEMA IF NOT EXISTS {}", quote_identifier(dataset));
    execute(&transaction, &create_schema, [], || {
        format!("failed to create dataset \"{dataset}\" for load {load_id}")
    })?;
    migrate_tables(&transaction, request, options, &mut stored_tables)?;
    store_schema_version(&transaction, request)?;
    truncate_tables(&transaction, request, &stored_tables)?;
    merge::create_staging_tables(&transaction, request, &merge_plan, options)?;
    let rows_per_table = run_jobs(&transaction, request, &merge_plan, job_threads)?;
    job_threads.restore(&transaction)?;
    merge::merge_tables(&transaction, request, &merge_plan)?;
    merge::drop_staging_tables(&transaction, request, &merge_plan)?;
    record_load(&transaction, request)?;
    if tracing::enabled!(tracing::Level::DEBUG) {
        log_memory_usage(&transaction, load_id);
    }

    transaction.commit().map_err(|error| {
        database_error(
            &error,
            format!("failed to commit load {load_id} to dataset \"{dataset}\""),
        )
    })?;

    let total_rows: u64 = rows_per_table.iter().map(|(_, rows)| rows).sum();
    let tables: Vec<&str> = rows_per_table
        .iter()
        .map(|(table, _)| table.as_str())
        .collect();
    tracing::info!(
        load_id,
        dataset,
        ?tables,
        rows = total_rows,
        "committed load package"
    );
    Ok(LoadReport {
        applied: true,
        rows_per_table,
    })
}

/// Rejects requests that cannot load, before any statement runs.
fn validate_request(request: &LoadRequest) -> Result<(), PluginError> {
    let load_id = &request.load_id;
    if load_id.is_empty() {
        return Err(PluginError::terminal("load request has an empty load id"));
    }
    validate_identifier("dataset", &request.dataset_name)?;
    for table in &request.tables {
        validate_identifier("table", &table.name)?;
    }
    for table in &request.truncate_tables {
        validate_identifier("table", table)?;
    }

    for job in &request.jobs {
        validate_identifier("table", &job.table_name)?;
        if job.file_format != PARQUET {
            return Err(PluginError::terminal(format!(
                "load job {} of load {load_id} has file format `{}`, but the DuckDB destination loads only parquet",
                job.job_id, job.file_format
            )));
        }
        if !Path::new(&job.file_path).is_file() {
            return Err(PluginError::terminal(format!(
                "file {} of load job {} (load {load_id}) not found",
                job.file_path, job.job_id
            )));
        }
    }
    Ok(())
}

/// Lowercased names of the dataset's tables, as [`dataset_tables`] returns
/// them.
type StoredTables = HashSet<String>;

/// Creates missing tables and adds missing columns, but never drops or
/// changes columns. `_dlt_loads` and `_dlt_version` get dlt's columns unless
/// the request describes them itself. `stored` gets the new tables.
fn migrate_tables(
    connection: &Connection,
    request: &LoadRequest,
    options: TypeOptions,
    stored: &mut StoredTables,
) -> Result<(), PluginError> {
    let requested = |name: &str| request.tables.iter().any(|table| table.name == name);
    let dlt_tables: Vec<TableSpec> = [loads_table(), version_table()]
        .into_iter()
        .filter(|table| !requested(&table.name))
        .collect();

    for table in request.tables.iter().chain(&dlt_tables) {
        migrate_table(connection, request, table, options, stored)?;
    }
    Ok(())
}

fn migrate_table(
    connection: &Connection,
    request: &LoadRequest,
    table: &TableSpec,
    options: TypeOptions,
    stored: &mut StoredTables,
) -> Result<(), PluginError> {
    let dataset = request.dataset_name.as_str();
    let load_id = request.load_id.as_str();
    let context = || {
        format!(
            "failed to migrate table \"{dataset}\".\"{}\" for load {load_id}",
            table.name
        )
    };

    let key = table.name.to_lowercase();
    if !stored.contains(&key) {
        // dlt creates no table before it has columns, and DuckDB rejects a
        // table without columns.
        if table.columns.is_empty() {
            tracing::debug!(load_id, table = %table.name, "table has no columns yet, so it is not created");
            return Ok(());
        }
        let statement = sql::create_table(dataset, table, options)?;
        execute(connection, &statement, [], context)?;
        stored.insert(key);
        return Ok(());
    }

    // DuckDB resolves column names case-insensitively, so `Name` already
    // occupies `name`.
    let existing: HashSet<String> = existing_table_columns(connection, dataset, &table.name)?
        .iter()
        .map(|name| name.to_lowercase())
        .collect();
    for column in &table.columns {
        if existing.contains(&column.name.to_lowercase()) {
            continue;
        }
        if !column.nullable {
            tracing::warn!(
                load_id,
                table = %table.name,
                column = %column.name,
                "new column is added without NOT NULL because the table already exists"
            );
        }
        let statement = sql::add_column(dataset, &table.name, column, options)?;
        execute(connection, &statement, [], context)?;
    }
    Ok(())
}

/// Inserts the package's schema into `_dlt_version` unless a row with its
/// version hash exists.
fn store_schema_version(connection: &Connection, request: &LoadRequest) -> Result<(), PluginError> {
    let schema = &request.schema;
    let table = qualified_table(&request.dataset_name, VERSION_TABLE);
    let context = || {
        format!(
            "failed to store version {} of schema {} for load {}",
            schema.version, schema.name, request.load_id
        )
    };

    let existing: i64 = connection
        .query_row(
            &format!("SELECT count(*) FROM {table} WHERE \"version_hash\" = ?"),
            params![schema.version_hash],
            |row| row.get(0),
        )
        .map_err(|error| database_error(&error, context()))?;
    if existing > 0 {
        return Ok(());
    }

    let version = to_bigint("schema version", schema.version)?;
    let engine_version = to_bigint("schema engine version", schema.engine_version)?;
    let insert = format!(
        "INSERT INTO {table} (\"version\", \"engine_version\", \"inserted_at\", \"schema_name\", \"version_hash\", \"schema\") \
         VALUES (?, ?, now(), ?, ?, ?)"
    );
    execute(
        connection,
        &insert,
        params![
            version,
            engine_version,
            schema.name,
            schema.version_hash,
            schema.schema_json
        ],
        context,
    )?;
    Ok(())
}

/// Empties the tables of `replace` resources. A table that does not exist yet
/// has no rows to remove.
fn truncate_tables(
    connection: &Connection,
    request: &LoadRequest,
    stored: &StoredTables,
) -> Result<(), PluginError> {
    let dataset = request.dataset_name.as_str();
    for table in &request.truncate_tables {
        if !stored.contains(&table.to_lowercase()) {
            tracing::debug!(load_id = %request.load_id, table, "table to truncate does not exist yet");
            continue;
        }
        let statement = format!("DELETE FROM {}", qualified_table(dataset, table));
        let deleted = execute(connection, &statement, [], || {
            format!(
                "failed to empty table \"{dataset}\".\"{table}\" for load {}",
                request.load_id
            )
        })?;
        tracing::debug!(load_id = %request.load_id, table, rows = deleted, "emptied table for replace");
    }
    Ok(())
}

/// Job files of one table that one statement inserts, at most. A package of
/// 40,000 one-row job files took 48 to 61 s to load with an insert per file
/// (about 1.2 ms each, nearly all of it DuckDB's) and peaked at 6.9 GB. With
/// 256 files per insert it took 13 to 14 s and 127 MB, with 32 files 15 s
/// and 123 MB. DuckDB keeps about 120 KB per file of a statement, so 256
/// one-row files failed under a 32 MB `memory_limit` that 128 passed, and
/// 64 failed under 8 MB where 32 passed.
const MAX_FILES_PER_INSERT: usize = 32;

/// Rows of a job file up to which it shares an insert with the files next
/// to it. A larger file costs DuckDB more than the statement around it.
const MAX_SHARED_FILE_ROWS: u64 = 10_000;

/// Inserts every job file and returns the inserted rows per table, in the
/// order in which each table first appeared among the jobs. Jobs of `merge`
/// tables go into their staging tables. Consecutive small jobs of one table
/// share a statement.
fn run_jobs(
    connection: &Connection,
    request: &LoadRequest,
    merge_plan: &MergePlan<'_>,
    job_threads: &mut JobThreads<'_>,
) -> Result<Vec<(String, u64)>, PluginError> {
    let staging = merge::staging_dataset(&request.dataset_name);
    let mut rows_per_table: Vec<(String, u64)> = Vec::new();

    let shareable = |job: &LoadJob| job.row_count <= MAX_SHARED_FILE_ROWS;
    let same_insert = |a: &LoadJob, b: &LoadJob| a.table_name == b.table_name && shareable(a) && shareable(b);
    for group in request.jobs.chunk_by(same_insert).flat_map(|run| run.chunks(MAX_FILES_PER_INSERT)) {
        let table_name = &group[0].table_name;
        let dataset = if merge_plan.is_staged(table_name) {
            staging.as_str()
        } else {
            request.dataset_name.as_str()
        };
        let expected: u64 = group.iter().map(|job| job.row_count).sum();

        job_threads.fit(connection, expected)?;
        let statement = insert_files_statement(&qualified_table(dataset, table_name), group.len());
        let paths = group.iter().map(|job| job.file_path.as_str());
        let context = |jobs: &[LoadJob]| {
            format!(
                "failed to load {} into table \"{dataset}\".\"{table_name}\" (load {})",
                describe_jobs(jobs),
                request.load_id
            )
        };
        let inserted = match execute(connection, &statement, params_from_iter(paths), || context(group)) {
            Ok(rows) => rows as u64,
            Err(error) => {
                return Err(match unreadable_job(connection, group) {
                    Some((job, read_error)) => database_error(&read_error, context(std::slice::from_ref(job))),
                    None => error,
                });
            }
        };

        if inserted != expected {
            tracing::warn!(
                load_id = %request.load_id,
                job_id = %group[0].job_id,
                jobs = group.len(),
                expected,
                inserted,
                "load job inserted a different number of rows than its files were reported to hold"
            );
        }
        match rows_per_table.iter_mut().find(|(table, _)| table == table_name) {
            Some((_, rows)) => *rows += inserted,
            None => rows_per_table.push((table_name.clone(), inserted)),
        }
    }
    Ok(rows_per_table)
}

/// Builds the insert of `files` job files into `table`, with one parameter
/// per file path. BY NAME matches file columns to table columns by name, so a
/// file may contain a subset of the columns in any order. With several
/// files, `union_by_name` lets each file have its own columns, as with one
/// file per insert. Without `hive_partitioning = false`, DuckDB would read a
/// folder such as `year=2024` in the working directory's path as a column.
fn insert_files_statement(table: &str, files: usize) -> String {
    if files == 1 {
        return format!("INSERT INTO {table} BY NAME SELECT * FROM read_parquet(?, hive_partitioning = false)");
    }
    let parameters = vec!["?"; files].join(", ");
    format!(
        "INSERT INTO {table} BY NAME SELECT * FROM read_parquet([{parameters}], union_by_name = true, hive_partitioning = false)"
    )
}

/// Returns the first job of a failed insert of several files whose file
/// DuckDB cannot read on its own, with the read error, so that the error
/// names that file instead of the whole group.
///
/// The load's transaction is aborted by then, so the files are read on a
/// second connection to the same instance. An insert that failed for another
/// reason, such as a value the table's column cannot hold, finds no such job.
fn unreadable_job<'j>(connection: &Connection, group: &'j [LoadJob]) -> Option<(&'j LoadJob, duckdb::Error)> {
    if group.len() < 2 {
        return None;
    }
    // A new connection starts in the catalog `memory`, which the instance
    // detached at its start.
    let probe = connection
        .try_clone()
        .and_then(|probe| probe.execute_batch(&format!("USE {}", quote_identifier(SCRATCH_CATALOG))).map(|()| probe));
    let probe = match probe {
        Ok(probe) => probe,
        Err(error) => {
            tracing::debug!(%error, jobs = group.len(), "failed to open a second DuckDB connection, so the error names the whole group");
            return None;
        }
    };

    group.iter().find_map(|job| read_whole_file(&probe, &job.file_path).err().map(|error| (job, error)))
}

/// Reads every row of a Parquet file, so that damaged data pages fail too.
fn read_whole_file(connection: &Connection, path: &str) -> Result<(), duckdb::Error> {
    let mut statement = connection.prepare("SELECT * FROM read_parquet(?, hive_partitioning = false)")?;
    let mut rows = statement.query([path])?;
    while rows.next()?.is_some() {}
    Ok(())
}

/// Names the jobs of a failed insert: the job and its file, or the first and
/// last of several.
fn describe_jobs(group: &[LoadJob]) -> String {
    match group {
        [job] => format!("job {} (file {})", job.job_id, job.file_path),
        [first, .., last] => format!(
            "{} jobs from {} to {} (files {} to {})",
            group.len(),
            first.job_id,
            last.job_id,
            first.file_path,
            last.file_path
        ),
        [] => "no jobs".to_owned(),
    }
}

/// Inserts the `_dlt_loads` row with status 0 that marks the package complete.
fn record_load(connection: &Connection, request: &LoadRequest) -> Result<(), PluginError> {
    let insert = format!(
        "INSERT INTO {} (\"load_id\", \"schema_name\", \"status\", \"inserted_at\", \"schema_version_hash\") \
         VALUES (?, ?, 0, now(), ?)",
        qualified_table(&request.dataset_name, LOADS_TABLE)
    );
    execute(
        connection,
        &insert,
        params![
            request.load_id,
            request.schema.name,
            request.schema.version_hash
        ],
        || format!("failed to record load {} in {LOADS_TABLE}", request.load_id),
    )?;
    Ok(())
}

fn to_bigint(field: &str, value: u64) -> Result<i64, PluginError> {
    i64::try_from(value).map_err(|_| {
        PluginError::terminal(format!("{field} {value} does not fit in a DuckDB BIGINT"))
    })
}
