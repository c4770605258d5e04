//! The plugin library of the `destination-filesystem` crate.
//!
//! `abi_stable` exports a root module under one fixed symbol name, so two
//! plugin crates that both exported it could not be linked into one
//! program as ordinary libraries. The export therefore lives here, in a
//! `cdylib`-only crate, and `destination-filesystem` stays a plain library.

plugin_sdk::export_destination_plugin!(destination_filesystem_core::FilesystemDestinationFactory);
