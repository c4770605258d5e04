//! Loading packages into a real DuckDB file: append, replace, exactly-once,
//! rollback on failure, schema migration and quoting.

mod common;

use common::{Fixture, column, job, request, table, users_table, with_precision};
use plugin_sdk::{Destination, ErrorCategory};

const LOAD_1: &str = "1700000001.000001";
const LOAD_2: &str = "1700000002.000002";

#[test]
fn append_twice_adds_rows() {
    let mut fixture = Fixture::new();
    let first = fixture.parquet(
        "users.1",
        "SELECT * FROM (VALUES (1, 'ann'), (2, 'bob')) AS t(id, name)",
    );
    let second = fixture.parquet(
        "users.2",
        "SELECT * FROM (VALUES (3, 'cy'), (4, 'di'), (5, 'ed')) AS t(id, name)",
    );

    let report = fixture
        .destination
        .load_package(&request(
            LOAD_1,
            vec![users_table("append")],
            &[],
            vec![job("users", &first, 2)],
        ))
        .expect("first load");
    assert!(report.applied);
    assert_eq!(report.rows_per_table, vec![("users".to_string(), 2)]);

    let report = fixture
        .destination
        .load_package(&request(
            LOAD_2,
            vec![users_table("append")],
            &[],
            vec![job("users", &second, 3)],
        ))
        .expect("second load");
    assert!(report.applied);
    assert_eq!(report.rows_per_table, vec![("users".to_string(), 3)]);

    assert_eq!(fixture.count("SELECT count(*) FROM ds.users"), 5);
    assert_eq!(
        fixture.strings("SELECT load_id FROM ds._dlt_loads ORDER BY load_id"),
        [LOAD_1, LOAD_2]
    );
    assert_eq!(
        fixture
            .count("SELECT count(*) FROM ds._dlt_loads WHERE status = 0 AND schema_name = 'shop'"),
        2
    );
    // Both packages carry the same schema hash, so it is stored once.
    assert_eq!(fixture.count("SELECT count(*) FROM ds._dlt_version"), 1);
}

#[test]
fn rows_summed_per_table() {
    let mut fixture = Fixture::new();
    let users_1 = fixture.parquet("users.1", "SELECT 1 AS id, 'ann' AS name");
    let users_2 = fixture.parquet(
        "users.2",
        "SELECT * FROM (VALUES (2, 'bob'), (3, 'cy')) AS t(id, name)",
    );
    let orders = fixture.parquet("orders.1", "SELECT 10 AS order_id");
    let orders_table = table(
        "orders",
        "append",
        vec![column("order_id", "bigint", false)],
    );

    let jobs = vec![
        job("users", &users_1, 1),
        job("orders", &orders, 1),
        job("users", &users_2, 2),
    ];
    let report = fixture
        .destination
        .load_package(&request(
            LOAD_1,
            vec![users_table("append"), orders_table],
            &[],
            jobs,
        ))
        .expect("load");

    assert_eq!(
        report.rows_per_table,
        vec![("users".to_string(), 3), ("orders".to_string(), 1)]
    );
}

#[test]
fn job_files_with_different_columns_load_together() {
    let mut fixture = Fixture::new();
    let wide = table(
        "users",
        "append",
        vec![
            column("id", "bigint", false),
            column("name", "text", true),
            column("score", "double", true),
        ],
    );
    // Consecutive files of one table share an insert, though each contains
    // other columns, in another order, with another integer width.
    let files = [
        fixture.parquet("users.1", "SELECT 1::INTEGER AS id"),
        fixture.parquet("users.2", "SELECT 'bob' AS name, 2::BIGINT AS id"),
        fixture.parquet("users.3", "SELECT 0.5::DOUBLE AS score, 3 AS id, 'cy' AS name"),
    ];
    let jobs = files.iter().map(|file| job("users", file, 1)).collect();

    let report = fixture
        .destination
        .load_package(&request(LOAD_1, vec![wide], &[], jobs))
        .expect("load");

    assert_eq!(report.rows_per_table, vec![("users".to_string(), 3)]);
    assert_eq!(
        fixture.strings(
            "SELECT concat_ws('|', id, coalesce(name, '-'), coalesce(score::VARCHAR, '-')) FROM ds.users ORDER BY id"
        ),
        ["1|-|-", "2|bob|-", "3|cy|0.5"]
    );
}

