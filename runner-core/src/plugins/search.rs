use std::fmt;
use std::path::{Path, PathBuf};

use super::PluginLoadError;

/// Environment variable naming extra plugin folders, searched first.
pub const PLUGIN_DIR_ENV: &str = "DLT_PLUGIN_DIR";

/// The kinds of plugin a library can export.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PluginKind {
    Destination,
    Source,
    RetryPolicy,
}

impl PluginKind {
    /// The crate name prefix of plugins of this kind: a destination of type
    /// `duckdb` is the crate `destination-duckdb`, file `libdestination_duckdb.so`.
    fn crate_prefix(self) -> &'static str {
        match self {
            PluginKind::Destination => "destination",
            PluginKind::Source => "source",
            PluginKind::RetryPolicy => "retry",
        }
    }
}

impl fmt::Display for PluginKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            PluginKind::Destination => "destination",
            PluginKind::Source => "source",
            PluginKind::RetryPolicy => "retry policy",
        })
    }
}

/// Returns the platform's file name of the plugin library for `kind` and
/// `name`, e.g. `libdestination_duckdb.so` on Linux.
pub fn library_file_name(kind: PluginKind, name: &str) -> String {
    let stem = format!("{}_{}", kind.crate_prefix(), name.replace('-', "_"));
    format!("{}{stem}{}", std::env::consts::DLL_PREFIX, std::env::consts::DLL_SUFFIX)
}

/// The ordered folders searched for plugin libraries.
#[derive(Debug, Clone, Default)]
pub struct PluginSearch {
    folders: Vec<PathBuf>,
}

impl PluginSearch {
    /// Builds the standard search order: `$DLT_PLUGIN_DIR` (each folder of
    /// it), `<project_dir>/plugins`, and the folder of the running executable.
    pub fn standard(project_dir: Option<&Path>) -> Self {
        let mut folders = Vec::new();

        if let Some(value) = std::env::var_os(PLUGIN_DIR_ENV) {
            folders.extend(std::env::split_paths(&value).filter(|folder| !folder.as_os_str().is_empty()));
        }
        if let Some(project_dir) = project_dir {
            folders.push(project_dir.join("plugins"));
        }
        if let Ok(executable) = std::env::current_exe()
            && let Some(folder) = executable.parent()
        {
            folders.push(folder.to_path_buf());
        }

        PluginSearch { folders }
    }

    /// Searches only `folders`, in order.
    pub fn from_folders(folders: Vec<PathBuf>) -> Self {
        PluginSearch { folders }
    }

    pub fn folders(&self) -> &[PathBuf] {
        &self.folders
    }

    /// Returns the first existing library for `kind` and `name`.
    pub fn find(&self, kind: PluginKind, name: &str) -> Result<PathBuf, PluginLoadError> {
        let file_name = library_file_name(kind, name);
        for folder in &self.folders {
            let candidate = folder.join(&file_name);
            if candidate.is_file() {
                return Ok(candidate);
            }
        }
        let available = self.available(kind);
        let suggestion = crate::config::suggest::nearest(name, available.iter().map(String::as_str));
        Err(PluginLoadError::NotFound {
            kind,
            name: name.to_owned(),
            file_name,
            searched: self.folders.clone(),
            available,
            suggestion,
        })
    }

    /// Returns the sorted names of the `kind` plugins in the search folders.
    fn available(&self, kind: PluginKind) -> Vec<String> {
        let prefix = format!("{}{}_", std::env::consts::DLL_PREFIX, kind.crate_prefix());
        let mut names: Vec<String> = self
            .folders
            .iter()
            .filter_map(|folder| std::fs::read_dir(folder).ok())
            .flatten()
            .filter_map(|entry| {
                let file_name = entry.ok()?.file_name().into_string().ok()?;
                let stem = file_name.strip_prefix(&prefix)?.strip_suffix(std::env::consts::DLL_SUFFIX)?;
                Some(stem.to_owned())
            })
            .collect();
        names.sort();
        names.dedup();
        names
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_name_of_destination() {
        let name = library_file_name(PluginKind::Destination, "duckdb");
        assert!(name.contains("destination_duckdb"));
    }

    #[test]
    fn find_lists_searched_folders() {
        let search = PluginSearch::from_folders(vec![PathBuf::from("/nonexistent/a"), PathBuf::from("/nonexistent/b")]);
        let error = search.find(PluginKind::Destination, "nosuch").unwrap_err().to_string();
        assert!(error.contains("/nonexistent/a"), "{error}");
        assert!(error.contains("/nonexistent/b"), "{error}");
        assert!(error.contains("destination_nosuch"), "{error}");
    }
}
