//! Filesystem and object store destination (local folders, `s3://`, `gs://`,
//! `az://`, `memory://`) in dlt's file layout.
//!
//! NOTE: not implemented yet. The plugin exists so that `type: filesystem`
//! in `dlt.yml` fails with a clear configuration error instead of a missing
//! plugin; it loads nothing.

use plugin_sdk::protocol::{DestinationCapabilities, PluginInfo};
use plugin_sdk::{Destination, DestinationFactory, PluginError};

/// Factory of the filesystem destination, exported as plugin type `filesystem`.
pub struct FilesystemDestinationFactory;

impl DestinationFactory for FilesystemDestinationFactory {
    fn info() -> PluginInfo {
        PluginInfo {
            name: "filesystem".to_owned(),
            version: env!("CARGO_PKG_VERSION").to_owned(),
            abi_version: plugin_sdk::ABI_VERSION.to_owned(),
            description: "Filesystem and object store destination (not implemented yet)".to_owned(),
        }
    }

    fn capabilities() -> DestinationCapabilities {
        DestinationCapabilities {
            preferred_loader_file_format: "parquet".to_owned(),
            supported_loader_file_formats: vec!["parquet".to_owned()],
            supported_write_dispositions: Vec::new(),
            max_identifier_length: None,
            atomic_packages: false,
        }
    }

    fn open(_config: &serde_json::Value) -> Result<Box<dyn Destination>, PluginError> {
        Err(PluginError::config(
            "the filesystem destination is not implemented yet in this runner; use `type: duckdb`",
        ))
    }
}

plugin_sdk::export_destination_plugin!(FilesystemDestinationFactory);
