//! Filesystem and object store destination for the runner: local folders,
//! `file://`, `memory://`, `s3://` (and S3-compatible stores), `gs://` and
//! `az://`, through the `object_store` crate.
//!
//! Datasets follow the layout of Python dlt 1.31's filesystem destination,
//! so dlt can read and continue them:
//!
//! ```text
//! <bucket_url>/<dataset>/init
//! <bucket_url>/<dataset>/<table>/<load_id>.<file_id>.<ext>           (default layout)
//! <bucket_url>/<dataset>/_dlt_version/<schema>__<time>__<hash hex>.jsonl
//! <bucket_url>/<dataset>/_dlt_pipeline_state/<pipeline>__<load_id>__<schema hash hex>.jsonl
//! <bucket_url>/<dataset>/_dlt_loads/<schema>__<load_id>.jsonl
//! ```
//!
//! `<ext>` is `parquet`, `jsonl.gz` or `csv.gz` (`jsonl` and `csv` with
//! compression disabled). Parquet data files are the runner's job files,
//! copied unchanged. JSON Lines and CSV files are converted from them one
//! record batch at a time, in the encoding Python dlt writes. The
//! `_dlt_pipeline_state` job is not copied: its row is stored as a state
//! file, as dlt does. The `_dlt_*` files are plain JSON in every format.
//!
//! # Exactly once
//!
//! The `_dlt_loads` file of a package is written last. A package whose
//! `_dlt_loads` file exists is not written again. A retried package writes
//! the same file names (the job's file id is stable), so it overwrites files
//! of a failed attempt instead of duplicating them. `replace` deletes a
//! table's older files only after the new ones are written.
//!
//! Reading state and schemas back counts only committed loads, which is
//! stricter than Python dlt (see `fetch_state`). Data files of a load that
//! never commits stay in the bucket, and readers that list files (Python
//! dlt's dataset API) see them.
//!
//! # Configuration
//!
//! See [`FilesystemConfig::from_json`]: `bucket_url` (required),
//! `credentials` with dlt's key names, `layout`, `loader_file_format`
//! (`parquet`, `jsonl` or `csv`) and `max_state_files`. The runner applies
//! `DESTINATION__<NAME>__BUCKET_URL`, `DESTINATION__<NAME>__CREDENTIALS__AWS_ACCESS_KEY_ID`
//! and similar variables before it opens the plugin. S3
//! settings that are not configured come from the standard `AWS_*`
//! variables.
//!
//! # Use as a Rust library
//!
//! ```no_run
//! use destination_filesystem::{FilesystemConfig, FilesystemDestination};
//! use plugin_sdk::Destination;
//!
//! let mut destination = FilesystemDestination::new(FilesystemConfig::local("/data/lake"))?;
//! # let request: plugin_sdk::protocol::LoadRequest = unimplemented!();
//! let report = destination.load_package(&request)?;
//! # Ok::<(), plugin_sdk::PluginError>(())
//! ```
//!
//! The destination runs its requests on its own single-threaded Tokio
//! runtime, and every call blocks until they finish.

mod config;
mod credentials;
mod destination;
mod dlt_files;
mod error;
mod format;
mod layout;
mod load;
mod restore;
mod state_job;
mod store;
mod text_files;
mod text_values;

pub use config::{BucketLocation, BucketScheme, DEFAULT_MAX_STATE_FILES, FilesystemConfig};
pub use credentials::Credentials;
pub use destination::{FilesystemDestination, FilesystemDestinationFactory};
pub use format::LoaderFileFormat;
pub use layout::{DEFAULT_LAYOUT, FileNameParts, Layout};

