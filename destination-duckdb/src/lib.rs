//! DuckDB destination for the runner.
//!
//! It writes datasets in the layout of Python dlt 1.31, so dlt can read and
//! continue them. The dataset is a schema inside the DuckDB database file,
//! tables are `"dataset"."table"`, and dlt's `_dlt_loads`, `_dlt_version` and
//! `_dlt_pipeline_state` tables record loads, schemas and pipeline state.
//! Each load package commits in one transaction.
//!
//! # Use as a Rust library
//!
//! A Rust service links this crate and calls the destination directly, with no
//! dynamic loading:
//!
//! ```no_run
//! use destination_duckdb::{DuckDbConfig, DuckDbDestination};
//! use plugin_sdk::Destination;
//!
//! let mut destination = DuckDbDestination::new(DuckDbConfig::new("/data/warehouse.duckdb"));
//! # let request: plugin_sdk::protocol::LoadRequest = unimplemented!();
//! let report = destination.load_package(&request)?;
//! # Ok::<(), plugin_sdk::PluginError>(())
//! ```
//!
//! [`DuckDbDestination::from_json`] accepts the same `dlt.yml` entry as the
//! plugin.
//!
//! # Use as a plugin
//!
//! The `cdylib` build (`libdestination_duckdb.so`) exports
//! [`DuckDbDestinationFactory`] through the plugin SDK, and the runner loads it
//! for destinations of `type: duckdb`. The library needs `libduckdb.so` (DuckDB
//! 1.5.6) next to it unless it was built with the `bundled` feature. The build
//! script copies it into the target profile folder.
//!
//! # Configuration
//!
//! `credentials` is the database file path, or `{database: path}`. Relative
//! paths resolve against the project folder, `:pipeline:` puts the file in the
//! pipeline's working directory, and without `credentials` the file is
//! `<project folder>/<pipeline name>.duckdb`. See [`DuckDbConfig::from_json`].

mod config;
mod connection;
mod destination;
mod dlt_tables;
mod engine;
mod error;
mod freed_pages;
mod load;
mod merge;
mod restore;
mod small_database;
mod spill_folder;
pub mod sql;

pub use config::{DuckDbConfig, DuckDbSetting, SettingScope};
pub use destination::{DuckDbDestination, DuckDbDestinationFactory};

