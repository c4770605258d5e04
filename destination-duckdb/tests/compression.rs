//! Compression of checkpointed tables: a small database is checkpointed
//! without FSST analysis, and a larger load gets FSST again.

mod common;

use common::{Fixture, column, job, request, table};
use plugin_sdk::Destination;
use plugin_sdk::protocol::TableSpec;

const LOAD_1: &str = "1700000001.000001";
const LOAD_2: &str = "1700000002.000002";

/// Returns a table `name` with one text column `url`.
fn urls_table(name: &str) -> TableSpec {
    table(name, "append", vec![column("url", "text", true)])
}

/// Returns a query of `rows` distinct URLs that share most of their text,
/// which FSST compresses well and dictionary compression does not.
fn urls(rows: u32) -> String {
    format!(
        "SELECT 'https://shop.example.com/catalog/item-' || lpad(i::VARCHAR, 6, '0') \
         || '/details?utm_source=newsletter&utm_medium=email' AS url FROM range({rows}) AS t(i)"
    )
}

/// Returns the compression methods of the text segments of `ds.<table>.url`.
fn url_compression(fixture: &Fixture, table: &str) -> Vec<String> {
    fixture.strings(&format!(
        "SELECT DISTINCT compression FROM pragma_storage_info('ds.{table}') \
         WHERE column_name = 'url' AND segment_type = 'VARCHAR' ORDER BY 1"
    ))
}

#[test]
fn small_database_skips_fsst() {
    let mut fixture = Fixture::new();
    let file = fixture.parquet("small", &urls(200));

    let report = fixture
        .destination
        .load_package(&request(LOAD_1, vec![urls_table("small")], &[], vec![job("small", &file, 200)]))
        .expect("small load");

    assert!(report.applied);
    assert_eq!(fixture.count("SELECT count(*) FROM ds.small"), 200);
    let methods = url_compression(&fixture, "small");
    assert!(!methods.is_empty(), "no text segments found for ds.small.url");
    assert!(!methods.contains(&"FSST".to_string()), "ds.small.url uses {methods:?}");
}

#[test]
fn larger_append_rewrites_with_fsst() {
    let mut fixture = Fixture::new();
    let small = fixture.parquet("small", &urls(200));
    let large = fixture.parquet("large", &urls(5_000));

    fixture
        .destination
        .load_package(&request(LOAD_1, vec![urls_table("urls")], &[], vec![job("urls", &small, 200)]))
        .expect("small load");
    assert_eq!(url_compression(&fixture, "urls"), ["Uncompressed"]);

    fixture
        .destination
        .load_package(&request(LOAD_2, vec![urls_table("urls")], &[], vec![job("urls", &large, 5_000)]))
        .expect("large load");

    // The small load disabled FSST only for its own commit, and the append
    // rewrote the small load's rows with FSST too.
    assert_eq!(fixture.count("SELECT count(*) FROM ds.urls"), 5_200);
    assert_eq!(url_compression(&fixture, "urls"), ["FSST"]);
}

#[test]
fn configured_compression_setting_kept() {
    let dir = tempfile::tempdir().expect("create temporary folder");
    let database = dir.path().join("warehouse.duckdb");
    let config = serde_json::json!({
        "credentials": {
            "database": database.display().to_string(),
            "global_config": {"disabled_compression_methods": "dictionary"}
        }
    });
    let mut destination = destination_duckdb::DuckDbDestination::from_json(&config).expect("configured destination");
    let file = dir.path().join("small.parquet");
    common::write_parquet(&file, &urls(200));

    destination
        .load_package(&request(LOAD_1, vec![urls_table("small")], &[], vec![job("small", &file, 200)]))
        .expect("small load");
    drop(destination);

    // With the setting configured, the small database keeps FSST analysis.
    let connection = duckdb::Connection::open(&database).expect("open database for checks");
    let mut statement = connection
        .prepare(
            "SELECT DISTINCT compression FROM pragma_storage_info('ds.small') \
             WHERE column_name = 'url' AND segment_type = 'VARCHAR'",
        )
        .expect("prepare check query");
    let methods: Vec<String> = statement
        .query_map([], |row| row.get(0))
        .and_then(|rows| rows.collect())
        .expect("read compression methods");
    assert!(methods.contains(&"FSST".to_string()), "ds.small.url uses {methods:?}");
}
