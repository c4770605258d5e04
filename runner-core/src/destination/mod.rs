//! Destinations as the engine sees them: linked into the program, or opened
//! from a plugin library.

use std::fmt;
use std::panic::{AssertUnwindSafe, catch_unwind};

use plugin_sdk::protocol::{
    DestinationCapabilities, LoadReport, LoadRequest, LoadStatusRequest, SchemaRequest, SchemaVersion, StateRequest,
    StoredState,
};
use plugin_sdk::{Destination, DestinationFactory, PluginError};

use crate::plugins::DestinationLibrary;

/// An opened destination with its name, type and capabilities.
pub struct DestinationHandle {
    /// The name users gave it in `dlt.yml` (or the type name).
    pub name: String,
    /// The destination type, such as `duckdb`.
    pub type_name: String,
    pub capabilities: DestinationCapabilities,
    pub(crate) client: Box<dyn Destination>,
}

impl DestinationHandle {
    /// Wraps a destination object that the program created itself.
    pub fn new(
        name: impl Into<String>,
        type_name: impl Into<String>,
        capabilities: DestinationCapabilities,
        client: Box<dyn Destination>,
    ) -> Self {
        DestinationHandle {
            name: name.into(),
            type_name: type_name.into(),
            capabilities,
            client: Box::new(PanicGuard(client)),
        }
    }

    /// Opens a destination from a crate linked into the program, without
    /// dynamic loading. `config` is the destination's configuration as it
    /// would appear in `dlt.yml`, with a `_runner` object.
    pub fn linked<F: DestinationFactory>(name: impl Into<String>, config: &serde_json::Value) -> Result<Self, PluginError> {
        let info = F::info();
        let client = F::open(config)?;
        Ok(DestinationHandle::new(name, info.name, F::capabilities(), client))
    }

    /// Opens a destination from a loaded plugin library.
    pub fn from_library(
        name: impl Into<String>,
        library: &DestinationLibrary,
        config: &serde_json::Value,
    ) -> Result<Self, PluginError> {
        let client = library.open(config)?;
        Ok(DestinationHandle::new(
            name,
            library.info().name.clone(),
            library.capabilities().clone(),
            client,
        ))
    }

    /// Returns whether the destination implements `write_disposition`.
    pub fn supports_write_disposition(&self, write_disposition: &str) -> bool {
        self.capabilities
            .supported_write_dispositions
            .iter()
            .any(|supported| supported == write_disposition)
    }
}

impl fmt::Debug for DestinationHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DestinationHandle")
            .field("name", &self.name)
            .field("type_name", &self.type_name)
            .field("capabilities", &self.capabilities)
            .finish_non_exhaustive()
    }
}

/// A destination whose panics become internal errors. A plugin library
/// catches its own panics, but a destination linked into the program would
/// unwind into the runner, which then failed without the pipeline or load id
/// and kept a poisoned lock for every later call. The destination's state
/// after a panic is unknown, so a panicked load counts as failed and the
/// package stays pending.
struct PanicGuard(Box<dyn Destination>);

impl PanicGuard {
    fn call<T>(&mut self, method: &str, body: impl FnOnce(&mut dyn Destination) -> Result<T, PluginError>) -> Result<T, PluginError> {
        let destination = self.0.as_mut();
        match catch_unwind(AssertUnwindSafe(|| body(destination))) {
            Ok(result) => result,
            Err(panic) => Err(PluginError::internal(format!(
                "the destination panicked in `{method}`: {}",
                crate::panics::panic_message(panic.as_ref())
            ))),
        }
    }
}

impl Destination for PanicGuard {
    fn load_package(&mut self, request: &LoadRequest) -> Result<LoadReport, PluginError> {
        self.call("load_package", |destination| destination.load_package(request))
    }

    fn fetch_state(&mut self, request: &StateRequest) -> Result<Option<StoredState>, PluginError> {
        self.call("fetch_state", |destination| destination.fetch_state(request))
    }

    fn fetch_schema(&mut self, request: &SchemaRequest) -> Result<Option<SchemaVersion>, PluginError> {
        self.call("fetch_schema", |destination| destination.fetch_schema(request))
    }

    fn is_load_committed(&mut self, request: &LoadStatusRequest) -> Result<bool, PluginError> {
        self.call("is_load_committed", |destination| destination.is_load_committed(request))
    }
}
