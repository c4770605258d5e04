//! The [`Destination`] implementation and its factory.

use plugin_sdk::protocol::{
    DestinationCapabilities, LoadReport, LoadRequest, LoadStatusRequest, PluginInfo, SchemaRequest,
    SchemaVersion, StateRequest, StoredState,
};
use plugin_sdk::{ABI_VERSION, Destination, DestinationFactory, PluginError};

use crate::config::DuckDbConfig;
use crate::engine::{AttachedFile, Engine};
use crate::error::is_out_of_memory;
use crate::{load, merge, restore, small_database};

/// A DuckDB database file that load packages are committed to.
///
/// The destination keeps an in-memory DuckDB instance, started on a
/// background thread when it is created. Every call attaches the file to it
/// and detaches the file before returning, so the file is locked only while a
/// call runs and other processes can open it between calls.
#[derive(Debug)]
pub struct DuckDbDestination {
    engine: Engine,
}

impl DuckDbDestination {
    /// Creates a destination for the database file in `config`. The file is
    /// opened on the first call, not here.
    pub fn new(config: DuckDbConfig) -> Self {
        DuckDbDestination {
            engine: Engine::start(config),
        }
    }

    /// Creates a destination from a `dlt.yml` destination entry given as JSON,
    /// as described in [`DuckDbConfig::from_json`].
    /// Settings in `credentials.global_config` and `local_config` are
    /// applied here, so a setting DuckDB rejects fails before anything is
    /// extracted.
    pub fn from_json(config: &serde_json::Value) -> Result<Self, PluginError> {
        let config = DuckDbConfig::from_json(config)?;
        if config.settings.is_empty() {
            return Ok(Self::new(config));
        }
        Ok(DuckDbDestination {
            engine: Engine::start_now(config)?,
        })
    }

    /// Returns the destination's configuration.
    pub fn config(&self) -> &DuckDbConfig {
        self.engine.config()
    }

    /// Attaches the database file and applies the package in one transaction.
    fn load_once(&mut self, request: &LoadRequest) -> Result<LoadReport, PluginError> {
        let (first, assumed_new_file) = self.attach_and_load(request);

        // A load into a file that did not exist skips listing the stored
        // tables. Another process may create the file between that check and
        // the ATTACH, and then a table "already exists". The attempt was
        // rolled back and the file exists now, so a second attempt lists the
        // tables.
        let result = match first {
            Err(error) if assumed_new_file && error.to_string().contains("already exists") => {
                tracing::debug!(load_id = %request.load_id, %error, "another process created the DuckDB database during the load, so the load runs again");
                self.attach_and_load(request).0
            }
            other => other,
        };
        result.inspect_err(|error| {
            tracing::warn!(
                load_id = %request.load_id,
                dataset = %request.dataset_name,
                category = %error.category,
                %error,
                "load package failed and was rolled back"
            );
        })
    }

    /// Runs one load attempt. Also returns whether the attach found no
    /// database file, so that the attempt assumed an empty database.
    fn attach_and_load(&mut self, request: &LoadRequest) -> (Result<LoadReport, PluginError>, bool) {
        let mut attached = match self.engine.attach_for_load(small_database::job_rows(request), merge::merges(request)) {
            Ok(attached) => attached,
            Err(error) => return (Err(error), false),
        };
        let (type_options, new_file) = (attached.type_options, attached.new_file);
        let result = load::load_package(&mut *attached.connection, type_options, new_file, &mut attached.job_threads, request);
        (result, new_file)
    }

    /// Attaches the database file for reading, or returns `None` when it does
    /// not exist, so that reads never create an empty file.
    fn attach_existing(&mut self) -> Result<Option<AttachedFile<'_>>, PluginError> {
        let database = &self.engine.config().database;
        if !database.exists() {
            tracing::debug!(database = %database.display(), "DuckDB database does not exist yet");
            return Ok(None);
        }
        self.engine.attach().map(Some)
    }
}

impl Destination for DuckDbDestination {
    fn load_package(&mut self, request: &LoadRequest) -> Result<LoadReport, PluginError> {
        let first = self.load_once(request);

        // The failed attempt was rolled back, so one more attempt still
        // commits the package in one transaction.
        let Err(error) = first else {
            return first;
        };
        if !is_out_of_memory(&error) {
            return Err(error);
        }
        match self.engine.lift_default_memory_limit() {
            Ok(true) => {
                tracing::warn!(
                    load_id = %request.load_id,
                    dataset = %request.dataset_name,
                    "load package ran out of memory under the memory_limit the destination sets for large packages, so it runs again under DuckDB's own limit. \
                     Set credentials.global_config.memory_limit to choose a limit"
                );
                self.load_once(request)
            }
            // The configuration set the limit, so it stays.
            Ok(false) => Err(error),
            Err(lift_error) => {
                tracing::warn!(load_id = %request.load_id, error = %lift_error, "failed to raise DuckDB's memory_limit for a retry");
                Err(error)
            }
        }
    }

    fn fetch_state(&mut self, request: &StateRequest) -> Result<Option<StoredState>, PluginError> {
        match self.attach_existing()? {
            Some(attached) => restore::fetch_state(attached.connection, request),
            None => Ok(None),
        }
    }

    fn fetch_schema(
        &mut self,
        request: &SchemaRequest,
    ) -> Result<Option<SchemaVersion>, PluginError> {
        match self.attach_existing()? {
            Some(attached) => restore::fetch_schema(attached.connection, request),
            None => Ok(None),
        }
    }

    fn is_load_committed(&mut self, request: &LoadStatusRequest) -> Result<bool, PluginError> {
        match self.attach_existing()? {
            Some(attached) => {
                restore::load_committed(attached.connection, &request.dataset_name, &request.load_id)
            }
            None => Ok(false),
        }
    }
}

/// Factory of [`DuckDbDestination`]s, and the type the plugin library exports.
pub struct DuckDbDestinationFactory;

impl DestinationFactory for DuckDbDestinationFactory {
    fn info() -> PluginInfo {
        PluginInfo {
            name: "duckdb".to_string(),
            version: env!("CARGO_PKG_VERSION").to_string(),
            abi_version: ABI_VERSION.to_string(),
            description: env!("CARGO_PKG_DESCRIPTION").to_string(),
        }
    }

    fn capabilities() -> DestinationCapabilities {
        DestinationCapabilities {
            preferred_loader_file_format: "parquet".to_string(),
            supported_loader_file_formats: vec!["parquet".to_string()],
            supported_write_dispositions: vec![
                "append".to_string(),
                "replace".to_string(),
                "merge".to_string(),
            ],
            max_identifier_length: None,
            atomic_packages: true,
        }
    }

    fn open(config: &serde_json::Value) -> Result<Box<dyn Destination>, PluginError> {
        let destination = DuckDbDestination::from_json(config)?;
        tracing::info!(database = %destination.config().database.display(), "opened DuckDB destination");
        Ok(Box::new(destination))
    }
}
