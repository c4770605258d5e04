//! Reading pipeline state, schemas and load records back from a real DuckDB
//! file, as a pipeline does when it restores from the destination.

mod common;

use common::{Fixture, PIPELINE, job, request, state_table, users_table};
use plugin_sdk::Destination;
use plugin_sdk::protocol::{LoadStatusRequest, SchemaRequest, StateRequest};

const LOAD_1: &str = "1700000001.000001";
const LOAD_2: &str = "1700000002.000002";
const LOAD_3: &str = "1700000003.000003";
const LOAD_4: &str = "1700000004.000004";
const LOAD_5: &str = "1700000005.000005";

/// A dlt state blob: base64 of zlib-compressed `{"a":1}`.
const STATE_BLOB: &str = "eNqrVkpUsjKsBQAIKgIJ";

fn state_request(dataset: &str, pipeline: &str) -> StateRequest {
    StateRequest {
        dataset_name: dataset.to_string(),
        pipeline_name: pipeline.to_string(),
    }
}

/// Loads a package whose only job is one `_dlt_pipeline_state` row.
fn load_state(fixture: &mut Fixture, load_id: &str, pipeline: &str, version: i64) {
    let select = format!(
        "SELECT {version}::BIGINT AS version, 4::BIGINT AS engine_version, '{pipeline}' AS pipeline_name, \
                '{STATE_BLOB}' AS state, TIMESTAMPTZ '2024-01-02 03:04:05.123456+00' AS created_at, \
                'state-hash-{version}' AS version_hash, '{load_id}' AS _dlt_load_id, 'id-{version}' AS _dlt_id"
    );
    let file = fixture.parquet(&format!("_dlt_pipeline_state.{load_id}"), &select);
    let package = request(
        load_id,
        vec![state_table()],
        &[],
        vec![job("_dlt_pipeline_state", &file, 1)],
    );
    fixture
        .destination
        .load_package(&package)
        .expect("load state package");
}

/// Inserts a state row whose package never completed, optionally with a
/// `_dlt_loads` row of a status other than 0.
fn forge_state(fixture: &Fixture, load_id: &str, version: i64, load_status: Option<i64>) {
    let connection = fixture.connection();
    connection
        .execute(
            "INSERT INTO ds._dlt_pipeline_state VALUES (?, 4, 'p', 'forged', now(), 'forged', ?, 'forged')",
            duckdb::params![version, load_id],
        )
        .expect("insert forged state row");
    if let Some(status) = load_status {
        connection
            .execute(
                "INSERT INTO ds._dlt_loads VALUES (?, 'shop', ?, now(), 'hash-1')",
                duckdb::params![load_id, status],
            )
            .expect("insert forged load row");
    }
}

#[test]
fn state_requires_completed_load() {
    let mut fixture = Fixture::new();
    load_state(&mut fixture, LOAD_1, PIPELINE, 1);
    load_state(&mut fixture, LOAD_2, PIPELINE, 2);
    forge_state(&fixture, LOAD_3, 3, None);
    forge_state(&fixture, LOAD_4, 4, Some(1));

    let state = fixture
        .destination
        .fetch_state(&state_request("ds", PIPELINE))
        .expect("fetch state")
        .expect("a committed state exists");

    assert_eq!(state.version, 2);
    assert_eq!(state.load_id, LOAD_2);
    assert_eq!(state.engine_version, 4);
    assert_eq!(state.pipeline_name, PIPELINE);
    assert_eq!(state.state, STATE_BLOB);
    assert_eq!(state.version_hash.as_deref(), Some("state-hash-2"));
    assert_eq!(state.created_at, "2024-01-02T03:04:05.123456+00:00");
}

#[test]
fn state_filtered_by_pipeline() {
    let mut fixture = Fixture::new();
    load_state(&mut fixture, LOAD_1, PIPELINE, 1);
    load_state(&mut fixture, LOAD_5, "other", 7);

    let mine = fixture
        .destination
        .fetch_state(&state_request("ds", PIPELINE))
        .unwrap()
        .unwrap();
    let other = fixture
        .destination
        .fetch_state(&state_request("ds", "other"))
        .unwrap()
        .unwrap();
    let unknown = fixture
        .destination
        .fetch_state(&state_request("ds", "unknown"))
        .unwrap();

    assert_eq!(mine.load_id, LOAD_1);
    assert_eq!(other.load_id, LOAD_5);
    assert_eq!(other.version, 7);
    assert!(unknown.is_none());
}

#[test]
fn missing_database_returns_nothing() {
    let mut fixture = Fixture::new();

    let state = fixture
        .destination
        .fetch_state(&state_request("ds", PIPELINE))
        .unwrap();
    let schema = fixture
        .destination
        .fetch_schema(&SchemaRequest {
            dataset_name: "ds".to_string(),
            schema_name: "shop".to_string(),
        })
        .unwrap();
    let committed = fixture
        .destination
        .is_load_committed(&LoadStatusRequest {
            dataset_name: "ds".to_string(),
            load_id: LOAD_1.to_string(),
        })
        .unwrap();

    assert!(state.is_none());
    assert!(schema.is_none());
    assert!(!committed);
    assert!(
        !fixture.database.exists(),
        "reads must not create the database file"
    );
}

#[test]
fn missing_tables_return_nothing() {
    let mut fixture = Fixture::new();
    let file = fixture.parquet("users.1", "SELECT 1 AS id, 'ann' AS name");
    fixture
        .destination
        .load_package(&request(
            LOAD_1,
            vec![users_table("append")],
            &[],
            vec![job("users", &file, 1)],
        ))
        .expect("load");

    // `ds` has no state table, and `other` does not exist at all.
    assert!(
        fixture
            .destination
            .fetch_state(&state_request("ds", PIPELINE))
            .unwrap()
            .is_none()
    );
    assert!(
        fixture
            .destination
            .fetch_state(&state_request("other", PIPELINE))
            .unwrap()
            .is_none()
    );
    let schema = fixture
        .destination
        .fetch_schema(&SchemaRequest {
            dataset_name: "other".to_string(),
            schema_name: "shop".to_string(),
        })
        .unwrap();
    assert!(schema.is_none());
}

#[test]
fn newest_schema_returned() {
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

    let request = SchemaRequest {
        dataset_name: "ds".to_string(),
        schema_name: "shop".to_string(),
    };
    let schema = fixture
        .destination
        .fetch_schema(&request)
        .unwrap()
        .expect("stored schema");
    let unknown = fixture
        .destination
        .fetch_schema(&SchemaRequest {
            dataset_name: "ds".to_string(),
            schema_name: "nope".to_string(),
        })
        .unwrap();

    assert_eq!(schema, common::schema(2, "hash-2"));
    assert!(unknown.is_none());
}

#[test]
fn load_commit_status_reported() {
    let mut fixture = Fixture::new();
    let file = fixture.parquet("users.1", "SELECT 1 AS id, 'ann' AS name");
    fixture
        .destination
        .load_package(&request(
            LOAD_1,
            vec![users_table("append")],
            &[],
            vec![job("users", &file, 1)],
        ))
        .expect("load");

    let status = |fixture: &mut Fixture, load_id: &str| {
        fixture
            .destination
            .is_load_committed(&LoadStatusRequest {
                dataset_name: "ds".to_string(),
                load_id: load_id.to_string(),
            })
            .expect("load status")
    };
    assert!(status(&mut fixture, LOAD_1));
    assert!(!status(&mut fixture, LOAD_2));
}
