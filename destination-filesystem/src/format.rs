//! The file formats of data files, chosen with `loader_file_format`, and
//! their extensions as Python dlt 1.31 names them.

use plugin_sdk::PluginError;

/// The format of the data files written to the bucket.
///
/// Job files from the runner are always Parquet. Parquet is copied unchanged,
/// and the text formats are converted from it while the job loads.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum LoaderFileFormat {
    #[default]
    Parquet,
    /// JSON Lines: one object per row, null values left out.
    Jsonl,
    /// CSV with a header, as Python's `csv` module writes it with
    /// `QUOTE_NONNUMERIC`.
    Csv,
}

impl LoaderFileFormat {
    /// Every format this destination writes, in the order messages list them.
    pub const ALL: [LoaderFileFormat; 3] = [LoaderFileFormat::Parquet, LoaderFileFormat::Jsonl, LoaderFileFormat::Csv];

    /// Parses a `loader_file_format` value.
    ///
    /// Returns a `Config` error naming the value and the accepted ones for
    /// an unknown format and for dlt formats this destination cannot write,
    /// such as `insert_values` or `typed-jsonl`.
    pub fn parse(value: &str) -> Result<Self, PluginError> {
        let format = Self::ALL.into_iter().find(|format| format.name() == value.trim());
        format.ok_or_else(|| {
            let accepted: Vec<&str> = Self::ALL.iter().map(|format| format.name()).collect();
            PluginError::config(format!(
                "`loader_file_format` {value:?} is not supported by the filesystem destination. Accepted \
                 values are {}",
                accepted.join(", ")
            ))
        })
    }

    /// Returns the name as `loader_file_format` takes it.
    pub fn name(self) -> &'static str {
        match self {
            LoaderFileFormat::Parquet => "parquet",
            LoaderFileFormat::Jsonl => "jsonl",
            LoaderFileFormat::Csv => "csv",
        }
    }

    /// Returns whether files of this format are gzip-compressed unless
    /// compression is disabled. dlt compresses its text formats only.
    pub fn supports_compression(self) -> bool {
        self != LoaderFileFormat::Parquet
    }

    /// Returns the file extension without the leading dot, such as
    /// `jsonl.gz`, because dlt appends `.gz` to compressed files.
    pub fn extension(self, compressed: bool) -> String {
        if compressed && self.supports_compression() {
            format!("{}.gz", self.name())
        } else {
            self.name().to_owned()
        }
    }
}

impl std::fmt::Display for LoaderFileFormat {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extensions_match_dlt() {
        assert_eq!(LoaderFileFormat::Jsonl.extension(true), "jsonl.gz");
        assert_eq!(LoaderFileFormat::Jsonl.extension(false), "jsonl");
        assert_eq!(LoaderFileFormat::Csv.extension(true), "csv.gz");
        assert_eq!(LoaderFileFormat::Parquet.extension(true), "parquet");
    }

    #[test]
    fn insert_values_rejected() {
        let error = LoaderFileFormat::parse("insert_values").expect_err("not a filesystem format");
        assert_eq!(error.category, plugin_sdk::ErrorCategory::Config);
        assert!(error.message().contains("\"insert_values\""), "{error}");
        assert!(error.message().contains("parquet, jsonl, csv"), "{error}");
    }
}
