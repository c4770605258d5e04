//! The binary interface between the runner and plugin libraries.
//!
//! Each plugin kind has its own root module. A library exports exactly one of
//! them with `#[export_root_module]` (the `export_*_plugin!` macros do this).
//! `abi_stable` checks the module's version and type layout when the runner
//! loads the library, before any plugin code runs.
//!
//! Methods take and return JSON text ([`crate::protocol`]) or small
//! `#[repr(C)]` values, and always return [`PluginError`] rather than
//! panicking, because a panic that reaches the boundary aborts the process.

#![allow(non_camel_case_types)] // `abi_stable` names generated types `*_Ref` and `*_TO`.

use abi_stable::library::RootModule;
use abi_stable::sabi_types::VersionStrings;
use abi_stable::std_types::{RBox, ROption, RResult, RStr, RString, RVec};
use abi_stable::{StableAbi, declare_root_module_statics, package_version_strings, sabi_trait};

use crate::{ErrorCategory, PluginError};

/// Severity of a log line forwarded from a plugin to the host.
#[repr(u8)]
#[derive(StableAbi, Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogLevel {
    Error = 0,
    Warn = 1,
    Info = 2,
    Debug = 3,
    Trace = 4,
}

/// Services the host lends a plugin when it opens it.
///
/// A plugin has its own copy of `tracing`, whose events the host never sees,
/// so the plugin forwards formatted log lines through `log`.
#[repr(C)]
#[derive(StableAbi, Clone, Copy)]
pub struct HostServices {
    pub log: extern "C" fn(level: LogLevel, target: RStr<'_>, message: RStr<'_>),
    /// The most verbose level the host will print, so plugins skip the rest.
    pub max_level: LogLevel,
}

