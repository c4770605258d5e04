//! Settings, path checks and catalog queries of a DuckDB connection.

use std::collections::HashSet;
use std::path::Path;

use duckdb::{Connection, Params, params};
use plugin_sdk::PluginError;

use crate::config::{DuckDbConfig, DuckDbSetting, SettingScope};
use crate::error::database_error;
use crate::sql::{TypeOptions, qualified_table};

/// Applies the configured settings, in order.
pub(crate) fn apply_settings(connection: &Connection, config: &DuckDbConfig) -> Result<(), PluginError> {
    for setting in &config.settings {
        apply_setting(connection, setting)?;
    }
    Ok(())
}

/// DuckDB `memory_limit` per worker thread that the destination sets for a
/// large load when the configuration sets none.
const MEMORY_LIMIT_PER_THREAD_MIB: i64 = 64;

/// Lower bound of that bounded `memory_limit`.
const MIN_MEMORY_LIMIT_MIB: i64 = 128;

/// Memory that DuckDB 1.5.6 keeps outside its buffer pool per row loaded in
/// one transaction, in bytes per million rows: objects allocated with
/// `malloc`, which `memory_limit` does not count. Measured on the nested
/// events (two tables, 24 columns in all): 1M events (3M rows) peaked at
/// 220 MiB and 10M events at 237 MiB, so about 0.7 bytes per row. Tables
/// with more columns keep more.
const OUTSIDE_POOL_BYTES_PER_MILLION_ROWS: u64 = 700_000;

/// Reads the `memory_limit` that [`crate::engine`] sets for a large load:
/// 64 MiB per DuckDB thread, and at least 128 MiB. Returns DuckDB's own
/// limit (such as `18.8 GiB`) and that bounded one, or `None` when the
/// configuration sets `memory_limit` or its alias `max_memory`. Call it
/// after [`apply_settings`], so that a configured `threads` counts.
///
/// While a load's transaction is open, DuckDB writes every full row group to
/// the database file but keeps the written blocks in its buffer pool, and
/// only the limit evicts them. With DuckDB's default limit of 80% of RAM, a
/// package of 10M nested events (30M rows in two tables) kept 1 GiB of such
/// blocks until the commit. Evicting them writes nothing, because they are
/// already in the file. With DuckDB 1.5.6 on 2 threads, that load took 21 s
/// of user CPU time under a 61 MiB limit and 20 s under the default limit
/// (one run each). The 64 MiB per thread leave room for the Parquet reader
/// and the row group that each thread builds.
///
/// Wide rows can exceed that room, because the Parquet reader keeps a column
/// chunk of 122,880 rows per thread. One thread under a 128 MiB limit failed
/// with DuckDB's "Out of Memory Error" on 1,280-character strings, so the
/// destination then retries the package under DuckDB's own limit.
pub(crate) fn bounded_memory_limit(
    connection: &Connection,
    config: &DuckDbConfig,
) -> Result<Option<(String, i64)>, PluginError> {
    if config.sets_any(&["memory_limit", "max_memory"]) {
        return Ok(None);
    }

    let (threads, own_limit): (i64, String) = connection
        .query_row(
            "SELECT current_setting('threads')::BIGINT, current_setting('memory_limit')::VARCHAR",
            [],
            |row| Ok((row.get(0)?, row.get(1)?)),
        )
        .map_err(|error| database_error(&error, "failed to read DuckDB's threads and memory_limit"))?;
    let limit_mib = (threads * MEMORY_LIMIT_PER_THREAD_MIB).max(MIN_MEMORY_LIMIT_MIB);
    Ok(Some((own_limit, limit_mib)))
}

/// Returns the `memory_limit` in MiB for a bounded load of `job_rows` rows:
/// `bounded_mib` less what DuckDB keeps outside its buffer pool for that
/// many rows, so that the process peaks about as high for 10M rows as for
/// 1M. The limit goes no lower than half of `bounded_mib`.
///
/// NOTE: past about 96M rows (with the default 128 MiB), the memory outside
/// the pool grows beyond that floor, and so does the peak.
pub(crate) fn bounded_limit_for_rows(bounded_mib: i64, job_rows: u64) -> i64 {
    let outside_bytes = u128::from(job_rows) * u128::from(OUTSIDE_POOL_BYTES_PER_MILLION_ROWS) / 1_000_000;
    let outside_mib = i64::try_from(outside_bytes >> 20).unwrap_or(i64::MAX);
    bounded_mib.saturating_sub(outside_mib).max(bounded_mib / 2)
}

/// Sets DuckDB's `memory_limit`, such as `128MiB` or `18.8 GiB`.
///
/// Returning to DuckDB's own limit goes through this too: in DuckDB 1.5.6,
/// `RESET GLOBAL memory_limit` changes what `current_setting('memory_limit')`
/// returns but not the limit that inserts into an attached file run under.
pub(crate) fn set_memory_limit(connection: &Connection, limit: &str) -> Result<(), PluginError> {
    tracing::debug!(memory_limit = limit, "setting DuckDB's memory limit");
    connection
        .execute_batch(&format!("SET GLOBAL memory_limit = '{}'", limit.replace('\'', "''")))
        .map_err(|error| database_error(&error, format!("failed to set DuckDB's memory_limit to {limit}")))
}

