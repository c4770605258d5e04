//! Loads into small databases: the commit checkpoints without FSST
//! analysis, and DuckDB runs them with one thread (set in `engine.rs`).
//!
//! Each commit checkpoints (see `engine.rs`), and the checkpoint analyzes
//! every text column of every changed table with each compression method.
//! FSST's analysis costs about 0.7 ms per column however few rows it has (an
//! estimate from profiles of the three-row benchmark run with DuckDB 1.5.6
//! on a 2-vCPU machine), and that run changes 23 text columns.
//!
//! So while the whole database file contains at most
//! [`MAX_SMALL_DATABASE_ROWS`] rows, this package included, the commit runs
//! with FSST disabled. The instance starts that way, and `engine.rs` switches
//! FSST on and off when it attaches the file for a load. Such tables fit in
//! a few of DuckDB's 256 KiB blocks either way: 400 similar URLs were stored
//! uncompressed instead of with FSST, in a file of the same size (1,323,008
//! bytes). The events of bench/gen_events.py got the same compression with
//! and without FSST up to 500 events. A later load that makes the database
//! larger and appends to such a table rewrites its last row group with FSST
//! analysis on. A `disabled_compression_methods` value set in the
//! configuration is left as it is.

use duckdb::Connection;
use plugin_sdk::PluginError;
use plugin_sdk::protocol::LoadRequest;

use crate::config::DuckDbConfig;
use crate::error::database_error;

/// Rows in the whole database file, after the commit, up to which the
/// database counts as small.
pub(crate) const MAX_SMALL_DATABASE_ROWS: u64 = 1_000;

/// Returns whether a database file that does not exist yet is small after a
/// package of `job_rows` rows creates it.
pub(crate) fn new_database_is_small(job_rows: u64) -> bool {
    package_rows_bound(job_rows) <= MAX_SMALL_DATABASE_ROWS
}

/// Returns whether the attached database file contains at most
/// [`MAX_SMALL_DATABASE_ROWS`] rows after a package of `job_rows` rows.
///
/// The query costs about 5 million instructions (1 to 2 ms), so callers ask
/// once per load and skip it for a file the load creates.
pub(crate) fn database_is_small(connection: &Connection, job_rows: u64) -> Result<bool, PluginError> {
    // `estimated_size` counts committed rows only, so the package's rows come
    // on top.
    let committed_rows: i64 = connection
        .query_row(
            "SELECT coalesce(sum(estimated_size), 0)::BIGINT FROM duckdb_tables() WHERE database_name = current_database()",
            [],
            |row| row.get(0),
        )
        .map_err(|error| database_error(&error, "failed to count the rows of the DuckDB database"))?;

    let rows = u64::try_from(committed_rows).unwrap_or(u64::MAX).saturating_add(package_rows_bound(job_rows));
    Ok(rows <= MAX_SMALL_DATABASE_ROWS)
}

/// Returns the rows of all job files of the package in `request`.
pub(crate) fn job_rows(request: &LoadRequest) -> u64 {
    request.jobs.iter().map(|job| job.row_count).fold(0, u64::saturating_add)
}

/// Returns whether the configuration sets `disabled_compression_methods`,
/// which the destination then leaves as it is.
pub(crate) fn fsst_configured(config: &DuckDbConfig) -> bool {
    config.sets_any(&["disabled_compression_methods"])
}

/// Returns the statement that makes the instance's checkpoints skip FSST
/// (`enabled: false`) or analyze it again.
pub(crate) fn fsst_statement(enabled: bool) -> &'static str {
    if enabled {
        "RESET GLOBAL disabled_compression_methods"
    } else {
        "SET GLOBAL disabled_compression_methods = 'fsst'"
    }
}

/// Returns an upper bound of the rows a package of `job_rows` rows adds:
/// each job row once in its table or staging table and once more when
/// merged, plus the `_dlt_loads` and `_dlt_version` rows.
fn package_rows_bound(job_rows: u64) -> u64 {
    job_rows.saturating_mul(2).saturating_add(2)
}
