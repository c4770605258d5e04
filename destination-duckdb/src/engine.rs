//! The DuckDB instance of a destination, and attaching its database file.
//!
//! Creating a DuckDB 1.5 instance took 10 to 15 ms of CPU on a 2-vCPU
//! machine, most of it to register the built-in functions, while a
//! three-row load took about 60 ms in all. So each destination starts one
//! in-memory instance, on a background thread while the runner extracts and
//! normalizes, and keeps it until it is dropped. Every call attaches the database file to that instance (about
//! 1 ms) and detaches it before returning. Detaching releases the file's
//! lock, so other processes can open the file between calls.

use std::thread::JoinHandle;

use duckdb::Connection;
use plugin_sdk::PluginError;

use crate::config::DuckDbConfig;
use crate::connection::{apply_default_memory_limit, apply_settings, check_database_path, lift_memory_limit, type_options};
use crate::error::{database_error, open_error};
use crate::sql::{TypeOptions, quote_identifier};

/// Catalog name of the in-memory database that stays the default between
/// calls. DuckDB rejects a two-part table name whose dataset has the name of
/// a catalog as ambiguous, and dlt's snake_case naming never produces a `:`.
const SCRATCH_CATALOG: &str = "dlt:scratch";

/// Catalog name under which the database file is attached during a call.
const FILE_CATALOG: &str = "dlt:destination";

/// A DuckDB instance that is started on a background thread and waited for
/// at its first use.
pub(crate) struct Engine {
    config: DuckDbConfig,
    starting: Option<JoinHandle<Result<Instance, PluginError>>>,
    instance: Option<Instance>,
}

struct Instance {
    connection: Connection,
    type_options: TypeOptions,
    /// DuckDB's own `memory_limit`, while the destination's default limit is
    /// in force in its place.
    replaced_memory_limit: Option<String>,
}

impl Engine {
    /// Starts the instance on a background thread. An error surfaces at the
    /// first call.
    pub(crate) fn start(config: DuckDbConfig) -> Self {
        let thread_config = config.clone();
        let spawned = std::thread::Builder::new()
            .name("duckdb-start".to_owned())
            .spawn(move || start_instance(&thread_config));
        let starting = match spawned {
            Ok(handle) => Some(handle),
            Err(error) => {
                // The first call starts the instance on its own thread instead.
                tracing::debug!(%error, "failed to spawn the thread that starts DuckDB");
                None
            }
        };
        Engine {
            config,
            starting,
            instance: None,
        }
    }

    /// Starts the instance on this thread, so that a setting DuckDB rejects
    /// fails here.
    pub(crate) fn start_now(config: DuckDbConfig) -> Result<Self, PluginError> {
        let instance = start_instance(&config)?;
        Ok(Engine {
            config,
            starting: None,
            instance: Some(instance),
        })
    }

    /// Returns the configuration the instance was started with.
    pub(crate) fn config(&self) -> &DuckDbConfig {
        &self.config
    }

    /// Attaches the database file, creating it if it does not exist, and
    /// makes it the default catalog until the returned guard is dropped.
    ///
    /// Returns a `Config` error when the file's folder does not exist or the
    /// path is a folder, and a `Transient` error when another process has the
    /// file open.
    pub(crate) fn attach(&mut self) -> Result<AttachedFile<'_>, PluginError> {
        let database = self.config.database.clone();
        check_database_path(&database)?;
        let path = database.to_str().ok_or_else(|| {
            PluginError::config(format!(
                "DuckDB database path {} is not valid UTF-8. Set `credentials` to a UTF-8 path",
                database.display()
            ))
        })?;
        let instance = self.instance()?;

        tracing::debug!(database = %database.display(), "attaching DuckDB database");
        let attach = format!(
            "ATTACH {} AS {}",
            string_literal(path),
            quote_identifier(FILE_CATALOG)
        );
        instance
            .connection
            .execute_batch(&attach)
            .map_err(|error| open_error(&error, &database))?;

        let attached = AttachedFile {
            connection: &mut instance.connection,
            type_options: instance.type_options,
        };
        attached
            .connection
            .execute_batch(&format!("USE {}", quote_identifier(FILE_CATALOG)))
            .map_err(|error| {
                database_error(&error, format!("failed to select DuckDB database {} as the default catalog", database.display()))
            })?;
        Ok(attached)
    }

    /// Sets `memory_limit` back to DuckDB's own default for the rest of the
    /// instance's life if the destination's default limit is in force.
    /// Returns whether it changed the limit.
    pub(crate) fn lift_default_memory_limit(&mut self) -> Result<bool, PluginError> {
        let instance = self.instance()?;
        let Some(replaced) = instance.replaced_memory_limit.as_deref() else {
            return Ok(false);
        };
        lift_memory_limit(&instance.connection, replaced)?;
        instance.replaced_memory_limit = None;
        Ok(true)
    }

    /// Returns the started instance, waiting for the background thread or
    /// starting it here when the thread failed.
    fn instance(&mut self) -> Result<&mut Instance, PluginError> {
        if let Some(starting) = self.starting.take() {
            let started = starting
                .join()
                .unwrap_or_else(|_| Err(PluginError::internal("the thread that starts DuckDB panicked")));
            match started {
                Ok(instance) => self.instance = Some(instance),
                Err(error) => tracing::debug!(%error, "DuckDB failed to start on the background thread, so it starts again on this one"),
            }
        }

        match &mut self.instance {
            Some(instance) => Ok(instance),
            empty => Ok(empty.insert(start_instance(&self.config)?)),
        }
    }
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("database", &self.config.database)
            .field("started", &self.instance.is_some())
            .finish_non_exhaustive()
    }
}