#[test]
fn partition_like_folder_is_not_a_column() {
    let mut fixture = Fixture::new();
    let folder = fixture.dir.path().join("year=2024");
    std::fs::create_dir(&folder).expect("create folder");
    let events = table(
        "events",
        "append",
        vec![column("id", "bigint", false), column("year", "bigint", true)],
    );
    // One file alone and two sharing an insert.
    let files = [
        folder.join("events.1.parquet"),
        folder.join("events.2.parquet"),
        folder.join("events.3.parquet"),
    ];
    common::write_parquet(&files[0], "SELECT 1 AS id, 1999 AS year");
    common::write_parquet(&files[1], "SELECT 2 AS id, 1888 AS year");
    common::write_parquet(&files[2], "SELECT 3 AS id");
    let first = vec![job("events", &files[0], 1)];
    let rest = vec![job("events", &files[1], 1), job("events", &files[2], 1)];

    for (load_id, jobs) in [(LOAD_1, first), (LOAD_2, rest)] {
        fixture
            .destination
            .load_package(&request(load_id, vec![events.clone()], &[], jobs))
            .expect("load");
    }

    assert_eq!(
        fixture.strings("SELECT concat_ws('|', id, coalesce(year::VARCHAR, '-')) FROM ds.events ORDER BY id"),
        ["1|1999", "2|1888", "3|-"]
    );
}

#[test]
fn hundreds_of_job_files_load() {
    let mut fixture = Fixture::new();
    let orders_table = table("orders", "append", vec![column("order_id", "bigint", false)]);
    // More files of one table than one insert takes, with a job of another
    // table between them.
    let mut jobs = Vec::new();
    for id in 1..=300 {
        let file = fixture.parquet(&format!("users.{id}"), &format!("SELECT {id} AS id, 'u{id}' AS name"));
        jobs.push(job("users", &file, 1));
    }
    let orders = fixture.parquet("orders.1", "SELECT 10 AS order_id");
    jobs.insert(100, job("orders", &orders, 1));

    let report = fixture
        .destination
        .load_package(&request(LOAD_1, vec![users_table("append"), orders_table], &[], jobs))
        .expect("load");

    assert_eq!(
        report.rows_per_table,
        vec![("users".to_string(), 300), ("orders".to_string(), 1)]
    );
    assert_eq!(fixture.count("SELECT count(DISTINCT id) FROM ds.users WHERE name = 'u' || id"), 300);
    assert_eq!(fixture.count("SELECT sum(id) FROM ds.users"), 300 * 301 / 2);
}

#[test]
fn many_files_load_under_small_memory_limit() {
    let settings = [("memory_limit", serde_json::json!("8MB")), ("threads", serde_json::json!(2))];
    let mut fixture = Fixture::with_global_settings(&settings);
    let mut jobs = Vec::new();
    for id in 1..=300 {
        let file = fixture.parquet(&format!("users.{id}"), &format!("SELECT {id} AS id, 'u{id}' AS name"));
        jobs.push(job("users", &file, 1));
    }

    fixture
        .destination
        .load_package(&request(LOAD_1, vec![users_table("append")], &[], jobs))
        .expect("load under 8 MB");

    assert_eq!(fixture.count("SELECT count(*) FROM ds.users"), 300);
}

#[test]
fn damaged_file_fails_shared_insert() {
    let mut fixture = Fixture::new();
    let first = fixture.parquet("users.1", "SELECT 1 AS id, 'ann' AS name");
    let damaged = fixture.dir.path().join("users.2.parquet");
    std::fs::write(&damaged, b"not a parquet file").expect("write damaged file");
    let last = fixture.parquet("users.3", "SELECT 3 AS id, 'cy' AS name");
    let jobs = vec![job("users", &first, 1), job("users", &damaged, 1), job("users", &last, 1)];

    let error = fixture
        .destination
        .load_package(&request(LOAD_1, vec![users_table("append")], &[], jobs))
        .expect_err("a damaged file must fail the package");

    // The message names the damaged file, not the group that shared the insert.
    assert!(error.message().contains("job users.users.2.parquet"), "{error}");
    assert!(!error.message().contains("3 jobs"), "{error}");
    assert_eq!(
        fixture.count("SELECT count(*) FROM information_schema.tables WHERE table_name IN ('users', '_dlt_loads')"),
        0
    );
}

