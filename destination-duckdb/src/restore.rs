//! Reading back pipeline state, schemas and load records, as dlt's
//! `sync_destination` does.

use duckdb::{Connection, OptionalExt, params};
use plugin_sdk::PluginError;
use plugin_sdk::protocol::{SchemaRequest, SchemaVersion, StateRequest, StoredState};

use crate::connection::{table_columns, table_exists};
use crate::dlt_tables::{LOADS_TABLE, PIPELINE_STATE_TABLE, VERSION_TABLE};
use crate::error::database_error;
use crate::sql::qualified_table;

/// Returns whether `_dlt_loads` in `dataset` contains `load_id`.
///
/// dlt writes only status 0, so any row counts as committed. A missing dataset
/// or table means nothing was committed.
pub(crate) fn load_committed(
    connection: &Connection,
    dataset: &str,
    load_id: &str,
) -> Result<bool, PluginError> {
    if !table_exists(connection, dataset, LOADS_TABLE)? {
        return Ok(false);
    }
    load_recorded(connection, dataset, load_id)
}

/// Returns whether `_dlt_loads` in `dataset`, which must exist, contains
/// `load_id`.
pub(crate) fn load_recorded(
    connection: &Connection,
    dataset: &str,
    load_id: &str,
) -> Result<bool, PluginError> {
    let count: i64 = connection
        .query_row(
            &format!(
                "SELECT count(*) FROM {} WHERE \"load_id\" = ?",
                qualified_table(dataset, LOADS_TABLE)
            ),
            params![load_id],
            |row| row.get(0),
        )
        .map_err(|error| {
            database_error(
                &error,
                format!("failed to look up load {load_id} in \"{dataset}\".{LOADS_TABLE}"),
            )
        })?;
    Ok(count > 0)
}

/// Returns the newest `_dlt_pipeline_state` row of the pipeline whose load
/// has a status-0 `_dlt_loads` row.
///
/// Rows of aborted packages have no such load row and are skipped. "Newest"
/// is the largest load id in string order, as in dlt.
pub(crate) fn fetch_state(
    connection: &Connection,
    request: &StateRequest,
) -> Result<Option<StoredState>, PluginError> {
    let dataset = request.dataset_name.as_str();
    let pipeline = request.pipeline_name.as_str();
    let context =
        || format!("failed to read the state of pipeline {pipeline} from dataset \"{dataset}\"");

    let Some(state_columns) = table_columns(connection, dataset, PIPELINE_STATE_TABLE)? else {
        return Ok(None);
    };
    if !table_exists(connection, dataset, LOADS_TABLE)? {
        return Ok(None);
    }

    // dlt added `version_hash` later, as a nullable column, so datasets of
    // older dlt versions may lack it.
    let has_version_hash = state_columns
        .iter()
        .any(|name| name.eq_ignore_ascii_case("version_hash"));
    let version_hash = if has_version_hash {
        "s.\"version_hash\""
    } else {
        "NULL"
    };

    // `created_at` is TIMESTAMPTZ. The session time zone is UTC, so its cast to
    // TIMESTAMP is the UTC wall-clock time.
    let query = format!(
        "SELECT s.\"version\", s.\"engine_version\", s.\"pipeline_name\", s.\"state\", \
                strftime(CAST(s.\"created_at\" AS TIMESTAMP), '%Y-%m-%dT%H:%M:%S.%f') || '+00:00', \
                {version_hash}, s.\"_dlt_load_id\" \
         FROM {} AS s JOIN {} AS l ON l.\"load_id\" = s.\"_dlt_load_id\" \
         WHERE s.\"pipeline_name\" = ? AND l.\"status\" = 0 \
         ORDER BY l.\"load_id\" DESC, s.\"version\" DESC LIMIT 1",
        qualified_table(dataset, PIPELINE_STATE_TABLE),
        qualified_table(dataset, LOADS_TABLE),
    );
    tracing::debug!(sql = %query, "executing statement");
    connection
        .query_row(&query, params![pipeline], |row| {
            Ok(StoredState {
                version: row.get(0)?,
                engine_version: row.get(1)?,
                pipeline_name: row.get(2)?,
                state: row.get(3)?,
                created_at: row.get(4)?,
                version_hash: row.get(5)?,
                load_id: row.get(6)?,
            })
        })
        .optional()
        .map_err(|error| database_error(&error, context()))
}

/// Returns the newest `_dlt_version` row of a schema, by `inserted_at`.
pub(crate) fn fetch_schema(
    connection: &Connection,
    request: &SchemaRequest,
) -> Result<Option<SchemaVersion>, PluginError> {
    let dataset = request.dataset_name.as_str();
    let schema_name = request.schema_name.as_str();
    let context = || format!("failed to read schema {schema_name} from dataset \"{dataset}\"");

    if !table_exists(connection, dataset, VERSION_TABLE)? {
        return Ok(None);
    }

    let query = format!(
        "SELECT \"version\", \"engine_version\", \"version_hash\", \"schema\" FROM {} \
         WHERE \"schema_name\" = ? ORDER BY \"inserted_at\" DESC LIMIT 1",
        qualified_table(dataset, VERSION_TABLE)
    );
    tracing::debug!(sql = %query, "executing statement");
    let row = connection
        .query_row(&query, params![schema_name], |row| {
            Ok((
                row.get::<_, i64>(0)?,
                row.get::<_, i64>(1)?,
                row.get::<_, String>(2)?,
                row.get::<_, String>(3)?,
            ))
        })
        .optional()
        .map_err(|error| database_error(&error, context()))?;
    let Some((version, engine_version, version_hash, schema_json)) = row else {
        return Ok(None);
    };

    let to_unsigned = |field: &str, value: i64| {
        u64::try_from(value).map_err(|_| {
            PluginError::terminal(format!(
                "stored {field} {value} of schema {schema_name} in dataset \"{dataset}\" is negative"
            ))
        })
    };
    Ok(Some(SchemaVersion {
        name: schema_name.to_string(),
        version: to_unsigned("version", version)?,
        engine_version: to_unsigned("engine version", engine_version)?,
        version_hash,
        schema_json,
    }))
}