/// The database file attached as the default catalog. Dropping it detaches
/// the file, which releases its lock and checkpoints what the WAL holds.
pub(crate) struct AttachedFile<'a> {
    pub(crate) connection: &'a mut Connection,
    pub(crate) type_options: TypeOptions,
}

impl Drop for AttachedFile<'_> {
    fn drop(&mut self) {
        let detach = format!(
            "USE {}; DETACH {}",
            quote_identifier(SCRATCH_CATALOG),
            quote_identifier(FILE_CATALOG)
        );
        if let Err(error) = self.connection.execute_batch(&detach) {
            // Committed data is in the file or in its WAL, which the next
            // open replays, so only the lock is at stake.
            tracing::warn!(%error, "failed to detach the DuckDB database file");
        }
    }
}

/// Creates the in-memory instance with the configured settings.
fn start_instance(config: &DuckDbConfig) -> Result<Instance, PluginError> {
    let connection = Connection::open_in_memory()
        .map_err(|error| PluginError::internal(format!("failed to start an in-memory DuckDB database: {error}")))?;

    // The default catalog `memory` would shadow a dataset named `memory`, and
    // only the default catalog cannot be detached.
    let scratch = quote_identifier(SCRATCH_CATALOG);
    connection
        .execute_batch(&format!("ATTACH ':memory:' AS {scratch}; USE {scratch}; DETACH \"memory\""))
        .map_err(|error| database_error(&error, "failed to prepare the in-memory DuckDB database"))?;

    // dlt sets the session time zone to UTC on every DuckDB connection, so
    // TIMESTAMPTZ values cast to text or to TIMESTAMP are read in UTC. Builds
    // without the ICU extension (the `bundled` feature) reject the setting,
    // but they always render TIMESTAMPTZ in UTC anyway.
    if let Err(error) = connection.execute_batch("SET TimeZone = 'UTC'") {
        tracing::debug!(%error, "DuckDB build cannot set the session time zone, so it uses UTC as builds without ICU do");
    }

    // An instance opened on the file spills to `<file>.tmp`, but an in-memory
    // one spills to `.tmp` in the current directory, so the folder is set here.
    if let Some(path) = config.database.to_str() {
        let temp_directory = format!("SET GLOBAL temp_directory = {}", string_literal(&format!("{path}.tmp")));
        connection
            .execute_batch(&temp_directory)
            .map_err(|error| database_error(&error, "failed to set DuckDB's temp_directory"))?;
    }

    // Every call commits at most one transaction and then detaches, which
    // checkpoints. Checkpointing at the commit instead, without writing the
    // WAL first, saves writing, syncing and deleting the WAL file. A failed
    // checkpoint then fails the commit. Configured settings come later, so
    // `global_config` can override both.
    connection
        .execute_batch("SET GLOBAL checkpoint_threshold = '0b'; SET GLOBAL auto_checkpoint_skip_wal_threshold = 0")
        .map_err(|error| database_error(&error, "failed to make DuckDB checkpoint at each commit"))?;

    apply_settings(&connection, config)?;
    let replaced_memory_limit = apply_default_memory_limit(&connection, config)?;
    let type_options = type_options(&connection)?;
    Ok(Instance {
        connection,
        type_options,
        replaced_memory_limit,
    })
}

/// Quotes `text` as an SQL string literal.
fn string_literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::config::SettingScope;

    /// Returns DuckDB's `memory_limit` and `threads` of a started engine.
    fn limit_and_threads(config: DuckDbConfig) -> (String, i64) {
        let mut engine = Engine::start_now(config).expect("start DuckDB");
        let instance = engine.instance().expect("started instance");
        instance
            .connection
            .query_row(
                "SELECT current_setting('memory_limit')::VARCHAR, current_setting('threads')::BIGINT",
                [],
                |row| Ok((row.get(0)?, row.get(1)?)),
            )
            .expect("read settings")
    }

    fn config() -> DuckDbConfig {
        DuckDbConfig::new("/nonexistent/warehouse.duckdb")
    }

    #[test]
    fn default_memory_limit_per_thread() {
        let (limit, threads) = limit_and_threads(config());

        let expected_mib = (threads * 64).max(128);
        assert_eq!(limit, format!("{expected_mib}.0 MiB"), "threads = {threads}");
    }

    #[test]
    fn default_memory_limit_follows_threads() {
        let config = config()
            .with_setting(SettingScope::Global, "threads", &json!(8))
            .unwrap();

        let (limit, threads) = limit_and_threads(config);

        assert_eq!(threads, 8);
        assert_eq!(limit, "512.0 MiB");
    }

    #[test]
    fn configured_memory_limit_wins() {
        for name in ["memory_limit", "max_memory", "MEMORY_LIMIT"] {
            let config = config()
                .with_setting(SettingScope::Global, name, &json!("1GiB"))
                .unwrap();

            let (limit, _) = limit_and_threads(config);

            assert_eq!(limit, "1.0 GiB", "setting {name}");
        }
    }
}
