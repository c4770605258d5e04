//! A destination for tests: DuckDB with failures injected on request.
//!
//! Configuration, besides everything the DuckDB destination takes:
//!
//! * `fail_loads` (integer): the first N calls to `load_package` fail
//!   before DuckDB is touched. Calls are counted in `counter_file`, so the
//!   count survives across processes.
//! * `fail_category`: `transient` (default), `terminal`, `config` or `internal`.
//! * `fail_open` (bool): opening the destination fails with `fail_category`,
//!   before DuckDB is touched.
//! * `panic_in_load` (bool): `load_package` panics, to check that a panic
//!   does not cross the plugin boundary.
//! * `counter_file` (path): where calls are counted; required with `fail_loads`.
//! * `credentials.password`: accepted and ignored, so that tests can plant a
//!   secret in the configuration; DuckDB itself rejects the key.

use std::fs;
use std::path::PathBuf;

use destination_duckdb::DuckDbDestinationFactory;
use plugin_sdk::protocol::{
    DestinationCapabilities, LoadReport, LoadRequest, LoadStatusRequest, PluginInfo, SchemaRequest, SchemaVersion,
    StateRequest, StoredState,
};
use plugin_sdk::{Destination, DestinationFactory, ErrorCategory, PluginError};

/// The fault-injecting destination factory, exported as plugin type `faulty`.
pub struct FaultyDestinationFactory;

struct Faults {
    fail_loads: u64,
    category: ErrorCategory,
    panic_in_load: bool,
    counter_file: Option<PathBuf>,
}

struct FaultyDestination {
    faults: Faults,
    inner: Box<dyn Destination>,
}

const FAULT_KEYS: [&str; 5] = ["fail_loads", "fail_category", "fail_open", "panic_in_load", "counter_file"];

impl DestinationFactory for FaultyDestinationFactory {
    fn info() -> PluginInfo {
        PluginInfo {
            name: "faulty".to_owned(),
            version: env!("CARGO_PKG_VERSION").to_owned(),
            abi_version: plugin_sdk::ABI_VERSION.to_owned(),
            description: "DuckDB with injected failures, for tests".to_owned(),
        }
    }

    fn capabilities() -> DestinationCapabilities {
        DuckDbDestinationFactory::capabilities()
    }

    fn open(config: &serde_json::Value) -> Result<Box<dyn Destination>, PluginError> {
        let faults = parse_faults(config)?;
        if config.get("fail_open").and_then(|value| value.as_bool()).unwrap_or(false) {
            return Err(PluginError::new(faults.category, "injected failure while opening the destination"));
        }

        let mut inner_config = config.clone();
        if let Some(map) = inner_config.as_object_mut() {
            for key in FAULT_KEYS {
                map.remove(key);
            }
            map.insert("type".to_owned(), serde_json::Value::from("duckdb"));
            if let Some(credentials) = map.get_mut("credentials").and_then(|value| value.as_object_mut()) {
                credentials.remove("password");
            }
        }
        let inner = DuckDbDestinationFactory::open(&inner_config)?;
        Ok(Box::new(FaultyDestination { faults, inner }))
    }
}

fn parse_faults(config: &serde_json::Value) -> Result<Faults, PluginError> {
    let category = match config.get("fail_category").and_then(|value| value.as_str()).unwrap_or("transient") {
        "transient" => ErrorCategory::Transient,
        "terminal" => ErrorCategory::Terminal,
        "config" => ErrorCategory::Config,
        "internal" => ErrorCategory::Internal,
        other => return Err(PluginError::config(format!("invalid fail_category `{other}`"))),
    };
    let faults = Faults {
        fail_loads: config.get("fail_loads").and_then(|value| value.as_u64()).unwrap_or(0),
        category,
        panic_in_load: config.get("panic_in_load").and_then(|value| value.as_bool()).unwrap_or(false),
        counter_file: config.get("counter_file").and_then(|value| value.as_str()).map(PathBuf::from),
    };
    if faults.fail_loads > 0 && faults.counter_file.is_none() {
        return Err(PluginError::config("`fail_loads` needs `counter_file`"));
    }
    Ok(faults)
}

impl FaultyDestination {
    /// Counts one `load_package` call; returns the count including this one.
    fn count_call(&self) -> Result<u64, PluginError> {
        let Some(path) = &self.faults.counter_file else { return Ok(1) };
        let previous: u64 = fs::read_to_string(path)
            .ok()
            .and_then(|text| text.trim().parse().ok())
            .unwrap_or(0);
        let current = previous + 1;
        fs::write(path, current.to_string())
            .map_err(|error| PluginError::internal(format!("cannot write counter file: {error}")))?;
        Ok(current)
    }
}

impl Destination for FaultyDestination {
    fn load_package(&mut self, request: &LoadRequest) -> Result<LoadReport, PluginError> {
        if self.faults.panic_in_load {
            panic!("injected panic while loading package {}", request.load_id);
        }
        let call = self.count_call()?;
        if call <= self.faults.fail_loads {
            return Err(PluginError::new(
                self.faults.category,
                format!("injected failure {call} of {} for package {}", self.faults.fail_loads, request.load_id),
            ));
        }
        self.inner.load_package(request)
    }

    fn fetch_state(&mut self, request: &StateRequest) -> Result<Option<StoredState>, PluginError> {
        self.inner.fetch_state(request)
    }

    fn fetch_schema(&mut self, request: &SchemaRequest) -> Result<Option<SchemaVersion>, PluginError> {
        self.inner.fetch_schema(request)
    }

    fn is_load_committed(&mut self, request: &LoadStatusRequest) -> Result<bool, PluginError> {
        self.inner.is_load_committed(request)
    }
}

plugin_sdk::export_destination_plugin!(FaultyDestinationFactory);