/// A destination opened by a plugin library.
#[sabi_trait]
pub trait FfiDestination: Send {
    /// Loads a package described by a JSON `LoadRequest`; returns a JSON `LoadReport`.
    fn load_package(&mut self, request: RStr<'_>) -> RResult<RString, PluginError>;

    /// Returns the JSON `StoredState` for a JSON `StateRequest`, if any.
    fn fetch_state(&mut self, request: RStr<'_>) -> RResult<ROption<RString>, PluginError>;

    /// Returns the JSON `SchemaVersion` for a JSON `SchemaRequest`, if any.
    fn fetch_schema(&mut self, request: RStr<'_>) -> RResult<ROption<RString>, PluginError>;

    /// Returns whether a JSON `LoadStatusRequest`'s load id is in `_dlt_loads`.
    #[sabi(last_prefix_field)]
    fn is_load_committed(&mut self, request: RStr<'_>) -> RResult<bool, PluginError>;
}

/// An owned destination trait object.
pub type FfiDestinationBox = FfiDestination_TO<'static, RBox<()>>;

/// Root module of a destination plugin library.
#[repr(C)]
#[derive(StableAbi)]
#[sabi(kind(Prefix(prefix_ref = DestinationModule_Ref)))]
#[sabi(missing_field(panic))]
pub struct DestinationModule {
    /// Returns the JSON `PluginInfo`.
    pub info: extern "C" fn() -> RString,
    /// Returns the JSON `DestinationCapabilities`.
    pub capabilities: extern "C" fn() -> RString,
    /// Opens a destination from its JSON configuration (the `dlt.yml`
    /// destination entry plus a `_runner` object with `RunnerContext`).
    #[sabi(last_prefix_field)]
    pub open: extern "C" fn(config: RStr<'_>, host: HostServices) -> RResult<FfiDestinationBox, PluginError>,
}

impl RootModule for DestinationModule_Ref {
    declare_root_module_statics! {DestinationModule_Ref}
    const BASE_NAME: &'static str = "destination";
    const NAME: &'static str = "runner destination plugin";
    const VERSION_STRINGS: VersionStrings = package_version_strings!();
}

/// A retry policy's decision after a failed attempt.
#[repr(C)]
#[derive(StableAbi, Clone, Copy, Debug, PartialEq, Eq)]
pub struct FfiRetryDecision {
    pub retry: bool,
    /// Wait before the next attempt, in milliseconds. Ignored when `retry` is false.
    pub wait_ms: u64,
}

/// A retry policy opened by a plugin library.
#[sabi_trait]
pub trait FfiRetryPolicy: Send {
    /// Returns the total number of attempts this policy allows.
    fn max_attempts(&self) -> u32;

    /// Decides what follows failed attempt `attempt` (1-based).
    #[sabi(last_prefix_field)]
    fn after_failure(&mut self, attempt: u32, category: ErrorCategory) -> FfiRetryDecision;
}

/// An owned retry policy trait object.
pub type FfiRetryPolicyBox = FfiRetryPolicy_TO<'static, RBox<()>>;

/// Root module of a retry policy plugin library.
#[repr(C)]
#[derive(StableAbi)]
#[sabi(kind(Prefix(prefix_ref = RetryPolicyModule_Ref)))]
#[sabi(missing_field(panic))]
pub struct RetryPolicyModule {
    /// Returns the JSON `PluginInfo`.
    pub info: extern "C" fn() -> RString,
    /// Returns the policy `type` names this library provides.
    pub policy_types: extern "C" fn() -> RVec<RString>,
    /// Creates the policy `type_name` from its JSON parameters (the
    /// `retry_policy` mapping of `dlt.yml`, `type` included).
    #[sabi(last_prefix_field)]
    pub new_policy: extern "C" fn(
        type_name: RStr<'_>,
        parameters: RStr<'_>,
        host: HostServices,
    ) -> RResult<FfiRetryPolicyBox, PluginError>,
}

impl RootModule for RetryPolicyModule_Ref {
    declare_root_module_statics! {RetryPolicyModule_Ref}
    const BASE_NAME: &'static str = "retry_policy";
    const NAME: &'static str = "runner retry policy plugin";
    const VERSION_STRINGS: VersionStrings = package_version_strings!();
}

/// Encoding of the bytes in an [`FfiDataChunk`].
#[repr(u8)]
#[derive(StableAbi, Clone, Copy, Debug, PartialEq, Eq)]
pub enum FfiChunkFormat {
    /// One JSON object per line, UTF-8.
    JsonLines = 0,
    /// An Arrow IPC stream holding one or more record batches.
    ArrowIpcStream = 1,
}

/// A chunk of rows produced by a source plugin.
#[repr(C)]
#[derive(StableAbi, Clone, Debug)]
pub struct FfiDataChunk {
    pub format: FfiChunkFormat,
    pub bytes: RVec<u8>,
}

/// Reads the rows of one resource, chunk by chunk.
#[sabi_trait]
pub trait FfiResourceReader: Send {
    /// Returns the next chunk, or none at the end of the resource.
    #[sabi(last_prefix_field)]
    fn next_chunk(&mut self) -> RResult<ROption<FfiDataChunk>, PluginError>;
}

/// An owned resource reader trait object.
pub type FfiResourceReaderBox = FfiResourceReader_TO<'static, RBox<()>>;

/// A source opened by a plugin library.
#[sabi_trait]
pub trait FfiSource: Send {
    /// Returns a JSON array of `ResourceSpec` describing the resources.
    fn resources(&self) -> RResult<RString, PluginError>;

    /// Starts reading resource `name`. `state` is the JSON resource state
    /// kept by the pipeline (for example an incremental cursor), or `null`.
    #[sabi(last_prefix_field)]
    fn open_resource(&mut self, name: RStr<'_>, state: RStr<'_>) -> RResult<FfiResourceReaderBox, PluginError>;
}

/// An owned source trait object.
pub type FfiSourceBox = FfiSource_TO<'static, RBox<()>>;

/// Root module of a source plugin library.
#[repr(C)]
#[derive(StableAbi)]
#[sabi(kind(Prefix(prefix_ref = SourceModule_Ref)))]
#[sabi(missing_field(panic))]
pub struct SourceModule {
    /// Returns the JSON `PluginInfo`.
    pub info: extern "C" fn() -> RString,
    /// Opens a source from its JSON configuration (the `dlt.yml` source entry
    /// plus a `_runner` object with `RunnerContext`).
    #[sabi(last_prefix_field)]
    pub open: extern "C" fn(config: RStr<'_>, host: HostServices) -> RResult<FfiSourceBox, PluginError>,
}

impl RootModule for SourceModule_Ref {
    declare_root_module_statics! {SourceModule_Ref}
    const BASE_NAME: &'static str = "source";
    const NAME: &'static str = "runner source plugin";
    const VERSION_STRINGS: VersionStrings = package_version_strings!();
}