/// Logs at debug level the bytes that DuckDB uses in memory and in temporary
/// files, as `duckdb_memory()` reports them.
pub(crate) fn log_memory_usage(connection: &Connection, load_id: &str) {
    let usage = connection.query_row(
        "SELECT sum(memory_usage_bytes)::BIGINT, sum(temporary_storage_bytes)::BIGINT FROM duckdb_memory()",
        [],
        |row| Ok((row.get::<_, i64>(0)?, row.get::<_, i64>(1)?)),
    );
    match usage {
        Ok((memory_bytes, temporary_bytes)) => {
            tracing::debug!(load_id, memory_bytes, temporary_bytes, "DuckDB memory usage before commit");
        }
        Err(error) => tracing::debug!(load_id, %error, "failed to read DuckDB's memory usage"),
    }
}

fn apply_setting(connection: &Connection, setting: &DuckDbSetting) -> Result<(), PluginError> {
    let (scope, key) = match setting.scope {
        SettingScope::Global => ("GLOBAL", "global_config"),
        SettingScope::Session => ("SESSION", "local_config"),
    };
    // Values stay out of logs and messages: a setting such as
    // s3_secret_access_key contains a secret.
    let statement = format!("SET {scope} {} = {}", setting.name, setting.value);
    tracing::debug!(setting = %setting.name, scope, "applying DuckDB setting");
    connection.execute_batch(&statement).map_err(|error| {
        let reason = redact_value(&error.to_string(), &setting.value);
        PluginError::config(format!(
            "DuckDB rejected setting `credentials.{key}.{}`: {reason}. Fix or remove the setting",
            setting.name
        ))
    })
}

/// Replaces the setting's value in DuckDB's message, in any letter case and
/// in parts: DuckDB repeats a value lowercased or split, as in
/// `Unknown unit for memory: 'canary'` for the value `1 CANARY`.
fn redact_value(message: &str, literal: &str) -> String {
    let raw = match literal.strip_prefix('\'').and_then(|inner| inner.strip_suffix('\'')) {
        Some(inner) => inner.replace("''", "'"),
        None => literal.to_owned(),
    };

    // Longest first, so the whole value goes before its parts.
    let mut pieces: Vec<&str> = raw
        .split(|c: char| c.is_whitespace() || c == '\'' || c == '"')
        .filter(|piece| piece.len() >= 3)
        .collect();
    pieces.push(&raw);
    pieces.sort_by_key(|piece| std::cmp::Reverse(piece.len()));

    let mut redacted = message.to_owned();
    for piece in pieces {
        redacted = replace_ignoring_ascii_case(&redacted, piece, "<value>");
    }
    redacted
}

/// Replaces every occurrence of `needle`, compared without ASCII case.
/// ASCII lowercasing keeps byte offsets, so matches in the lowercased text
/// are valid positions in `text`.
fn replace_ignoring_ascii_case(text: &str, needle: &str, replacement: &str) -> String {
    if needle.is_empty() {
        return text.to_owned();
    }
    let lower_text = text.to_ascii_lowercase();
    let lower_needle = needle.to_ascii_lowercase();

    let mut output = String::with_capacity(text.len());
    let mut start = 0;
    while let Some(found) = lower_text[start..].find(&lower_needle) {
        let at = start + found;
        output.push_str(&text[start..at]);
        output.push_str(replacement);
        start = at + needle.len();
    }
    output.push_str(&text[start..]);
    output
}

pub(crate) fn check_database_path(database: &Path) -> Result<(), PluginError> {
    if database.is_dir() {
        return Err(PluginError::config(format!(
            "DuckDB database path {} is a folder. Set `credentials` to a file path",
            database.display()
        )));
    }

    let folder = match database.parent() {
        Some(folder) if !folder.as_os_str().is_empty() => folder,
        _ => Path::new("."),
    };
    if !folder.is_dir() {
        return Err(PluginError::config(format!(
            "folder {} of DuckDB database {} not found. Create it or change `credentials`",
            folder.display(),
            database.display()
        )));
    }
    Ok(())
}

/// Returns the type options of the connected DuckDB build.
///
/// A cast to `JSON` is tried first, because listing `duckdb_types()` cost
/// about 5 million instructions (1 to 2 ms) of the instance's start. Only a
/// build without the json extension lists them.
pub(crate) fn type_options(connection: &Connection) -> Result<TypeOptions, PluginError> {
    if connection.execute_batch("SELECT NULL::JSON").is_ok() {
        return Ok(TypeOptions { json_type: true });
    }

    let json_types: i64 = connection
        .query_row(
            "SELECT count(*) FROM duckdb_types() WHERE type_name = 'JSON'",
            [],
            |row| row.get(0),
        )
        .map_err(|error| {
            database_error(&error, "failed to list the data types of the DuckDB build")
        })?;
    Ok(TypeOptions {
        json_type: json_types > 0,
    })
}

