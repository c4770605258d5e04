//! The plugin boundary of the runner.
//!
//! Destinations, sources and retry policies can ship as dynamic libraries that
//! the runner loads at run time. This crate defines that boundary twice:
//!
//! * as plain Rust traits ([`Destination`], [`SourcePlugin`], [`RetryPolicy`])
//!   that plugin authors implement and that Rust services can call directly
//!   when they link a plugin crate as an ordinary library, and
//! * as `abi_stable` root modules and trait objects ([`ffi`]) that carry those
//!   traits across a `dlopen` boundary with load-time layout and version checks.
//!
//! Requests and replies cross the boundary as JSON documents of the types in
//! [`protocol`], so most protocol changes add optional fields instead of
//! breaking the binary layout. Bulk data never crosses as JSON: load jobs are
//! Parquet files whose paths are passed, and source data arrives as Arrow IPC
//! or JSON Lines chunks.
//!
//! # ABI version
//!
//! The ABI version is this crate's `major.minor` version ([`ABI_VERSION`]).
//! The runner refuses a library built against another `0.y` (or `x.*`)
//! version, and `abi_stable` additionally compares the full type layout of the
//! root module before any plugin code runs.
//!
//! # Writing a destination plugin
//!
//! Implement [`DestinationFactory`] and [`Destination`], then export the
//! factory with [`export_destination_plugin!`] from a crate built as
//! `crate-type = ["cdylib", "rlib"]`. Every call into the plugin runs under
//! `catch_unwind`, so a panic becomes an [`ErrorCategory::Internal`] error
//! instead of aborting the host.
//!
//! The export macros expand to `abi_stable`'s own macros, whose code names
//! the crate `abi_stable` from the plugin crate's root, so a plugin crate
//! lists it beside this crate, at the version this crate uses:
//!
//! ```toml
//! [lib]
//! crate-type = ["cdylib", "rlib"]
//!
//! [dependencies]
//! plugin-sdk = { path = "../plugin-sdk" }  # or the runner's release
//! abi_stable = "0.11.3"
//! serde_json = "1"
//! ```
//!
//! `examples/retry-linear` in the runner's repository is a complete plugin
//! crate built outside the runner's own crates.
//!
//! The runner loads the packages that normalize writes: it calls
//! [`Destination::load_package`] once per package, with every job of the
//! package. Rows of table `_dlt_pipeline_state` arrive as a Parquet job like
//! any other table (columns `version`, `engine_version`, `pipeline_name`,
//! `state`, `created_at`, `version_hash`, `_dlt_load_id`, `_dlt_id`), and
//! [`Destination::fetch_state`] must return the newest of them. The schema
//! of each package comes with the request, and [`Destination::fetch_schema`]
//! must return the stored one. `load_package` must skip a load id that it
//! already committed, because the runner retries a package whose commit it
//! did not see.

pub mod destination;
mod error;
pub mod ffi;
pub mod logging;
mod panic_guard;
pub mod protocol;
pub mod retry;
pub mod source;

pub use destination::{Destination, DestinationFactory};
pub use error::{ErrorCategory, PluginError};
pub use retry::{RetryDecision, RetryPolicy, RetryPolicyFactory};
pub use source::{DataChunk, ResourceReader, SourceFactory, SourcePlugin};

/// The `major.minor` version of this crate, which is the plugin ABI version.
pub const ABI_VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION_MAJOR"),
    ".",
    env!("CARGO_PKG_VERSION_MINOR")
);

/// Dependencies used by the export macros. `abi_stable`'s own macros still
/// need `abi_stable` as a dependency of the plugin crate.
#[doc(hidden)]
pub mod reexports {
    pub use abi_stable;
    pub use serde_json;
}
