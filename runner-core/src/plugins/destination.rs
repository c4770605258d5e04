use std::path::{Path, PathBuf};

use abi_stable::std_types::{RResult, RStr};
use plugin_sdk::ffi::{DestinationModule_Ref, FfiDestinationBox};
use plugin_sdk::protocol::{
    DestinationCapabilities, LoadReport, LoadRequest, LoadStatusRequest, PluginInfo, SchemaRequest, SchemaVersion,
    StateRequest, StoredState,
};
use plugin_sdk::{Destination, PluginError};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::{PluginKind, PluginLoadError, host_services, library_error};

/// A loaded destination plugin library.
#[derive(Clone)]
pub struct DestinationLibrary {
    path: PathBuf,
    module: DestinationModule_Ref,
    info: PluginInfo,
    capabilities: DestinationCapabilities,
}

/// Loads the destination plugin library at `path` and checks its ABI.
pub fn load_destination_library(path: &Path) -> Result<DestinationLibrary, PluginLoadError> {
    let kind = PluginKind::Destination;
    let header = super::open_library(path, kind)?;
    super::check_abi_version::<DestinationModule_Ref>(path, kind, header)?;
    let module = header
        .init_root_module::<DestinationModule_Ref>()
        .map_err(|error| library_error(path, kind, error))?;

    let info: PluginInfo = parse_reply(path, "plugin info", (module.info())().as_str())?;
    let capabilities: DestinationCapabilities = parse_reply(path, "capabilities", (module.capabilities())().as_str())?;

    tracing::info!(
        path = %path.display(),
        plugin = %info.name,
        plugin_version = %info.version,
        abi_version = %info.abi_version,
        "loaded destination plugin"
    );
    Ok(DestinationLibrary {
        path: path.to_path_buf(),
        module,
        info,
        capabilities,
    })
}

fn parse_reply<T: DeserializeOwned>(path: &Path, what: &'static str, text: &str) -> Result<T, PluginLoadError> {
    serde_json::from_str(text).map_err(|error| PluginLoadError::InvalidInfo {
        path: path.to_path_buf(),
        what,
        message: if text.is_empty() {
            "the plugin returned nothing (it may have panicked)".to_owned()
        } else {
            error.to_string()
        },
    })
}

impl DestinationLibrary {
    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn info(&self) -> &PluginInfo {
        &self.info
    }

    pub fn capabilities(&self) -> &DestinationCapabilities {
        &self.capabilities
    }

    /// Opens a destination with its JSON configuration.
    pub fn open(&self, config: &serde_json::Value) -> Result<Box<dyn Destination>, PluginError> {
        let text = serde_json::to_string(config).map_err(|e| PluginError::internal(e.to_string()))?;
        match (self.module.open())(RStr::from_str(&text), host_services()) {
            RResult::ROk(inner) => Ok(Box::new(PluginDestination { inner })),
            RResult::RErr(error) => Err(error),
        }
    }
}

impl std::fmt::Debug for DestinationLibrary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DestinationLibrary")
            .field("path", &self.path)
            .field("info", &self.info)
            .finish_non_exhaustive()
    }
}

/// A destination opened from a plugin library; each call crosses the FFI
/// boundary as one JSON document each way.
struct PluginDestination {
    inner: FfiDestinationBox,
}

fn encode<T: Serialize>(value: &T) -> Result<String, PluginError> {
    serde_json::to_string(value).map_err(|e| PluginError::internal(format!("cannot encode request: {e}")))
}

fn decode<T: DeserializeOwned>(what: &str, text: &str) -> Result<T, PluginError> {
    serde_json::from_str(text).map_err(|e| PluginError::internal(format!("invalid {what} from the plugin: {e}")))
}

impl Destination for PluginDestination {
    fn load_package(&mut self, request: &LoadRequest) -> Result<LoadReport, PluginError> {
        let text = encode(request)?;
        let reply = self.inner.load_package(RStr::from_str(&text)).into_result()?;
        decode("load report", reply.as_str())
    }

    fn fetch_state(&mut self, request: &StateRequest) -> Result<Option<StoredState>, PluginError> {
        let text = encode(request)?;
        let reply = self.inner.fetch_state(RStr::from_str(&text)).into_result()?;
        reply.into_option().map(|text| decode("stored state", text.as_str())).transpose()
    }

    fn fetch_schema(&mut self, request: &SchemaRequest) -> Result<Option<SchemaVersion>, PluginError> {
        let text = encode(request)?;
        let reply = self.inner.fetch_schema(RStr::from_str(&text)).into_result()?;
        reply.into_option().map(|text| decode("stored schema", text.as_str())).transpose()
    }

    fn is_load_committed(&mut self, request: &LoadStatusRequest) -> Result<bool, PluginError> {
        let text = encode(request)?;
        self.inner.is_load_committed(RStr::from_str(&text)).into_result()
    }
}
