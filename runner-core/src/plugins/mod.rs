//! Finding and loading plugin libraries.

/// A plugin library that could not be found or loaded.
#[derive(Debug, thiserror::Error)]
#[error("plugin error")]
pub struct PluginLoadError {}
