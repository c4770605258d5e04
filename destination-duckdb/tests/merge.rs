//! Write disposition `merge` on a real DuckDB file: delete-insert and upsert,
//! nested tables, duplicate keys, rollback and staging cleanup.

mod common;

use common::{Fixture, column, job, request, table};
use plugin_sdk::protocol::{ColumnSpec, TableSpec};
use plugin_sdk::{Destination, ErrorCategory};

const LOAD_1: &str = "1700000001.000001";
const LOAD_2: &str = "1700000002.000002";

fn key(name: &str) -> ColumnSpec {
    ColumnSpec {
        primary_key: true,
        ..column(name, "bigint", false)
    }
}

/// `items`: `id` (primary key), `name`, `_dlt_id`.
fn items(strategy: Option<&str>) -> TableSpec {
    TableSpec {
        merge_strategy: strategy.map(str::to_string),
        ..table(
            "items",
            "merge",
            vec![
                key("id"),
                column("name", "text", true),
                ColumnSpec {
                    row_key: true,
                    ..column("_dlt_id", "text", false)
                },
            ],
        )
    }
}

/// `items__kids`: nested rows of `items` with `n`, `_dlt_root_id`, `_dlt_id`.
fn kids(strategy: Option<&str>) -> TableSpec {
    TableSpec {
        parent: Some("items".to_string()),
        merge_strategy: strategy.map(str::to_string),
        ..table(
            "items__kids",
            "merge",
            vec![
                column("n", "bigint", true),
                ColumnSpec {
                    root_key: true,
                    ..column("_dlt_root_id", "text", false)
                },
                ColumnSpec {
                    row_key: true,
                    ..column("_dlt_id", "text", false)
                },
            ],
        )
    }
}

/// Loads `items` rows and `items__kids` rows, given as SELECTs, with merge.
fn load(
    fixture: &mut Fixture,
    load_id: &str,
    strategy: Option<&str>,
    items_sql: &str,
    kids_sql: Option<&str>,
) -> Result<plugin_sdk::protocol::LoadReport, plugin_sdk::PluginError> {
    let items_file = fixture.parquet(&format!("items.{load_id}"), items_sql);
    let mut jobs = vec![job("items", &items_file, 0)];
    if let Some(sql) = kids_sql {
        let kids_file = fixture.parquet(&format!("items__kids.{load_id}"), sql);
        jobs.push(job("items__kids", &kids_file, 0));
    }
    fixture.destination.load_package(&request(
        load_id,
        vec![items(strategy), kids(strategy)],
        &[],
        jobs,
    ))
}

const RUN_1_ITEMS: &str =
    "SELECT * FROM (VALUES (1, 'A', 'r1'), (2, 'B', 'r2')) AS t(id, name, _dlt_id)";
const RUN_1_KIDS: &str = "SELECT * FROM (VALUES (1, 'r1', 'k1'), (2, 'r1', 'k2'), (3, 'r2', 'k3')) AS t(n, _dlt_root_id, _dlt_id)";
const RUN_2_ITEMS: &str =
    "SELECT * FROM (VALUES (2, 'B2', 'r3'), (3, 'C', 'r4')) AS t(id, name, _dlt_id)";
const RUN_2_KIDS: &str = "SELECT * FROM (VALUES (30, 'r3', 'k4')) AS t(n, _dlt_root_id, _dlt_id)";

#[test]
fn overlapping_keys_replaced() {
    let mut fixture = Fixture::new();
    load(&mut fixture, LOAD_1, None, RUN_1_ITEMS, Some(RUN_1_KIDS)).expect("first load");
    load(&mut fixture, LOAD_2, None, RUN_2_ITEMS, Some(RUN_2_KIDS)).expect("second load");

    assert_eq!(
        fixture.strings("SELECT id || ',' || name FROM ds.items ORDER BY id"),
        ["1,A", "2,B2", "3,C"]
    );
    assert_eq!(
        fixture.strings(
            "SELECT i.id || ',' || k.n FROM ds.items__kids k JOIN ds.items i ON k._dlt_root_id = i._dlt_id ORDER BY k.n"
        ),
        ["1,1", "1,2", "2,30"]
    );
    assert_eq!(fixture.count("SELECT count(*) FROM ds.items__kids"), 3);
}

#[test]
fn duplicate_key_last_wins() {
    let mut fixture = Fixture::new();
    let items_sql = "SELECT * FROM (VALUES (1, 'first', 'r1'), (2, 'other', 'r2'), (1, 'last', 'r3')) AS t(id, name, _dlt_id)";
    let kids_sql =
        "SELECT * FROM (VALUES (10, 'r1', 'k1'), (30, 'r3', 'k3')) AS t(n, _dlt_root_id, _dlt_id)";
    load(&mut fixture, LOAD_1, None, items_sql, Some(kids_sql)).expect("load");

    assert_eq!(
        fixture.strings("SELECT name FROM ds.items ORDER BY id"),
        ["last", "other"]
    );
    assert_eq!(
        fixture.strings("SELECT CAST(n AS VARCHAR) FROM ds.items__kids"),
        ["30"]
    );
}

