//! The pipeline engine of the runner.
//!
//! A [`Pipeline`] moves data through dlt's three steps, with dlt's on-disk
//! layout in between so that a crash at any point leaves a load package that
//! the next run completes:
//!
//! 1. **extract** reads resources into a load package of typed JSON Lines
//!    (or Parquet, for Arrow input) under `normalize/extracted/<load_id>`;
//! 2. **normalize** turns rows into relational tables exactly as dlt does
//!    (naming convention, nested tables, type inference, variant columns),
//!    evolves the schema and writes one Parquet file per table under
//!    `load/normalized/<load_id>`;
//! 3. **load** hands the package to a destination, which commits it and
//!    records it in `_dlt_loads`; the package then moves to `load/loaded`.
//!
//! Destinations are [`plugin_sdk::Destination`] implementations, either
//! linked into the program or loaded from a plugin library by
//! [`plugins::PluginHost`].

pub mod config;
pub mod destination;
pub mod error;
pub mod extract;
mod json_parser;
mod lines;
pub mod load_id;
pub mod naming;
pub mod normalize;
mod panics;
pub mod pipeline;
pub mod plugins;
pub mod project;
pub mod runner;
pub mod schema;
mod shake128;
pub mod state;
pub mod storage;
pub mod trace;
pub mod typed_json;

pub use error::{Error, Result};
pub use pipeline::{Pipeline, PipelineOptions, StepEndHook};
pub use runner::{RunOutcome, Runner, RunnerOptions};
pub use plugin_sdk;
