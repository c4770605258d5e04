//! The [`Destination`] implementation and its factory.

use plugin_sdk::protocol::{
    DestinationCapabilities, LoadReport, LoadRequest, LoadStatusRequest, PluginInfo, SchemaRequest,
    SchemaVersion, StateRequest, StoredState,
};
use plugin_sdk::{ABI_VERSION, Destination, DestinationFactory, PluginError};

use crate::config::FilesystemConfig;
use crate::store::Bucket;
use crate::{load, restore};

/// A bucket (local folder or object store) that load packages are written
/// to in dlt's filesystem layout.
pub struct FilesystemDestination {
    config: FilesystemConfig,
    bucket: Bucket,
}

impl FilesystemDestination {
    /// Creates a destination for `config`. It builds the store client but
    /// sends no request, so bad credentials show up on the first call.
    pub fn new(config: FilesystemConfig) -> Result<Self, PluginError> {
        let bucket = Bucket::open(&config)?;
        Ok(FilesystemDestination { config, bucket })
    }

    /// Creates a destination from a `dlt.yml` destination entry given as JSON,
    /// as described in [`FilesystemConfig::from_json`].
    pub fn from_json(config: &serde_json::Value) -> Result<Self, PluginError> {
        FilesystemConfig::from_json(config).and_then(Self::new)
    }

    /// Returns the destination's configuration.
    pub fn config(&self) -> &FilesystemConfig {
        &self.config
    }
}

impl std::fmt::Debug for FilesystemDestination {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FilesystemDestination")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl Destination for FilesystemDestination {
    fn load_package(&mut self, request: &LoadRequest) -> Result<LoadReport, PluginError> {
        load::load_package(&self.bucket, &self.config, request).inspect_err(|error| {
            tracing::warn!(
                load_id = %request.load_id,
                dataset = %request.dataset_name,
                bucket_url = %self.config.bucket_url,
                category = %error.category,
                %error,
                "load package failed; it is not committed and a retry overwrites its files"
            );
        })
    }

    fn fetch_state(&mut self, request: &StateRequest) -> Result<Option<StoredState>, PluginError> {
        restore::fetch_state(&self.bucket, request)
    }

    fn fetch_schema(&mut self, request: &SchemaRequest) -> Result<Option<SchemaVersion>, PluginError> {
        restore::fetch_schema(&self.bucket, request)
    }

    fn is_load_committed(&mut self, request: &LoadStatusRequest) -> Result<bool, PluginError> {
        restore::is_load_committed(&self.bucket, &request.dataset_name, &request.load_id)
    }
}

/// Factory of [`FilesystemDestination`]s, and the type the plugin library
/// exports as destination type `filesystem`.
pub struct FilesystemDestinationFactory;

impl DestinationFactory for FilesystemDestinationFactory {
    fn info() -> PluginInfo {
        PluginInfo {
            name: "filesystem".to_owned(),
            version: env!("CARGO_PKG_VERSION").to_owned(),
            abi_version: ABI_VERSION.to_owned(),
            description: env!("CARGO_PKG_DESCRIPTION").to_owned(),
        }
    }

    /// `merge` is not listed: dlt falls back to append for native files,
    /// which silently duplicates rows, so this destination rejects it.
    /// Packages are not atomic: files appear one by one, and only the final
    /// `_dlt_loads` file marks the package as committed. The formats are
    /// those of the job files the destination reads; the data files it
    /// writes follow `loader_file_format`.
    fn capabilities() -> DestinationCapabilities {
        DestinationCapabilities {
            preferred_loader_file_format: "parquet".to_owned(),
            supported_loader_file_formats: vec!["parquet".to_owned()],
            supported_write_dispositions: vec!["append".to_owned(), "replace".to_owned()],
            max_identifier_length: None,
            atomic_packages: false,
        }
    }

    fn open(config: &serde_json::Value) -> Result<Box<dyn Destination>, PluginError> {
        let destination = FilesystemDestination::from_json(config)?;
        tracing::info!(
            bucket_url = %destination.config.bucket_url,
            layout = %destination.config.layout.template(),
            "opened filesystem destination"
        );
        Ok(Box::new(destination))
    }
}