#[test]
fn failed_merge_keeps_tables() {
    let mut fixture = Fixture::new();
    load(&mut fixture, LOAD_1, None, RUN_1_ITEMS, Some(RUN_1_KIDS)).expect("first load");

    // `_dlt_root_id` is NOT NULL, so the nested job fails after the root
    // rows were staged.
    let broken_kids = "SELECT * FROM (VALUES (30, NULL, 'k4')) AS t(n, _dlt_root_id, _dlt_id)";
    let error = load(&mut fixture, LOAD_2, None, RUN_2_ITEMS, Some(broken_kids))
        .expect_err("NOT NULL violation");

    assert_eq!(error.category, ErrorCategory::Terminal);
    assert_eq!(
        fixture.strings("SELECT name FROM ds.items ORDER BY id"),
        ["A", "B"]
    );
    assert_eq!(fixture.count("SELECT count(*) FROM ds.items__kids"), 3);
    assert_eq!(
        fixture.count(&format!(
            "SELECT count(*) FROM ds._dlt_loads WHERE load_id = '{LOAD_2}'"
        )),
        0
    );
}

#[test]
fn staging_tables_dropped() {
    let mut fixture = Fixture::new();
    load(&mut fixture, LOAD_1, None, RUN_1_ITEMS, Some(RUN_1_KIDS)).expect("load");

    assert_eq!(
        fixture.count(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'ds_staging'"
        ),
        0
    );
}

#[test]
fn merge_without_key_rejected() {
    let mut fixture = Fixture::new();
    let file = fixture.parquet("plain", "SELECT 1 AS id");
    let plain = table("plain", "merge", vec![column("id", "bigint", false)]);

    let error = fixture
        .destination
        .load_package(&request(
            LOAD_1,
            vec![plain],
            &[],
            vec![job("plain", &file, 1)],
        ))
        .expect_err("merge without key");

    assert_eq!(error.category, ErrorCategory::Terminal);
    assert!(error.to_string().contains("\"ds\".\"plain\""), "{error}");
    assert!(
        error.to_string().contains("primary_key or merge_key"),
        "{error}"
    );
}

#[test]
fn merge_key_replaces_partition() {
    let mut fixture = Fixture::new();
    let events = |rows: &str| format!("SELECT * FROM (VALUES {rows}) AS t(day, n, _dlt_id)");
    let spec = table(
        "events",
        "merge",
        vec![
            ColumnSpec {
                merge_key: true,
                ..column("day", "bigint", false)
            },
            column("n", "bigint", true),
            column("_dlt_id", "text", false),
        ],
    );
    for (load_id, rows) in [
        (LOAD_1, "(1, 1, 'a'), (1, 2, 'b'), (2, 3, 'c')"),
        (LOAD_2, "(1, 10, 'd'), (1, 11, 'e')"),
    ] {
        let file = fixture.parquet(&format!("events.{load_id}"), &events(rows));
        fixture
            .destination
            .load_package(&request(
                load_id,
                vec![spec.clone()],
                &[],
                vec![job("events", &file, 0)],
            ))
            .expect("load");
    }

    assert_eq!(
        fixture.strings("SELECT day || ',' || n FROM ds.events ORDER BY n"),
        ["2,3", "1,10", "1,11"]
    );
}

#[test]
fn upsert_updates_and_removes_orphans() {
    let mut fixture = Fixture::new();
    let upsert = Some("upsert");
    // With upsert the root `_dlt_id` is a key hash, so it repeats per id.
    load(&mut fixture, LOAD_1, upsert, RUN_1_ITEMS, Some(RUN_1_KIDS)).expect("first load");
    let items_sql =
        "SELECT * FROM (VALUES (1, 'A2', 'r1'), (3, 'C', 'r3')) AS t(id, name, _dlt_id)";
    let kids_sql = "SELECT * FROM (VALUES (1, 'r1', 'k1')) AS t(n, _dlt_root_id, _dlt_id)";
    load(&mut fixture, LOAD_2, upsert, items_sql, Some(kids_sql)).expect("second load");

    assert_eq!(
        fixture.strings("SELECT id || ',' || name || ',' || _dlt_id FROM ds.items ORDER BY id"),
        ["1,A2,r1", "2,B,r2", "3,C,r3"]
    );
    // k2 of id 1 is an orphan now; k3 of id 2 is untouched.
    assert_eq!(
        fixture.strings("SELECT _dlt_id FROM ds.items__kids ORDER BY _dlt_id"),
        ["k1", "k3"]
    );
}

#[test]
fn upsert_without_primary_key_rejected() {
    let mut fixture = Fixture::new();
    let file = fixture.parquet("plain", "SELECT 1 AS day");
    let spec = TableSpec {
        merge_strategy: Some("upsert".to_string()),
        ..table(
            "plain",
            "merge",
            vec![ColumnSpec {
                merge_key: true,
                ..column("day", "bigint", false)
            }],
        )
    };

    let error = fixture
        .destination
        .load_package(&request(
            LOAD_1,
            vec![spec],
            &[],
            vec![job("plain", &file, 1)],
        ))
        .expect_err("upsert without primary key");

    assert!(error.to_string().contains("upsert"), "{error}");
}
