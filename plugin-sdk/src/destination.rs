//! The destination trait and its export to a plugin library.

use abi_stable::sabi_trait::TD_Opaque;
use abi_stable::std_types::{ROption, RResult, RStr, RString};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::ffi::{FfiDestination, FfiDestination_TO, FfiDestinationBox, HostServices};
use crate::panic_guard::guard;
use crate::protocol::{
    DestinationCapabilities, LoadReport, LoadRequest, LoadStatusRequest, PluginInfo, SchemaRequest,
    SchemaVersion, StateRequest, StoredState,
};
use crate::PluginError;

/// A place where load packages are committed.
///
/// Implementations are called from one thread at a time, outside any async
/// runtime, and may block.
pub trait Destination: Send {
    /// Applies a normalized load package; see [`LoadRequest`] for the contract.
    fn load_package(&mut self, request: &LoadRequest) -> Result<LoadReport, PluginError>;

    /// Returns the newest pipeline state whose load completed, if any.
    fn fetch_state(&mut self, request: &StateRequest) -> Result<Option<StoredState>, PluginError>;

    /// Returns the newest stored version of a schema, if any.
    fn fetch_schema(&mut self, request: &SchemaRequest) -> Result<Option<SchemaVersion>, PluginError>;

    /// Returns whether a load id has a completed `_dlt_loads` record. The
    /// runner of this release does not call it, so `load_package` itself must
    /// skip a load id that is already committed.
    fn is_load_committed(&mut self, request: &LoadStatusRequest) -> Result<bool, PluginError>;
}

/// Creates destinations of one type; the unit a plugin library exports.
pub trait DestinationFactory {
    fn info() -> PluginInfo;

    fn capabilities() -> DestinationCapabilities;

    /// Opens a destination from its configuration: the `dlt.yml` entry as
    /// JSON, with a `_runner` object holding a `RunnerContext`.
    fn open(config: &serde_json::Value) -> Result<Box<dyn Destination>, PluginError>;
}

/// Adapts a [`Destination`] to the FFI trait, one JSON document per call.
struct FfiAdapter {
    inner: Box<dyn Destination>,
}

fn decode<T: DeserializeOwned>(what: &str, text: RStr<'_>) -> Result<T, PluginError> {
    serde_json::from_str(text.as_str())
        .map_err(|error| PluginError::internal(format!("invalid {what} from the runner: {error}")))
}

fn encode<T: Serialize>(what: &str, value: &T) -> Result<RString, PluginError> {
    serde_json::to_string(value)
        .map(RString::from)
        .map_err(|error| PluginError::internal(format!("cannot encode {what}: {error}")))
}

impl FfiDestination for FfiAdapter {
    fn load_package(&mut self, request: RStr<'_>) -> RResult<RString, PluginError> {
        guard("load_package", || {
            let request: LoadRequest = decode("load request", request)?;
            let report = self.inner.load_package(&request)?;
            encode("load report", &report)
        })
    }

    fn fetch_state(&mut self, request: RStr<'_>) -> RResult<ROption<RString>, PluginError> {
        guard("fetch_state", || {
            let request: StateRequest = decode("state request", request)?;
            match self.inner.fetch_state(&request)? {
                Some(state) => Ok(ROption::RSome(encode("stored state", &state)?)),
                None => Ok(ROption::RNone),
            }
        })
    }

    fn fetch_schema(&mut self, request: RStr<'_>) -> RResult<ROption<RString>, PluginError> {
        guard("fetch_schema", || {
            let request: SchemaRequest = decode("schema request", request)?;
            match self.inner.fetch_schema(&request)? {
                Some(schema) => Ok(ROption::RSome(encode("stored schema", &schema)?)),
                None => Ok(ROption::RNone),
            }
        })
    }

    fn is_load_committed(&mut self, request: RStr<'_>) -> RResult<bool, PluginError> {
        guard("is_load_committed", || {
            let request: LoadStatusRequest = decode("load status request", request)?;
            self.inner.is_load_committed(&request)
        })
    }
}

#[doc(hidden)]
pub fn ffi_info<F: DestinationFactory>() -> RString {
    // An empty string shows the host that the plugin could not describe itself.
    guard("info", || encode("plugin info", &F::info())).unwrap_or_default()
}

#[doc(hidden)]
pub fn ffi_capabilities<F: DestinationFactory>() -> RString {
    guard("capabilities", || encode("capabilities", &F::capabilities())).unwrap_or_default()
}

#[doc(hidden)]
pub fn ffi_open<F: DestinationFactory>(
    config: RStr<'_>,
    host: HostServices,
) -> RResult<FfiDestinationBox, PluginError> {
    guard("open", || {
        crate::logging::install_forwarder(host);
        let config: serde_json::Value = serde_json::from_str(config.as_str())
            .map_err(|error| PluginError::internal(format!("invalid destination configuration from the runner: {error}")))?;
        let inner = F::open(&config)?;
        Ok(FfiDestination_TO::from_value(FfiAdapter { inner }, TD_Opaque))
    })
}

/// Exports a [`DestinationFactory`] as the root module of a `cdylib`.
///
/// ```ignore
/// plugin_sdk::export_destination_plugin!(MyDestinationFactory);
/// ```
#[macro_export]
macro_rules! export_destination_plugin {
    ($factory:ty) => {
        #[doc(hidden)]
        #[allow(unused_imports)]
        pub mod __runner_destination_plugin {
            use super::*;
            use $crate::reexports::abi_stable;
            use abi_stable::prefix_type::PrefixTypeTrait;
            use abi_stable::std_types::{RResult, RStr, RString};
            use $crate::ffi::{DestinationModule, DestinationModule_Ref, FfiDestinationBox, HostServices};

            extern "C" fn info() -> RString {
                $crate::destination::ffi_info::<$factory>()
            }

            extern "C" fn capabilities() -> RString {
                $crate::destination::ffi_capabilities::<$factory>()
            }

            extern "C" fn open(config: RStr<'_>, host: HostServices) -> RResult<FfiDestinationBox, $crate::PluginError> {
                $crate::destination::ffi_open::<$factory>(config, host)
            }

            /// Root module; `abi_stable` runs this only after the layout check passed.
            #[abi_stable::export_root_module]
            pub fn get_root_module() -> DestinationModule_Ref {
                DestinationModule { info, capabilities, open }.leak_into_prefix()
            }
        }
    };
}