#[test]
fn committed_package_not_applied_twice() {
    let mut fixture = Fixture::new();
    let file = fixture.parquet(
        "users.1",
        "SELECT * FROM (VALUES (1, 'ann'), (2, 'bob')) AS t(id, name)",
    );
    let package = request(
        LOAD_1,
        vec![users_table("append")],
        &[],
        vec![job("users", &file, 2)],
    );

    let first = fixture
        .destination
        .load_package(&package)
        .expect("first attempt");
    let second = fixture
        .destination
        .load_package(&package)
        .expect("second attempt");

    assert!(first.applied);
    assert!(!second.applied);
    assert!(second.rows_per_table.is_empty());
    assert_eq!(fixture.count("SELECT count(*) FROM ds.users"), 2);
    assert_eq!(fixture.count("SELECT count(*) FROM ds._dlt_loads"), 1);
}

#[test]
fn replace_replaces_rows() {
    let mut fixture = Fixture::new();
    let old = fixture.parquet(
        "users.1",
        "SELECT * FROM (VALUES (1, 'ann'), (2, 'bob'), (3, 'cy')) AS t(id, name)",
    );
    let new = fixture.parquet(
        "users.2",
        "SELECT * FROM (VALUES (7, 'gil'), (8, 'hal')) AS t(id, name)",
    );

    fixture
        .destination
        .load_package(&request(
            LOAD_1,
            vec![users_table("replace")],
            &["users"],
            vec![job("users", &old, 3)],
        ))
        .expect("first replace");
    fixture
        .destination
        .load_package(&request(
            LOAD_2,
            vec![users_table("replace")],
            &["users"],
            vec![job("users", &new, 2)],
        ))
        .expect("second replace");

    assert_eq!(
        fixture.strings("SELECT name FROM ds.users ORDER BY id"),
        ["gil", "hal"]
    );
}

#[test]
fn failed_replace_keeps_old_rows() {
    let mut fixture = Fixture::new();
    let old = fixture.parquet(
        "users.1",
        "SELECT * FROM (VALUES (1, 'ann'), (2, 'bob'), (3, 'cy')) AS t(id, name)",
    );
    fixture
        .destination
        .load_package(&request(
            LOAD_1,
            vec![users_table("replace")],
            &["users"],
            vec![job("users", &old, 3)],
        ))
        .expect("first replace");

    // The first job of the second package is valid and the second is not, so
    // the failure comes after the table was emptied and refilled.
    let valid = fixture.parquet("users.2", "SELECT 9 AS id, 'ivy' AS name");
    let corrupt = fixture.dir.path().join("users.3.parquet");
    std::fs::write(&corrupt, b"this is not a parquet file").unwrap();
    let jobs = vec![job("users", &valid, 1), job("users", &corrupt, 1)];
    let error = fixture
        .destination
        .load_package(&request(
            LOAD_2,
            vec![users_table("replace")],
            &["users"],
            jobs,
        ))
        .expect_err("corrupt job file must fail the package");

    assert_eq!(error.category, ErrorCategory::Terminal, "{error}");
    assert!(error.message().contains("users.3.parquet"), "{error}");
    assert!(error.message().contains(LOAD_2), "{error}");
    assert_eq!(
        fixture.strings("SELECT name FROM ds.users ORDER BY id"),
        ["ann", "bob", "cy"]
    );
    assert_eq!(
        fixture.strings("SELECT load_id FROM ds._dlt_loads"),
        [LOAD_1]
    );
}

#[test]
fn missing_job_file_keeps_old_rows() {
    let mut fixture = Fixture::new();
    let old = fixture.parquet("users.1", "SELECT 1 AS id, 'ann' AS name");
    fixture
        .destination
        .load_package(&request(
            LOAD_1,
            vec![users_table("replace")],
            &["users"],
            vec![job("users", &old, 1)],
        ))
        .expect("first replace");

    let valid = fixture.parquet("users.2", "SELECT 9 AS id, 'ivy' AS name");
    let missing = fixture.dir.path().join("users.missing.parquet");
    let jobs = vec![job("users", &valid, 1), job("users", &missing, 1)];
    let error = fixture
        .destination
        .load_package(&request(
            LOAD_2,
            vec![users_table("replace")],
            &["users"],
            jobs,
        ))
        .expect_err("missing job file must fail the package");

    assert_eq!(error.category, ErrorCategory::Terminal, "{error}");
    assert!(error.message().contains("users.missing.parquet"), "{error}");
    assert!(error.message().contains("not found"), "{error}");
    assert_eq!(fixture.strings("SELECT name FROM ds.users"), ["ann"]);
    assert_eq!(fixture.count("SELECT count(*) FROM ds._dlt_loads"), 1);
}

