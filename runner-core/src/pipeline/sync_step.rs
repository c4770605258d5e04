//! Sync: restore the pipeline state and schemas from the destination.
//!
//! The destination stores the state of the newest completed load (the
//! `_dlt_pipeline_state` row whose load is in `_dlt_loads`). When it is at
//! least as new as the local state and differs from it, it replaces the local
//! state, as dlt's `sync_destination` does, and the schemas it names are
//! downloaded. Local pending packages are never touched here.

use chrono::Utc;
use plugin_sdk::protocol::{SchemaRequest, StateRequest};

use super::Pipeline;
use super::extract_step::save_live_schema;
use crate::schema::Schema;
use crate::state::PipelineState;
use crate::{Error, Result};

/// The result of a sync.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SyncOutcome {
    /// The destination has no state for this pipeline.
    NothingStored,
    /// The local state was already as new as the destination's.
    UpToDate,
    /// The destination's state (of this version) and its schemas were restored.
    Restored { state_version: u64, schemas: Vec<String> },
}

pub(super) fn sync_from_destination(pipeline: &mut Pipeline) -> Result<SyncOutcome> {
    let span = tracing::info_span!("sync", destination = %pipeline.destination.name);
    let _entered = span.enter();

    let request = StateRequest {
        dataset_name: pipeline.dataset_name.clone(),
        pipeline_name: pipeline.name.clone(),
    };
    let stored = pipeline
        .destination
        .client
        .fetch_state(&request)
        .map_err(|source| Error::DestinationCall {
            destination: pipeline.destination.name.clone(),
            action: "read the stored pipeline state",
            source,
        })?;
    let Some(stored) = stored else {
        tracing::debug!("the destination has no stored state for this pipeline");
        return Ok(SyncOutcome::NothingStored);
    };

    // A stored state that cannot be read fails every sync the same way, and
    // it is the destination's data, not this project's settings.
    let mut remote = PipelineState::from_blob(&stored.state).map_err(|error| Error::DestinationCall {
        destination: pipeline.destination.name.clone(),
        action: "read the stored pipeline state",
        source: plugin_sdk::PluginError::terminal(format!(
            "the state stored by load {} cannot be read ({error}); delete that row of `_dlt_pipeline_state` or use \
             another dataset_name",
            stored.load_id
        )),
    })?;
    let state_path = pipeline.working_dir.state_path();
    let local = PipelineState::load(&state_path)?;

    let adopt = match &local {
        None => true,
        Some(local) => remote.version() >= local.version() && remote.compute_hash() != local.compute_hash(),
    };
    if !adopt {
        download_missing_schemas(pipeline, local.as_ref().map(PipelineState::schema_names).unwrap_or_default())?;
        return Ok(SyncOutcome::UpToDate);
    }

    // The local-only part (`_local`) survives; the restored state counts as
    // extracted already, so it is not sent back to the destination.
    if let Some(local) = &local
        && let Some(local_part) = local.local()
    {
        *remote.local_mut() = local_part.clone();
    }
    remote.mark_extracted(Utc::now());
    let schemas = remote.schema_names();
    for schema_name in &schemas {
        download_schema(pipeline, schema_name)?;
    }
    remote.save(&state_path)?;

    tracing::info!(
        state_version = remote.version(),
        load_id = %stored.load_id,
        schemas = ?schemas,
        "restored pipeline state and schemas from the destination"
    );
    Ok(SyncOutcome::Restored {
        state_version: remote.version(),
        schemas,
    })
}

fn download_missing_schemas(pipeline: &mut Pipeline, schema_names: Vec<String>) -> Result<()> {
    for schema_name in schema_names {
        if !pipeline.working_dir.schema_path(&schema_name).exists() {
            download_schema(pipeline, &schema_name)?;
        }
    }
    Ok(())
}

fn download_schema(pipeline: &mut Pipeline, schema_name: &str) -> Result<()> {
    let request = SchemaRequest {
        dataset_name: pipeline.dataset_name.clone(),
        schema_name: schema_name.to_owned(),
    };
    let stored = pipeline
        .destination
        .client
        .fetch_schema(&request)
        .map_err(|source| Error::DestinationCall {
            destination: pipeline.destination.name.clone(),
            action: "read a stored schema",
            source,
        })?;
    let Some(stored) = stored else {
        tracing::warn!(schema = %schema_name, "the stored state names a schema the destination does not hold");
        return Ok(());
    };

    let schema = Schema::from_json(&stored.schema_json)?;
    save_live_schema(pipeline, &schema)
}
