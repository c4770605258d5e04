//! Finding and loading plugin libraries.
//!
//! A plugin is a `cdylib` that exports one `abi_stable` root module (see
//! `plugin_sdk::ffi`). The runner looks for a library file by name in, in
//! order: each folder of `$DLT_PLUGIN_DIR` (separated like `PATH`), the
//! project's `plugins/` folder, and the folder of the running executable.
//! `abi_stable` checks the library's ABI version and the layout of every
//! type reachable from its root module before any plugin code runs; a
//! mismatch is reported as an error naming the file and both versions.
//!
//! Libraries are never unloaded: `abi_stable` keeps them for the life of
//! the process.

mod destination;
mod elf;
mod error;
mod retry;
mod search;
mod source;

pub use destination::{DestinationLibrary, load_destination_library};
pub use error::PluginLoadError;
pub use retry::open_retry_policy_plugin;
pub use search::{PLUGIN_DIR_ENV, PluginKind, PluginSearch, library_file_name};
pub use source::open_source_plugin;

use abi_stable::library::{LibHeader, LibraryError, RootModule};
use abi_stable::sabi_types::VersionNumber;
use abi_stable::std_types::RStr;
use plugin_sdk::ffi::{HostServices, LogLevel};
use std::path::Path;

/// Receives log lines that plugins forward and re-emits them as host events.
extern "C" fn forward_plugin_log(level: LogLevel, target: RStr<'_>, message: RStr<'_>) {
    let target = target.as_str();
    let message = message.as_str();
    match level {
        LogLevel::Error => tracing::error!(plugin_target = target, "{message}"),
        LogLevel::Warn => tracing::warn!(plugin_target = target, "{message}"),
        LogLevel::Info => tracing::info!(plugin_target = target, "{message}"),
        LogLevel::Debug => tracing::debug!(plugin_target = target, "{message}"),
        LogLevel::Trace => tracing::trace!(plugin_target = target, "{message}"),
    }
}

/// Returns the services handed to every plugin the runner opens.
pub fn host_services() -> HostServices {
    let max_level = match tracing::level_filters::LevelFilter::current() {
        filter if filter >= tracing::level_filters::LevelFilter::TRACE => LogLevel::Trace,
        filter if filter >= tracing::level_filters::LevelFilter::DEBUG => LogLevel::Debug,
        filter if filter >= tracing::level_filters::LevelFilter::INFO => LogLevel::Info,
        filter if filter >= tracing::level_filters::LevelFilter::WARN => LogLevel::Warn,
        _ => LogLevel::Error,
    };
    HostServices {
        log: forward_plugin_log,
        max_level,
    }
}

/// Opens the library at `path` and returns its `abi_stable` header, after
/// checking that the file is not cut short.
fn open_library(path: &Path, kind: PluginKind) -> Result<&'static LibHeader, PluginLoadError> {
    tracing::debug!(path = %path.display(), %kind, "opening plugin library");
    elf::check_not_truncated(path)?;
    abi_stable::library::lib_header_from_path(path).map_err(|error| library_error(path, kind, error))
}

/// Refuses a library built against another plugin ABI version, in both
/// directions. `abi_stable` itself only refuses libraries older than the
/// host; a newer one would fail its layout check with a report that hides
/// the version numbers.
fn check_abi_version<M: RootModule>(path: &Path, kind: PluginKind, header: &LibHeader) -> Result<(), PluginLoadError> {
    let host = VersionNumber::new(M::VERSION_STRINGS);
    let plugin = VersionNumber::new(header.version_strings());
    let (Ok(host), Ok(plugin)) = (host, plugin) else {
        return Err(PluginLoadError::NotAPlugin {
            path: path.to_path_buf(),
            kind,
            detail: Some("unreadable ABI version".to_owned()),
        });
    };

    // Cargo's rule: 0.y versions differ in `y`, others in the major number.
    let compatible = if host.major == 0 {
        plugin.major == 0 && plugin.minor == host.minor
    } else {
        plugin.major == host.major
    };
    if compatible {
        return Ok(());
    }
    Err(PluginLoadError::AbiVersionMismatch {
        path: path.to_path_buf(),
        host_version: format!("{}.{}", host.major, host.minor),
        plugin_version: format!("{}.{}", plugin.major, plugin.minor),
    })
}

/// Maps an `abi_stable` load failure to an error that names the file.
fn library_error(path: &Path, kind: PluginKind, error: LibraryError) -> PluginLoadError {
    let path = path.to_path_buf();
    match error {
        LibraryError::OpenError { err, .. } => {
            let mut message = err.to_string();
            // dlopen names the missing dependency, such as `libduckdb.so`,
            // but not where it must go.
            if message.contains("cannot open shared object file") {
                message.push_str(
                    "; a library that the plugin links to is missing: copy it into the plugin's folder (the DuckDB \
                     plugin needs the `libduckdb.so` that was built with it)",
                );
            }
            PluginLoadError::Open { path, message }
        }
        LibraryError::GetSymbolError { .. } | LibraryError::InvalidAbiHeader(_) | LibraryError::InvalidCAbi { .. } => {
            PluginLoadError::NotAPlugin { path, kind, detail: None }
        }
        LibraryError::IncompatibleVersionNumber {
            expected_version,
            actual_version,
            ..
        } => PluginLoadError::AbiVersionMismatch {
            path,
            host_version: expected_version.to_string(),
            plugin_version: actual_version.to_string(),
        },
        LibraryError::ParseVersionError(error) => PluginLoadError::NotAPlugin {
            path,
            kind,
            detail: Some(error.to_string()),
        },
        LibraryError::AbiInstability(detail) => {
            // The layout report can run to thousands of lines, so it goes
            // to the debug log and the error stays short.
            tracing::debug!(path = %path.display(), detail = %detail, "plugin layout mismatch");
            PluginLoadError::IncompatibleLayout { path, kind }
        }
        LibraryError::RootModule { err, .. } => PluginLoadError::Init {
            path,
            message: err.to_string(),
        },
        LibraryError::Many(errors) => match errors.into_iter().next() {
            Some(first) => library_error(&path, kind, first),
            None => PluginLoadError::NotAPlugin { path, kind, detail: None },
        },
    }
}
