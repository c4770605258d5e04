//! Reading back pipeline state, schemas and load records, as dlt's
//! `sync_destination` does, counting only committed loads.
//!
//! Python dlt picks the state file with the largest load id in its name and
//! does not look at `_dlt_loads`. This destination is stricter: a state file
//! counts only when its load has a `_dlt_loads` file, and a schema version
//! only when a committed load of that schema recorded its hash. Files left by
//! a failed attempt are thereby ignored.

use std::collections::HashSet;

use plugin_sdk::PluginError;
use plugin_sdk::protocol::{SchemaRequest, SchemaVersion, StateRequest, StoredState};

use crate::dlt_files::{self, LOADS_FOLDER, STATE_FOLDER, VERSION_FOLDER, dataset_path, file_name};
use crate::store::Bucket;

/// Returns the load ids that have a `_dlt_loads` file in `dataset`.
pub(crate) fn committed_loads(bucket: &Bucket, dataset: &str) -> Result<HashSet<String>, PluginError> {
    let loads = bucket.list(&dataset_path(dataset, LOADS_FOLDER))?;
    Ok(loads
        .iter()
        .filter_map(|path| dlt_files::split_load_record(file_name(path)))
        .map(|(_, load_id)| load_id.to_owned())
        .collect())
}

/// Returns whether `load_id` has a `_dlt_loads` file in `dataset`.
pub(crate) fn is_load_committed(bucket: &Bucket, dataset: &str, load_id: &str) -> Result<bool, PluginError> {
    Ok(committed_loads(bucket, dataset)?.contains(load_id))
}

/// Returns the state of the pipeline from its committed load with the
/// largest load id.
///
/// A state file that cannot be parsed (truncated by a crash, for example) is
/// skipped with a warning in favour of the next older one.
pub(crate) fn fetch_state(bucket: &Bucket, request: &StateRequest) -> Result<Option<StoredState>, PluginError> {
    let dataset = request.dataset_name.as_str();
    let pipeline = request.pipeline_name.as_str();
    let committed = committed_loads(bucket, dataset)?;

    let mut candidates: Vec<(String, String)> = Vec::new();
    for path in bucket.list(&dataset_path(dataset, STATE_FOLDER))? {
        let Some((name, load_id, _)) = dlt_files::split_three(file_name(&path)) else {
            continue;
        };
        if name != pipeline {
            continue;
        }
        if !committed.contains(load_id) {
            tracing::debug!(dataset, pipeline, load_id, "ignoring state file of a load that was not committed");
            continue;
        }
        candidates.push((load_id.to_owned(), path.clone()));
    }
    sort_newest_first(&mut candidates);

    for (load_id, path) in candidates {
        let Some(content) = bucket.get(&path)? else {
            continue;
        };
        let Some(record) = dlt_files::parse_state_record(&content).filter(|record| record.pipeline_name == pipeline)
        else {
            tracing::warn!(dataset, pipeline, load_id = %load_id, path = %bucket.display(&path), "ignoring invalid state file");
            continue;
        };
        tracing::debug!(dataset, pipeline, load_id = %load_id, version = record.version, "found committed pipeline state");
        return Ok(Some(StoredState {
            version: record.version,
            engine_version: record.engine_version,
            pipeline_name: record.pipeline_name,
            state: record.state,
            created_at: record.created_at,
            version_hash: record.version_hash,
            load_id: record.load_id,
        }));
    }
    Ok(None)
}

/// Returns the newest stored version of a schema whose hash a committed load
/// of that schema recorded. "Newest" is the largest time in the file name,
/// as in dlt.
pub(crate) fn fetch_schema(bucket: &Bucket, request: &SchemaRequest) -> Result<Option<SchemaVersion>, PluginError> {
    let dataset = request.dataset_name.as_str();
    let schema_name = request.schema_name.as_str();

    let mut versions: Vec<(String, String)> = bucket
        .list(&dataset_path(dataset, VERSION_FOLDER))?
        .into_iter()
        .filter_map(|path| {
            let (name, time, _) = dlt_files::split_three(file_name(&path))?;
            (name == schema_name).then(|| (time.to_owned(), path.clone()))
        })
        .collect();
    sort_newest_first(&mut versions);
    if versions.is_empty() {
        return Ok(None);
    }

    let mut hashes = CommittedHashes::new(bucket, dataset, schema_name)?;
    for (_, path) in &versions {
        let Some((_, _, hex)) = dlt_files::split_three(file_name(path)) else {
            continue;
        };
        if !hashes.contains(hex)? {
            tracing::debug!(dataset, schema = schema_name, path = %bucket.display(path), "ignoring schema version without a committed load");
            continue;
        }
        let Some(content) = bucket.get(path)? else {
            continue;
        };
        match parse_version_record(&content, schema_name) {
            Some(version) => return Ok(Some(version)),
            None => {
                tracing::warn!(dataset, schema = schema_name, path = %bucket.display(path), "ignoring invalid schema version file");
            }
        }
    }
    Ok(None)
}

/// Sorts `(load id or time, path)` pairs, largest number first.
fn sort_newest_first(entries: &mut [(String, String)]) {
    entries.sort_by(|(left, _), (right, _)| {
        dlt_files::numeric_order(right)
            .partial_cmp(&dlt_files::numeric_order(left))
            .unwrap_or(std::cmp::Ordering::Equal)
    });
}

fn parse_version_record(content: &[u8], schema_name: &str) -> Option<SchemaVersion> {
    let value: serde_json::Value = serde_json::from_slice(content).ok()?;
    Some(SchemaVersion {
        name: schema_name.to_owned(),
        version: value.get("version")?.as_u64()?,
        engine_version: value.get("engine_version")?.as_u64()?,
        version_hash: value.get("version_hash")?.as_str()?.to_owned(),
        schema_json: value.get("schema")?.as_str()?.to_owned(),
    })
}

/// Schema hashes (as hex) recorded by committed loads of one schema, read
/// newest load first and only as far as needed.
struct CommittedHashes<'a> {
    bucket: &'a Bucket,
    /// Load record paths not read yet, newest last so `pop` takes it.
    unread: Vec<String>,
    found: HashSet<String>,
}

impl<'a> CommittedHashes<'a> {
    fn new(bucket: &'a Bucket, dataset: &str, schema_name: &str) -> Result<Self, PluginError> {
        let mut records: Vec<(String, String)> = bucket
            .list(&dataset_path(dataset, LOADS_FOLDER))?
            .into_iter()
            .filter_map(|path| {
                let (name, load_id) = dlt_files::split_load_record(file_name(&path))?;
                (name == schema_name).then(|| (load_id.to_owned(), path.clone()))
            })
            .collect();
        sort_newest_first(&mut records);
        records.reverse();
        Ok(CommittedHashes {
            bucket,
            unread: records.into_iter().map(|(_, path)| path).collect(),
            found: HashSet::new(),
        })
    }

    /// Returns whether a committed load recorded the schema hash `hex`.
    fn contains(&mut self, hex: &str) -> Result<bool, PluginError> {
        while !self.found.contains(hex) {
            let Some(path) = self.unread.pop() else {
                return Ok(false);
            };
            let Some(content) = self.bucket.get(&path)? else {
                continue;
            };
            let hash = serde_json::from_slice::<serde_json::Value>(&content)
                .ok()
                .and_then(|record| record.get("schema_version_hash")?.as_str().map(str::to_owned))
                .and_then(|hash| dlt_files::hash_hex(&hash).ok());
            if let Some(hash) = hash {
                self.found.insert(hash);
            }
        }
        Ok(true)
    }
}
