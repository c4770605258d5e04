//! The plugin library of the `retry-policies` crate.
//!
//! `abi_stable` exports a root module under one fixed symbol name, so two
//! plugin crates that both exported it could not be linked into one
//! program as ordinary libraries. The export therefore lives here, in a
//! `cdylib`-only crate, and `retry-policies` stays a plain library.

plugin_sdk::export_retry_policy_plugin!(retry_policies_core::BuiltinPolicies);
