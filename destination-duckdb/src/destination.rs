//! The [`Destination`] implementation and its factory.

use duckdb::Connection;
use plugin_sdk::protocol::{
    DestinationCapabilities, LoadReport, LoadRequest, LoadStatusRequest, PluginInfo, SchemaRequest,
    SchemaVersion, StateRequest, StoredState,
};
use plugin_sdk::{ABI_VERSION, Destination, DestinationFactory, PluginError};

use crate::config::DuckDbConfig;
use crate::connection::connect;
use crate::{load, restore};

/// A DuckDB database file that load packages are committed to.
///
/// Every call opens its own connection and closes it before returning, so the
/// file is locked only while a call runs and other processes can open it
/// between calls.
#[derive(Debug, Clone)]
pub struct DuckDbDestination {
    config: DuckDbConfig,
}

impl DuckDbDestination {
    /// Creates a destination for the database file in `config`. The file is
    /// opened on the first call, not here.
    pub fn new(config: DuckDbConfig) -> Self {
        DuckDbDestination { config }
    }

    /// Creates a destination from a `dlt.yml` destination entry given as JSON,
    /// as described in [`DuckDbConfig::from_json`].
    /// Settings in `credentials.global_config` and `local_config` are
    /// checked here, on an in-memory database.
    pub fn from_json(config: &serde_json::Value) -> Result<Self, PluginError> {
        let config = DuckDbConfig::from_json(config)?;
        crate::connection::check_settings(&config)?;
        Ok(Self::new(config))
    }

    /// Returns the destination's configuration.
    pub fn config(&self) -> &DuckDbConfig {
        &self.config
    }

    /// Opens a connection for reading, or returns `None` when the database
    /// file does not exist, so that reads never create an empty file.
    fn connect_existing(&self) -> Result<Option<Connection>, PluginError> {
        if !self.config.database.exists() {
            tracing::debug!(database = %self.config.database.display(), "DuckDB database does not exist yet");
            return Ok(None);
        }
        connect(&self.config).map(Some)
    }
}

impl Destination for DuckDbDestination {
    fn load_package(&mut self, request: &LoadRequest) -> Result<LoadReport, PluginError> {
        let mut connection = connect(&self.config)?;
        load::load_package(&mut connection, request).inspect_err(|error| {
            tracing::warn!(
                load_id = %request.load_id,
                dataset = %request.dataset_name,
                category = %error.category,
                %error,
                "load package failed and was rolled back"
            );
        })
    }

    fn fetch_state(&mut self, request: &StateRequest) -> Result<Option<StoredState>, PluginError> {
        match self.connect_existing()? {
            Some(connection) => restore::fetch_state(&connection, request),
            None => Ok(None),
        }
    }

    fn fetch_schema(
        &mut self,
        request: &SchemaRequest,
    ) -> Result<Option<SchemaVersion>, PluginError> {
        match self.connect_existing()? {
            Some(connection) => restore::fetch_schema(&connection, request),
            None => Ok(None),
        }
    }

    fn is_load_committed(&mut self, request: &LoadStatusRequest) -> Result<bool, PluginError> {
        match self.connect_existing()? {
            Some(connection) => {
                restore::load_committed(&connection, &request.dataset_name, &request.load_id)
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
        tracing::info!(database = %destination.config.database.display(), "opened DuckDB destination");
        Ok(Box::new(destination))
    }
}
