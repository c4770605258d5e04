//! The source trait and its export to a plugin library.

use abi_stable::sabi_trait::TD_Opaque;
use abi_stable::std_types::{ROption, RResult, RStr, RString, RVec};
use serde::{Deserialize, Serialize};

use crate::ffi::{
    FfiChunkFormat, FfiDataChunk, FfiResourceReader, FfiResourceReader_TO, FfiResourceReaderBox, FfiSource,
    FfiSource_TO, FfiSourceBox, HostServices,
};
use crate::panic_guard::guard;
use crate::protocol::PluginInfo;
use crate::PluginError;

/// A resource of a source: one stream of rows that becomes one root table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResourceSpec {
    pub name: String,
    /// Root table name before normalization; the resource name when absent.
    #[serde(default)]
    pub table_name: Option<String>,
    /// `append` (the default) or `replace`.
    #[serde(default)]
    pub write_disposition: Option<String>,
    #[serde(default)]
    pub primary_key: Vec<String>,
}

/// A chunk of rows, in one of the encodings the runner reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DataChunk {
    /// One JSON object per line.
    JsonLines(Vec<u8>),
    /// An Arrow IPC stream of record batches.
    ArrowIpcStream(Vec<u8>),
}

/// Reads one resource chunk by chunk; `None` marks the end.
pub trait ResourceReader: Send {
    fn next_chunk(&mut self) -> Result<Option<DataChunk>, PluginError>;
}

/// A source of one or more resources.
pub trait SourcePlugin: Send {
    fn resources(&self) -> Result<Vec<ResourceSpec>, PluginError>;

    /// Starts reading `name`; `state` is the resource state kept by the pipeline.
    fn open_resource(
        &mut self,
        name: &str,
        state: &serde_json::Value,
    ) -> Result<Box<dyn ResourceReader>, PluginError>;
}

/// Creates sources; the unit a plugin library exports.
pub trait SourceFactory {
    fn info() -> PluginInfo;

    /// Opens a source from its `dlt.yml` entry as JSON, with a `_runner` object.
    fn open(config: &serde_json::Value) -> Result<Box<dyn SourcePlugin>, PluginError>;
}

struct ReaderAdapter {
    inner: Box<dyn ResourceReader>,
}

impl FfiResourceReader for ReaderAdapter {
    fn next_chunk(&mut self) -> RResult<ROption<FfiDataChunk>, PluginError> {
        guard("next_chunk", || {
            let chunk = self.inner.next_chunk()?.map(|chunk| match chunk {
                DataChunk::JsonLines(bytes) => FfiDataChunk {
                    format: FfiChunkFormat::JsonLines,
                    bytes: RVec::from(bytes),
                },
                DataChunk::ArrowIpcStream(bytes) => FfiDataChunk {
                    format: FfiChunkFormat::ArrowIpcStream,
                    bytes: RVec::from(bytes),
                },
            });
            Ok(ROption::from(chunk))
        })
    }
}

struct SourceAdapter {
    inner: Box<dyn SourcePlugin>,
}

impl FfiSource for SourceAdapter {
    fn resources(&self) -> RResult<RString, PluginError> {
        guard("resources", || {
            let resources = self.inner.resources()?;
            serde_json::to_string(&resources)
                .map(RString::from)
                .map_err(|error| PluginError::internal(format!("cannot encode resources: {error}")))
        })
    }

    fn open_resource(&mut self, name: RStr<'_>, state: RStr<'_>) -> RResult<FfiResourceReaderBox, PluginError> {
        guard("open_resource", || {
            let state: serde_json::Value = serde_json::from_str(state.as_str())
                .map_err(|error| PluginError::internal(format!("invalid resource state from the runner: {error}")))?;
            let inner = self.inner.open_resource(name.as_str(), &state)?;
            Ok(FfiResourceReader_TO::from_value(ReaderAdapter { inner }, TD_Opaque))
        })
    }
}

#[doc(hidden)]
pub fn ffi_info<F: SourceFactory>() -> RString {
    guard("info", || {
        serde_json::to_string(&F::info())
            .map(RString::from)
            .map_err(|error| PluginError::internal(error.to_string()))
    })
    .unwrap_or_default()
}

#[doc(hidden)]
pub fn ffi_open<F: SourceFactory>(config: RStr<'_>, host: HostServices) -> RResult<FfiSourceBox, PluginError> {
    guard("open", || {
        crate::logging::install_forwarder(host);
        let config: serde_json::Value = serde_json::from_str(config.as_str())
            .map_err(|error| PluginError::internal(format!("invalid source configuration from the runner: {error}")))?;
        let inner = F::open(&config)?;
        Ok(FfiSource_TO::from_value(SourceAdapter { inner }, TD_Opaque))
    })
}

/// Exports a [`SourceFactory`] as the root module of a `cdylib`.
#[macro_export]
macro_rules! export_source_plugin {
    ($factory:ty) => {
        #[doc(hidden)]
        #[allow(unused_imports)]
        pub mod __runner_source_plugin {
            use super::*;
            use $crate::reexports::abi_stable;
            use abi_stable::prefix_type::PrefixTypeTrait;
            use abi_stable::std_types::{RResult, RStr, RString};
            use $crate::ffi::{FfiSourceBox, HostServices, SourceModule, SourceModule_Ref};

            extern "C" fn info() -> RString {
                $crate::source::ffi_info::<$factory>()
            }

            extern "C" fn open(config: RStr<'_>, host: HostServices) -> RResult<FfiSourceBox, $crate::PluginError> {
                $crate::source::ffi_open::<$factory>(config, host)
            }

            /// Root module; `abi_stable` runs this only after the layout check passed.
            #[abi_stable::export_root_module]
            pub fn get_root_module() -> SourceModule_Ref {
                SourceModule { info, open }.leak_into_prefix()
            }
        }
    };
}