#[test]
fn out_of_range_value_is_terminal() {
    let mut fixture = Fixture::new();
    let small = table(
        "small",
        "append",
        vec![with_precision(column("n", "bigint", true), 8)],
    );
    let file = fixture.parquet("small.1", "SELECT 1000 AS n");

    let error = fixture
        .destination
        .load_package(&request(
            LOAD_1,
            vec![small],
            &[],
            vec![job("small", &file, 1)],
        ))
        .expect_err("1000 does not fit in TINYINT");

    assert_eq!(error.category, ErrorCategory::Terminal, "{error}");
    assert!(error.message().contains("\"small\""), "{error}");
    assert!(error.to_string().contains("Conversion Error"), "{error}");
    // The whole package rolled back, including the CREATE TABLE.
    assert_eq!(
        fixture.count("SELECT count(*) FROM information_schema.tables WHERE table_name IN ('small', '_dlt_loads')"),
        0
    );
}

#[test]
fn oversized_value_names_shared_insert() {
    let mut fixture = Fixture::new();
    let small = table(
        "small",
        "append",
        vec![with_precision(column("n", "bigint", true), 8)],
    );
    let fits = fixture.parquet("small.1", "SELECT 1 AS n");
    let too_large = fixture.parquet("small.2", "SELECT 1000 AS n");
    let jobs = vec![job("small", &fits, 1), job("small", &too_large, 1)];

    let error = fixture
        .destination
        .load_package(&request(LOAD_1, vec![small], &[], jobs))
        .expect_err("1000 does not fit in TINYINT");

    // Each file reads fine on its own, so the message names both jobs.
    assert!(error.message().contains("2 jobs from small.small.1.parquet to small.small.2.parquet"), "{error}");
    assert_eq!(error.category, ErrorCategory::Terminal, "{error}");
}

#[test]
fn new_column_added_at_end() {
    let mut fixture = Fixture::new();
    let narrow = table("users", "append", vec![column("id", "bigint", false)]);
    let first = fixture.parquet("users.1", "SELECT 1 AS id");
    fixture
        .destination
        .load_package(&request(
            LOAD_1,
            vec![narrow],
            &[],
            vec![job("users", &first, 1)],
        ))
        .expect("first load");

    let wide = table(
        "users",
        "append",
        vec![
            column("id", "bigint", false),
            column("name", "text", true),
            column("score", "double", false),
        ],
    );
    let second = fixture.parquet("users.2", "SELECT 'bob' AS name, 2 AS id, 0.5 AS score");
    fixture
        .destination
        .load_package(&request(
            LOAD_2,
            vec![wide],
            &[],
            vec![job("users", &second, 1)],
        ))
        .expect("second load");

    assert_eq!(
        fixture.strings(
            "SELECT column_name FROM information_schema.columns \
             WHERE table_schema = 'ds' AND table_name = 'users' ORDER BY ordinal_position"
        ),
        ["id", "name", "score"]
    );
    assert_eq!(
        fixture.strings("SELECT coalesce(name, '<null>') FROM ds.users ORDER BY id"),
        ["<null>", "bob"]
    );
}

#[test]
fn column_types_follow_dlt_map() {
    let mut fixture = Fixture::new();
    let mut naive = column("naive_ms", "timestamp", true);
    naive.timezone = Some(false);
    naive.precision = Some(3);
    let mut price = column("price", "decimal", true);
    price.precision = Some(10);
    price.scale = Some(2);
    let typed = table(
        "typed",
        "append",
        vec![
            column("id", "bigint", false),
            column("at", "timestamp", true),
            naive,
            column("doc", "json", true),
            column("amount", "decimal", true),
            price,
            column("balance", "wei", true),
            with_precision(column("huge", "bigint", true), 128),
            column("raw", "binary", true),
            column("day", "date", true),
            column("clock", "time", true),
        ],
    );
    let file = fixture.parquet(
        "typed.1",
        "SELECT 1 AS id, TIMESTAMPTZ '2024-01-02 03:04:05+00' AS at, '{\"a\": 1}' AS doc, 1.5 AS amount",
    );
    fixture
        .destination
        .load_package(&request(
            LOAD_1,
            vec![typed],
            &[],
            vec![job("typed", &file, 1)],
        ))
        .expect("load");

    let types = fixture.strings(
        "SELECT data_type FROM information_schema.columns \
         WHERE table_schema = 'ds' AND table_name = 'typed' ORDER BY ordinal_position",
    );
    assert_eq!(
        types,
        [
            "BIGINT",
            "TIMESTAMP WITH TIME ZONE",
            "TIMESTAMP_MS",
            "JSON",
            "DECIMAL(38,9)",
            "DECIMAL(10,2)",
            "DECIMAL(38,0)",
            "HUGEINT",
            "BLOB",
            "DATE",
            "TIME",
        ]
    );
    assert_eq!(
        fixture.strings("SELECT doc::VARCHAR FROM ds.typed"),
        ["{\"a\": 1}"]
    );
    assert_eq!(
        fixture.count("SELECT count(*) FROM information_schema.columns WHERE table_name = 'typed' AND is_nullable = 'NO'"),
        1
    );
}

