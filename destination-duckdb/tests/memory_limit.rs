//! Loading packages larger than DuckDB's `memory_limit` into a real DuckDB
//! file. DuckDB then evicts row groups that it already wrote to the file
//! before the commit, and the package must still commit or fail as a whole.

mod common;

use common::{Fixture, job, request, users_table};
use plugin_sdk::{Destination, ErrorCategory};

const LOAD_1: &str = "1700000001.000001";
const LOAD_2: &str = "1700000002.000002";

/// Rows per job file. DuckDB 1.5.6 stores two files of 500,000 rows with
/// 64-character hex names in 33 MiB of blocks, and under the 64 MB limit of
/// the tests it kept 16 MiB of them in memory. Under 48 MB it failed with an
/// "Out of Memory Error".
const ROWS_PER_FILE: i64 = 500_000;

/// Creates a destination whose DuckDB instance has `memory_limit` set to `limit`.
fn fixture_with_memory_limit(limit: &str) -> Fixture {
    Fixture::with_global_settings(&[("memory_limit", serde_json::json!(limit))])
}

/// Writes `users.<name>.parquet` with ids `first..first + ROWS_PER_FILE`.
fn write_users(fixture: &Fixture, name: &str, first: i64) -> std::path::PathBuf {
    let end = first + ROWS_PER_FILE;
    fixture.parquet(
        &format!("users.{name}"),
        &format!("SELECT range AS id, md5(range::VARCHAR) || md5(range::VARCHAR || 'b') AS name FROM range({first}, {end})"),
    )
}

#[test]
fn large_package_commits_whole() {
    let mut fixture = fixture_with_memory_limit("64MB");
    let first = write_users(&fixture, "1", 0);
    let second = write_users(&fixture, "2", ROWS_PER_FILE);
    let jobs = vec![
        job("users", &first, ROWS_PER_FILE as u64),
        job("users", &second, ROWS_PER_FILE as u64),
    ];

    let report = fixture
        .destination
        .load_package(&request(LOAD_1, vec![users_table("append")], &[], jobs))
        .expect("load larger than memory_limit");

    assert!(report.applied);
    assert_eq!(
        report.rows_per_table,
        vec![("users".to_string(), 2 * ROWS_PER_FILE as u64)]
    );
    assert_eq!(fixture.count("SELECT count(*) FROM ds.users"), 2 * ROWS_PER_FILE);
    assert_eq!(fixture.count("SELECT count(DISTINCT id) FROM ds.users"), 2 * ROWS_PER_FILE);
    assert_eq!(fixture.count("SELECT max(id) FROM ds.users"), 2 * ROWS_PER_FILE - 1);
    assert_eq!(fixture.strings("SELECT load_id FROM ds._dlt_loads"), [LOAD_1]);
}

#[test]
fn failed_large_package_keeps_old_rows() {
    let mut fixture = fixture_with_memory_limit("64MB");
    let old = fixture.parquet("users.0", "SELECT -1 AS id, 'ann' AS name");
    fixture
        .destination
        .load_package(&request(
            LOAD_1,
            vec![users_table("append")],
            &[],
            vec![job("users", &old, 1)],
        ))
        .expect("first load");

    // The large valid jobs run first, so DuckDB has written and evicted their
    // row groups when the last job fails.
    let first = write_users(&fixture, "1", 0);
    let second = write_users(&fixture, "2", ROWS_PER_FILE);
    let corrupt = fixture.dir.path().join("users.3.parquet");
    std::fs::write(&corrupt, b"this is not a parquet file").unwrap();
    let jobs = vec![
        job("users", &first, ROWS_PER_FILE as u64),
        job("users", &second, ROWS_PER_FILE as u64),
        job("users", &corrupt, 1),
    ];
    let error = fixture
        .destination
        .load_package(&request(LOAD_2, vec![users_table("append")], &[], jobs))
        .expect_err("corrupt job file must fail the package");

    assert_eq!(error.category, ErrorCategory::Terminal, "{error}");
    assert!(error.message().contains("users.3.parquet"), "{error}");
    assert_eq!(fixture.strings("SELECT name FROM ds.users"), ["ann"]);
    assert_eq!(fixture.strings("SELECT load_id FROM ds._dlt_loads"), [LOAD_1]);
}

#[test]
fn configured_limit_too_small_fails() {
    // DuckDB 1.5.6 needs more than 16 MB for these rows because the Parquet
    // reader keeps a column chunk of 122,880 names (8 MB) per thread. A
    // configured limit is kept, unlike the destination's default, so the
    // package fails.
    let mut fixture = fixture_with_memory_limit("16MB");
    let first = write_users(&fixture, "1", 0);

    let error = fixture
        .destination
        .load_package(&request(
            LOAD_1,
            vec![users_table("append")],
            &[],
            vec![job("users", &first, ROWS_PER_FILE as u64)],
        ))
        .expect_err("load must run out of memory");

    assert_eq!(error.category, ErrorCategory::Transient, "{error}");
    assert!(
        error.causes().any(|cause| cause.starts_with("Out of Memory Error")),
        "{error}"
    );
    assert_eq!(fixture.count("SELECT count(*) FROM duckdb_tables() WHERE table_name = 'users'"), 0);
}

#[test]
fn default_limit_lifted_for_wide_rows() {
    // With one thread the bounded limit is 128 MiB, and one row group of
    // 122,880 names of 1,280 characters is a 157 MB column chunk, so the
    // first attempt runs out of memory.
    const WIDE_ROWS: &str = "SELECT range AS id, repeat(md5(range::VARCHAR), 40) AS name FROM range(122880)";
    let mut fixture = Fixture::with_global_settings(&[("threads", serde_json::json!(1))]);
    let wide = fixture.parquet("users.wide", WIDE_ROWS);

    // The premise: a configured limit of the same size is kept, and fails.
    let mut bounded = Fixture::with_global_settings(&[
        ("threads", serde_json::json!(1)),
        ("memory_limit", serde_json::json!("128MiB")),
    ]);
    let bounded_wide = bounded.parquet("users.wide", WIDE_ROWS);
    let error = bounded
        .destination
        .load_package(&request(
            LOAD_1,
            vec![users_table("append")],
            &[],
            vec![job("users", &bounded_wide, 1_000_000)],
        ))
        .expect_err("wide rows must run out of memory under 128 MiB");
    assert!(
        error.causes().any(|cause| cause.starts_with("Out of Memory Error")),
        "{error}"
    );

    let report = fixture
        .destination
        .load_package(&request(
            LOAD_1,
            vec![users_table("append")],
            &[],
            // The declared row count steers the limit: only packages of 1M
            // job rows or more load under the bounded limit.
            vec![job("users", &wide, 1_000_000)],
        ))
        .expect("load retried under DuckDB's own memory limit");

    assert!(report.applied);
    assert_eq!(fixture.count("SELECT count(*) FROM ds.users"), 122_880);
    assert_eq!(fixture.count("SELECT min(length(name)) FROM ds.users"), 1_280);
    assert_eq!(fixture.strings("SELECT load_id FROM ds._dlt_loads"), [LOAD_1]);
}
