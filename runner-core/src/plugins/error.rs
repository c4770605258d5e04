use std::fmt::Write as _;
use std::path::PathBuf;

use super::PluginKind;

/// A plugin library that could not be found or loaded.
#[derive(Debug, thiserror::Error)]
pub enum PluginLoadError {
    /// No library file of that name exists in any search folder.
    #[error("{kind} plugin `{name}` not found: no `{file_name}` in {}. {}", format_searched(searched), not_found_help(*kind, suggestion.as_deref(), available))]
    NotFound {
        kind: PluginKind,
        name: String,
        file_name: String,
        searched: Vec<PathBuf>,
        /// Names of the plugins of this kind that the folders contain.
        available: Vec<String>,
        /// The available name closest to `name`, if one is close.
        suggestion: Option<String>,
    },

    /// The operating system could not load the file.
    #[error("cannot load plugin library `{}`: {message}", path.display())]
    Open { path: PathBuf, message: String },

    /// The file is a library but exports no runner plugin module.
    #[error("`{}` is not a runner {kind} plugin: it exports no plugin module{}", path.display(), detail.as_deref().map(|d| format!(" ({d})")).unwrap_or_default())]
    NotAPlugin {
        path: PathBuf,
        kind: PluginKind,
        #[doc(hidden)]
        detail: Option<String>,
    },

    /// The library was built against another plugin ABI version.
    #[error("plugin library `{}` was built for plugin ABI {plugin_version}, but this runner uses ABI {host_version}; rebuild the plugin against plugin-sdk {host_version}", path.display())]
    AbiVersionMismatch {
        path: PathBuf,
        host_version: String,
        plugin_version: String,
    },

    /// The library's types do not match this runner's, or it exports another kind of plugin.
    #[error("plugin library `{}` does not export a compatible {kind} module: its types differ from this runner's (built from another plugin-sdk, or it is another kind of plugin); rebuild it against this runner's plugin-sdk (run with RUST_LOG=debug for the layout report)", path.display())]
    IncompatibleLayout { path: PathBuf, kind: PluginKind },

    /// The library's root module failed to initialize.
    #[error("plugin library `{}` failed to initialize: {message}", path.display())]
    Init { path: PathBuf, message: String },

    /// The library returned a malformed description of itself.
    #[error("plugin library `{}` returned invalid {what}: {message}", path.display())]
    InvalidInfo {
        path: PathBuf,
        what: &'static str,
        message: String,
    },
}

/// Writes the help of a missing plugin: a close name, the plugins found,
/// and how to add one.
fn not_found_help(kind: PluginKind, suggestion: Option<&str>, available: &[String]) -> String {
    let mut help = String::new();
    if let Some(suggestion) = suggestion {
        let _ = write!(help, "Did you mean `{suggestion}`? ");
    }
    if available.is_empty() {
        let _ = write!(help, "These folders contain no {kind} plugins. ");
    } else {
        let _ = write!(help, "Available {kind} plugins: {}. ", available.join(", "));
    }
    let _ = write!(
        help,
        "To add a plugin, copy its library into one of these folders or set {} to its folder \
         (in a clone of the runner's repository, `cargo build --workspace` builds its own plugins)",
        super::PLUGIN_DIR_ENV
    );
    help
}

fn format_searched(folders: &[PathBuf]) -> String {
    if folders.is_empty() {
        return "no folder (none was configured)".to_owned();
    }
    let mut text = String::new();
    for (index, folder) in folders.iter().enumerate() {
        if index > 0 {
            text.push_str(", ");
        }
        let _ = write!(text, "`{}`", folder.display());
    }
    text
}