#[test]
fn reserved_and_quoted_names_work() {
    let mut fixture = Fixture::new();
    let order = table(
        "order",
        "replace",
        vec![
            column("select", "bigint", false),
            column("group", "text", true),
            column("say \"hi\"", "text", true),
        ],
    );
    let mut package = request(LOAD_1, vec![order.clone()], &["order"], Vec::new());
    package.dataset_name = "in".to_string();
    let first = fixture.parquet(
        "order.1",
        "SELECT * FROM (VALUES (1, 'a', 'x'), (2, 'b', 'y')) AS t(\"select\", \"group\", \"say \"\"hi\"\"\")",
    );
    package.jobs = vec![job("order", &first, 2)];
    fixture
        .destination
        .load_package(&package)
        .expect("first load");

    let second = fixture.parquet(
        "order.2",
        "SELECT 3 AS \"select\", 'c' AS \"group\", 'z' AS \"say \"\"hi\"\"\"",
    );
    package.load_id = LOAD_2.to_string();
    package.jobs = vec![job("order", &second, 1)];
    fixture
        .destination
        .load_package(&package)
        .expect("replace load");

    assert_eq!(
        fixture.strings("SELECT \"say \"\"hi\"\"\" FROM \"in\".\"order\""),
        ["z"]
    );
    assert_eq!(
        fixture.count("SELECT count(*) FROM \"in\".\"_dlt_loads\""),
        2
    );
}

#[test]
fn schema_version_stored_per_hash() {
    let mut fixture = Fixture::new();
    let file = fixture.parquet("users.1", "SELECT 1 AS id, 'ann' AS name");
    let mut package = request(
        LOAD_1,
        vec![users_table("append")],
        &[],
        vec![job("users", &file, 1)],
    );
    fixture
        .destination
        .load_package(&package)
        .expect("first load");

    package.load_id = LOAD_2.to_string();
    package.schema = common::schema(2, "hash-2");
    fixture
        .destination
        .load_package(&package)
        .expect("second load");

    assert_eq!(
        fixture.strings("SELECT version_hash FROM ds._dlt_version ORDER BY version"),
        ["hash-1", "hash-2"]
    );
    assert_eq!(
        fixture.strings("SELECT schema_version_hash FROM ds._dlt_loads ORDER BY load_id"),
        ["hash-1", "hash-2"]
    );
    assert_eq!(fixture.count("SELECT count(*) FROM ds._dlt_version WHERE engine_version = 11 AND schema_name = 'shop'"), 2);
}

#[test]
fn dataset_named_like_catalog_loads() {
    // DuckDB names a database's catalog after its file (`warehouse` here), and
    // `memory` is the catalog of an in-memory database. A dataset of either
    // name must not make `"dataset"."table"` ambiguous.
    let mut fixture = Fixture::new();
    let file = fixture.parquet("users.1", "SELECT 1 AS id, 'ann' AS name");

    for (load_id, dataset) in [(LOAD_1, "warehouse"), (LOAD_2, "memory")] {
        let mut package = request(load_id, vec![users_table("append")], &[], vec![job("users", &file, 1)]);
        package.dataset_name = dataset.to_string();
        let report = fixture
            .destination
            .load_package(&package)
            .unwrap_or_else(|error| panic!("load into dataset {dataset} failed: {error}"));
        assert!(report.applied, "dataset {dataset}");
    }

    assert_eq!(fixture.count("SELECT count(*) FROM warehouse.warehouse.users"), 1);
    assert_eq!(fixture.count("SELECT count(*) FROM warehouse.memory.users"), 1);
}