/// Returns whether table `table` exists in schema `dataset` of the open
/// database.
///
/// Names compare case-insensitively, as DuckDB resolves identifiers.
pub(crate) fn table_exists(
    connection: &Connection,
    dataset: &str,
    table: &str,
) -> Result<bool, PluginError> {
    let count: i64 = connection
        .query_row(
            "SELECT count(*) FROM duckdb_tables() \
             WHERE database_name = current_database() AND lower(schema_name) = lower(?) AND lower(table_name) = lower(?)",
            params![dataset, table],
            |row| row.get(0),
        )
        .map_err(|error| database_error(&error, format!("failed to look up table \"{dataset}\".\"{table}\"")))?;
    Ok(count > 0)
}

/// Returns the lowercased names of the tables in schema `dataset`.
///
/// `duckdb_tables()` is used because `duckdb_columns()` and the
/// `information_schema` views bind every system view on their first use,
/// which took 12 to 18 ms.
pub(crate) fn dataset_tables(connection: &Connection, dataset: &str) -> Result<HashSet<String>, PluginError> {
    let context = || format!("failed to list the tables of dataset \"{dataset}\"");
    let mut statement = connection
        .prepare(
            "SELECT lower(table_name) FROM duckdb_tables() \
             WHERE database_name = current_database() AND lower(schema_name) = lower(?)",
        )
        .map_err(|error| database_error(&error, context()))?;
    statement
        .query_map(params![dataset], |row| row.get::<_, String>(0))
        .and_then(|rows| rows.collect::<Result<HashSet<_>, _>>())
        .map_err(|error| database_error(&error, context()))
}

/// Returns the column names of table `dataset.table` in their stored order,
/// or `None` when the table does not exist.
pub(crate) fn table_columns(
    connection: &Connection,
    dataset: &str,
    table: &str,
) -> Result<Option<Vec<String>>, PluginError> {
    if !table_exists(connection, dataset, table)? {
        return Ok(None);
    }
    existing_table_columns(connection, dataset, table).map(Some)
}

/// Returns the column names of table `dataset.table`, which must exist, in
/// their stored order.
pub(crate) fn existing_table_columns(
    connection: &Connection,
    dataset: &str,
    table: &str,
) -> Result<Vec<String>, PluginError> {
    let context = || format!("failed to read the columns of table \"{dataset}\".\"{table}\"");
    let mut statement = connection
        .prepare("SELECT name FROM pragma_table_info(?) ORDER BY cid")
        .map_err(|error| database_error(&error, context()))?;
    statement
        .query_map(params![qualified_table(dataset, table)], |row| row.get::<_, String>(0))
        .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
        .map_err(|error| database_error(&error, context()))
}

/// Executes one statement and returns the number of rows it changed.
///
/// The statement text is logged at debug level. It contains identifiers and
/// file paths but never data values, which are bound as `parameters`.
pub(crate) fn execute<P: Params>(
    connection: &Connection,
    sql: &str,
    parameters: P,
    context: impl FnOnce() -> String,
) -> Result<usize, PluginError> {
    tracing::debug!(sql, "executing statement");
    connection
        .execute(sql, parameters)
        .map_err(|error| database_error(&error, context()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounded_limit_shrinks_with_rows() {
        assert_eq!(bounded_limit_for_rows(128, 1_000_000), 128, "0.7 MB outside the pool rounds down");
        assert_eq!(bounded_limit_for_rows(128, 3_000_000), 126);
        assert_eq!(bounded_limit_for_rows(128, 30_000_000), 108);
        assert_eq!(bounded_limit_for_rows(128, 1_000_000_000), 64, "never below half");
        assert_eq!(bounded_limit_for_rows(512, u64::MAX), 256);
    }

    #[test]
    fn redaction_covers_case_and_parts() {
        let message = "Unknown unit for memory: 'canary-7f3a' in '1 CANARY-7F3A'";
        let redacted = redact_value(message, "'1 CANARY-7f3a'");
        assert!(!redacted.to_ascii_lowercase().contains("canary"), "{redacted}");
        assert!(redacted.starts_with("Unknown unit for memory"), "{redacted}");
    }

    #[test]
    fn misspelt_setting_fails_check() {
        let config = DuckDbConfig::new("/nowhere/w.duckdb")
            .with_setting(SettingScope::Global, "memory_limt", &serde_json::json!("1GB"))
            .unwrap();
        let error = crate::engine::Engine::start_now(config).unwrap_err();
        assert!(error.message.contains("credentials.global_config.memory_limt"), "{}", error.message);
    }

    #[test]
    fn secret_value_stays_out_of_error() {
        let config = DuckDbConfig::new("/nowhere/w.duckdb")
            .with_setting(SettingScope::Global, "memory_limit", &serde_json::json!("1 CANARY-7f3a"))
            .unwrap();
        let error = crate::engine::Engine::start_now(config).unwrap_err();
        assert!(!error.message.to_ascii_lowercase().contains("canary"), "{}", error.message);
    }
}
