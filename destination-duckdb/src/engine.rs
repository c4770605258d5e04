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
use crate::connection::{
    apply_settings, bounded_limit_for_rows, bounded_memory_limit, check_database_path, set_memory_limit, type_options,
};
use crate::error::{database_error, open_error};
use crate::freed_pages::PagePurger;
use crate::small_database;
use crate::spill_folder::SpillFolder;
use crate::sql::{TypeOptions, quote_identifier};

/// Catalog name of the in-memory database that stays the default between
/// calls. DuckDB rejects a two-part table name whose dataset has the name of
/// a catalog as ambiguous, and dlt's snake_case naming never produces a `:`.
pub(crate) const SCRATCH_CATALOG: &str = "dlt:scratch";

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
    threads: ThreadCount,
    fsst: FsstSetting,
    memory_limit: MemoryLimit,
    insertion_order: InsertionOrder,
}

/// DuckDB's worker thread setting of an instance.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ThreadCount {
    /// `threads` is set in the configuration and never changed.
    Configured,
    /// Set for each load by [`Engine::attach_for_load`]: DuckDB's default
    /// count, and the count in effect.
    Managed { default: i64, current: i64 },
}

/// The FSST setting of an instance: whether its checkpoints analyze FSST
/// compression.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FsstSetting {
    /// `disabled_compression_methods` is set in the configuration and never
    /// changed.
    Configured,
    /// Switched for each load by [`Engine::attach_for_load`]: off for a small
    /// database (see [`small_database`]), on otherwise.
    Managed { enabled: bool },
}

/// DuckDB's `memory_limit` setting of an instance.
#[derive(Debug, Clone, PartialEq, Eq)]
enum MemoryLimit {
    /// `memory_limit` is set in the configuration and never changed.
    Configured,
    /// Set for each load by [`Engine::attach_for_load`]: at most
    /// `bounded_mib` for a large package (see [`LARGE_PACKAGE_ROWS`] and
    /// [`bounded_limit_for_rows`]), DuckDB's `own` limit otherwise.
    /// `bounded_now` is the bounded limit in force, in MiB. Once a bounded
    /// load ran out of memory, `lifted` keeps DuckDB's own limit for the
    /// rest of the instance's life.
    Managed {
        own: String,
        bounded_mib: i64,
        bounded_now: Option<i64>,
        lifted: bool,
    },
}

impl MemoryLimit {
    fn is_bounded(&self) -> bool {
        matches!(self, MemoryLimit::Managed { bounded_now: Some(_), .. })
    }
}

/// DuckDB's `preserve_insertion_order` setting of an instance.
///
/// Under the bounded `memory_limit`, DuckDB's order-preserving insert gets
/// little memory for the row groups it holds back, so its threads wait on
/// each other. Loading 1M nested events took 2.9 to 3.6 s with the order
/// kept and 1.9 to 2.6 s without, at the same peak RSS (three runs each).
/// Under DuckDB's own limit, 100k events loaded no faster without the order
/// and peaked at 171 MiB instead of about 148 MiB, so the order stays there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum InsertionOrder {
    /// `preserve_insertion_order` is set in the configuration and never changed.
    Configured,
    /// Set for each load by [`Engine::attach_for_load`]: off while the
    /// bounded `memory_limit` is in force and no table merges, DuckDB's
    /// default (on) otherwise.
    Managed { preserved: bool },
}

/// Rows of one DuckDB row group. A job file of at most this many rows
/// inserts on one thread, because DuckDB's parallel insert gives a second
/// thread nothing to do in one row group and still costs its set-up.
/// With DuckDB 1.5.6 on 2 vCPUs, 100,000 rows inserted and committed in
/// 0.20 s on one thread and 0.25 s on two, and 250,000 rows in 0.23 s on
/// one and 0.12 to 0.18 s on two.
const ROW_GROUP_ROWS: u64 = 122_880;

/// Job rows from which a package loads under the bounded `memory_limit`.
/// Below it, DuckDB's buffer pool stays small anyway: 1M nested events are
/// 3M rows and peaked at about 250 MiB in all. A bounded commit of a small
/// append to many tables can also run out of memory and load twice.
const LARGE_PACKAGE_ROWS: u64 = 1_000_000;

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
        self.attach_with_threads(None)
    }

    /// Attaches the database file as [`Engine::attach`] does and sets
    /// DuckDB up for loading a package of `job_rows` rows: one thread and no
    /// FSST analysis when the database is small (see [`small_database`]),
    /// DuckDB's defaults otherwise, and the memory limit. Settings in the
    /// configuration are never changed.
    ///
    /// With more threads, the calling thread polls for tasks in a loop while
    /// a worker runs the last task of a statement, and a small database has
    /// no work to share between threads. A three-row run used about 16% less
    /// CPU time with one thread (75 ms against 63 ms, median of 30 runs on a
    /// busy 2-vCPU machine).
    ///
    /// `merges` is true when a table of the package merges. Its staged rows
    /// must then keep their file order, because the merge keeps the last row
    /// of each key by `rowid`, so the insertion order stays on.
    pub(crate) fn attach_for_load(&mut self, job_rows: u64, merges: bool) -> Result<AttachedFile<'_>, PluginError> {
        self.attach_with_threads(Some((job_rows, merges)))
    }

    fn attach_with_threads(&mut self, package: Option<(u64, bool)>) -> Result<AttachedFile<'_>, PluginError> {
        let database = self.config.database.clone();
        check_database_path(&database)?;
        let path = database.to_str().ok_or_else(|| {
            PluginError::config(format!(
                "DuckDB database path {} is not valid UTF-8. Set `credentials` to a UTF-8 path",
                database.display()
            ))
        })?;
        let spill_folder = SpillFolder::create(&self.config);
        let instance = self.instance()?;

        // ATTACH creates a missing file, so whether it exists is read just
        // before, after waiting for the instance. Another process can still
        // create the file in between (see `DuckDbDestination::load_once`).
        let new_file = !database.exists();

        // Without a TYPE, DuckDB 1.5 attaches an existing `.json`, `.csv` or
        // `.parquet` file as an empty in-memory database, so a load would
        // commit into nothing and report success.
        tracing::debug!(database = %database.display(), "attaching DuckDB database");
        let attach = format!(
            "ATTACH {} AS {} (TYPE duckdb)",
            string_literal(path),
            quote_identifier(FILE_CATALOG)
        );
        if let Err(error) = instance.connection.execute_batch(&attach) {
            if let Some((folder, true)) = &spill_folder {
                SpillFolder::remove_created(folder);
            }
            return Err(open_error(&error, &database));
        }

        let Instance {
            connection,
            type_options,
            threads,
            fsst,
            memory_limit,
            insertion_order,
        } = instance;
        let mut attached = AttachedFile {
            connection,
            type_options: *type_options,
            new_file,
            job_threads: JobThreads { threads, fixed: true },
            purger: None,
            _spill_folder: spill_folder.map(|(folder, _)| SpillFolder::remove_when_empty(folder)),
        };
        attached
            .connection
            .execute_batch(&format!("USE {}", quote_identifier(FILE_CATALOG)))
            .map_err(|error| {
                database_error(&error, format!("failed to select DuckDB database {} as the default catalog", database.display()))
            })?;

        if let Some((job_rows, merges)) = package {
            let small = if new_file {
                small_database::new_database_is_small(job_rows)
            } else {
                small_database::database_is_small(attached.connection, job_rows)?
            };
            fit_small_database(attached.connection, attached.job_threads.threads, fsst, small)?;
            attached.job_threads.fixed = small;
            fit_memory_limit(attached.connection, memory_limit, job_rows)?;
            fit_insertion_order(attached.connection, insertion_order, merges || !memory_limit.is_bounded())?;
            if memory_limit.is_bounded() {
                attached.purger = PagePurger::start();
            }
        }
        Ok(attached)
    }

    /// Sets `memory_limit` back to DuckDB's own limit for the rest of the
    /// instance's life if the bounded limit is in force. Returns whether it
    /// changed the limit.
    pub(crate) fn lift_default_memory_limit(&mut self) -> Result<bool, PluginError> {
        let instance = self.instance()?;
        let MemoryLimit::Managed {
            own,
            bounded_now,
            lifted,
            ..
        } = &mut instance.memory_limit
        else {
            return Ok(false);
        };
        if bounded_now.is_none() {
            return Ok(false);
        }

        set_memory_limit(&instance.connection, own)?;
        *bounded_now = None;
        *lifted = true;
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
    /// True when this attach created the file, so it contains no tables.
    pub(crate) new_file: bool,
    /// DuckDB's thread count for each job the load inserts.
    pub(crate) job_threads: JobThreads<'a>,
    /// Thread that purges DuckDB's freed pages while a load runs under the
    /// bounded `memory_limit`. Fields drop after `drop`, so it stops after
    /// the file is detached.
    purger: Option<PagePurger>,
    /// Spill folder of the file, removed after the detach when it is empty.
    _spill_folder: Option<SpillFolder>,
}

/// Sets DuckDB's thread count before each job insert of a load: one thread
/// for a job file of at most [`ROW_GROUP_ROWS`] rows, the load's count for
/// larger ones.
pub(crate) struct JobThreads<'a> {
    threads: &'a mut ThreadCount,
    /// True when the count stays as the attach set it: for a small database
    /// (one thread anyway) and outside a load.
    fixed: bool,
}

impl JobThreads<'_> {
    /// Sets the thread count for inserting a job file of `job_rows` rows.
    pub(crate) fn fit(&mut self, connection: &Connection, job_rows: u64) -> Result<(), PluginError> {
        self.set(connection, |default| if job_rows <= ROW_GROUP_ROWS { 1 } else { default })
    }

    /// Sets the load's thread count again after the jobs, so that the
    /// statements that follow (the merges) do not run on the one thread
    /// that the last small job file got.
    pub(crate) fn restore(&mut self, connection: &Connection) -> Result<(), PluginError> {
        self.set(connection, |default| default)
    }

    /// Sets DuckDB's thread count to what `pick` returns for the load's
    /// count, unless the count is configured or fixed for this load.
    fn set(&mut self, connection: &Connection, pick: impl FnOnce(i64) -> i64) -> Result<(), PluginError> {
        let ThreadCount::Managed { default, current } = self.threads else {
            return Ok(());
        };
        if self.fixed {
            return Ok(());
        }
        set_thread_count(connection, current, pick(*default))
    }
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
    // DuckDB downloads a missing known extension when a statement needs
    // it, for example for a setting such as `s3_region`. Builds without ICU
    // (the `bundled` feature) did so for `SET TimeZone` below, which took
    // 0.5 s per run without network access. Installed extensions still load,
    // and `global_config` can switch downloads back on.
    let options = duckdb::Config::default()
        .with("autoinstall_known_extensions", "false")
        .map_err(|error| PluginError::internal(format!("failed to configure an in-memory DuckDB database: {error}")))?;
    let connection = Connection::open_in_memory_with_flags(options)
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
    if let Some(path) = SpillFolder::path(config) {
        let temp_directory = format!("SET GLOBAL temp_directory = {}", string_literal(&path));
        connection
            .execute_batch(&temp_directory)
            .map_err(|error| database_error(&error, "failed to set DuckDB's temp_directory"))?;
    }

    // Every call commits at most one transaction and then detaches, which
    // checkpoints. Checkpointing at the commit instead, without writing the
    // WAL first, saves writing, syncing and deleting the WAL file. A failed
    // checkpoint then fails the commit.
    //
    // Each job file is read once, so DuckDB's cache of read file blocks only
    // grows: a package of 20,000 job files of 10 rows each peaked at 1.03 GiB
    // with it and at 105 MiB without, and loaded in 15.7 s instead of 18.3 s.
    // Packages with one file per table loaded as fast either way.
    //
    // Configured settings come later, so `global_config` can override these.
    connection
        .execute_batch(
            "SET GLOBAL checkpoint_threshold = '0b'; SET GLOBAL auto_checkpoint_skip_wal_threshold = 0; \
             SET GLOBAL enable_external_file_cache = false",
        )
        .map_err(|error| database_error(&error, "failed to set DuckDB up for loading files once"))?;

    apply_settings(&connection, config)?;
    let memory_limit = match bounded_memory_limit(&connection, config)? {
        Some((own, bounded_mib)) => MemoryLimit::Managed {
            own,
            bounded_mib,
            bounded_now: None,
            lifted: false,
        },
        None => MemoryLimit::Configured,
    };
    let insertion_order = if config.sets_any(&["preserve_insertion_order"]) {
        InsertionOrder::Configured
    } else {
        InsertionOrder::Managed { preserved: true }
    };
    let type_options = type_options(&connection)?;
    let (threads, fsst) = start_small(&connection, config)?;
    Ok(Instance {
        connection,
        type_options,
        threads,
        fsst,
        memory_limit,
        insertion_order,
    })
}

/// Sets the bounded `memory_limit` for a load of at least
/// [`LARGE_PACKAGE_ROWS`] job rows and DuckDB's own limit for any other
/// load, unless `memory_limit` is configured or was lifted.
///
/// NOTE: the checkpoint at the commit needs memory per table and column.
/// Appending 250 rows to nine existing tables failed to commit under
/// 128 MiB, so a large package with many tables may load twice.
fn fit_memory_limit(connection: &Connection, memory_limit: &mut MemoryLimit, job_rows: u64) -> Result<(), PluginError> {
    let MemoryLimit::Managed {
        own,
        bounded_mib,
        bounded_now,
        lifted,
    } = memory_limit
    else {
        return Ok(());
    };

    let bound = (job_rows >= LARGE_PACKAGE_ROWS && !*lifted).then(|| bounded_limit_for_rows(*bounded_mib, job_rows));
    if bound == *bounded_now {
        return Ok(());
    }
    match bound {
        Some(limit_mib) => set_memory_limit(connection, &format!("{limit_mib}MiB"))?,
        None => set_memory_limit(connection, own)?,
    }
    *bounded_now = bound;
    Ok(())
}

/// Keeps DuckDB's insertion order for the next load when `preserve` is true
/// and drops it otherwise, unless the configuration sets it.
fn fit_insertion_order(connection: &Connection, order: &mut InsertionOrder, preserve: bool) -> Result<(), PluginError> {
    let InsertionOrder::Managed { preserved } = order else {
        return Ok(());
    };
    if *preserved == preserve {
        return Ok(());
    }

    tracing::debug!(preserve, "switching DuckDB's insertion order for the load");
    connection
        .execute_batch(&format!("SET GLOBAL preserve_insertion_order = {preserve}"))
        .map_err(|error| database_error(&error, "failed to change DuckDB's preserve_insertion_order"))?;
    *preserved = preserve;
    Ok(())
}

/// Sets one thread and no FSST analysis for a load into a small database,
/// DuckDB's default thread count and FSST for any other load, except what
/// the configuration sets.
fn fit_small_database(
    connection: &Connection,
    threads: &mut ThreadCount,
    fsst: &mut FsstSetting,
    small: bool,
) -> Result<(), PluginError> {
    if let ThreadCount::Managed { default, current } = threads {
        let count = if small { 1 } else { *default };
        set_thread_count(connection, current, count)?;
    }

    if let FsstSetting::Managed { enabled } = fsst {
        let enable = !small;
        if enable != *enabled {
            tracing::debug!(fsst = enable, small, "switching FSST analysis for the load's checkpoint");
            connection
                .execute_batch(small_database::fsst_statement(enable))
                .map_err(|error| database_error(&error, "failed to change DuckDB's disabled_compression_methods"))?;
            *enabled = enable;
        }
    }
    Ok(())
}

/// Sets DuckDB's thread count to `count` unless it is `current` already.
/// A change costs about 0.2 ms.
fn set_thread_count(connection: &Connection, current: &mut i64, count: i64) -> Result<(), PluginError> {
    if count == *current {
        return Ok(());
    }
    tracing::debug!(threads = count, "setting DuckDB's thread count");
    connection
        .execute_batch(&format!("SET GLOBAL threads = {count}"))
        .map_err(|error| database_error(&error, format!("failed to set DuckDB's thread count to {count}")))?;
    *current = count;
    Ok(())
}

/// Starts the instance set up for a small database: one thread and no FSST
/// analysis, unless the configuration sets `threads` or
/// `disabled_compression_methods`. DuckDB's default thread count is read
/// first, for other loads.
fn start_small(connection: &Connection, config: &DuckDbConfig) -> Result<(ThreadCount, FsstSetting), PluginError> {
    let mut statements = Vec::new();

    let threads = if config.sets_any(&["threads", "worker_threads"]) {
        ThreadCount::Configured
    } else {
        let default: i64 = connection
            .query_row("SELECT current_setting('threads')::BIGINT", [], |row| row.get(0))
            .map_err(|error| database_error(&error, "failed to read DuckDB's thread count"))?;
        statements.push("SET GLOBAL threads = 1");
        ThreadCount::Managed { default, current: 1 }
    };
    let fsst = if small_database::fsst_configured(config) {
        FsstSetting::Configured
    } else {
        statements.push(small_database::fsst_statement(false));
        FsstSetting::Managed { enabled: false }
    };

    if !statements.is_empty() {
        connection
            .execute_batch(&statements.join("; "))
            .map_err(|error| database_error(&error, "failed to set DuckDB up for a small database"))?;
    }
    Ok((threads, fsst))
}

/// Quotes `text` as an SQL string literal.
fn string_literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::config::{DuckDbSetting, SettingScope};

    /// Returns the value of DuckDB setting `name` of the engine's instance.
    fn setting<T: duckdb::types::FromSql>(engine: &mut Engine, name: &str) -> T {
        let instance = engine.instance().expect("start DuckDB");
        instance
            .connection
            .query_row(&format!("SELECT current_setting('{name}')"), [], |row| row.get(0))
            .unwrap_or_else(|error| panic!("read DuckDB setting {name}: {error}"))
    }

    fn thread_setting(engine: &mut Engine) -> i64 {
        setting(engine, "threads")
    }

    /// Starts an engine on `w.duckdb` in `dir` without configured settings
    /// and returns it with DuckDB's default thread count.
    fn engine_with_managed_threads(dir: &tempfile::TempDir) -> (Engine, i64) {
        let mut engine = Engine::start(DuckDbConfig::new(dir.path().join("w.duckdb")));
        let ThreadCount::Managed { default, .. } = engine.instance().expect("start DuckDB").threads else {
            panic!("thread count is not managed without a configured `threads`");
        };
        (engine, default)
    }

    #[test]
    fn threads_follow_database_size() {
        let dir = tempfile::tempdir().expect("create temporary folder");
        let (mut engine, default) = engine_with_managed_threads(&dir);
        assert_eq!(thread_setting(&mut engine), 1);

        // A package too large for a small database.
        drop(engine.attach_for_load(small_database::MAX_SMALL_DATABASE_ROWS, false).expect("attach for a large package"));
        assert_eq!(thread_setting(&mut engine), default);

        drop(engine.attach_for_load(3, false).expect("attach for a small package"));
        assert_eq!(thread_setting(&mut engine), 1);

        // A small package into a database that is no longer small.
        {
            let attached = engine.attach().expect("attach");
            attached
                .connection
                .execute_batch("CREATE TABLE big AS SELECT range AS id FROM range(5000)")
                .expect("create a table of 5,000 rows");
        }
        drop(engine.attach_for_load(3, false).expect("attach for a small package"));
        assert_eq!(thread_setting(&mut engine), default);
    }

    #[test]
    fn job_threads_follow_file_size() {
        let dir = tempfile::tempdir().expect("create temporary folder");
        let (mut engine, default) = engine_with_managed_threads(&dir);
        assert!(default > 1, "DuckDB runs one thread by default here, so the test shows nothing");

        let read_threads = |connection: &Connection| -> i64 {
            connection
                .query_row("SELECT current_setting('threads')", [], |row| row.get(0))
                .expect("read DuckDB's thread count")
        };
        let mut attached = engine.attach_for_load(1_000_000, false).expect("attach for a large package");
        attached.job_threads.fit(attached.connection, ROW_GROUP_ROWS).expect("fit one row group");
        assert_eq!(read_threads(attached.connection), 1);
        attached.job_threads.fit(attached.connection, ROW_GROUP_ROWS + 1).expect("fit two row groups");
        assert_eq!(read_threads(attached.connection), default);
        attached.job_threads.fit(attached.connection, 3).expect("fit a small file");
        attached.job_threads.restore(attached.connection).expect("restore the load's count");
        assert_eq!(read_threads(attached.connection), default);
        drop(attached);

        // A small database loads on one thread whatever the file.
        let mut attached = engine.attach_for_load(3, false).expect("attach for a small package");
        attached.job_threads.fit(attached.connection, ROW_GROUP_ROWS + 1).expect("fit two row groups");
        assert_eq!(read_threads(attached.connection), 1);
    }

    fn fsst_setting(engine: &mut Engine) -> String {
        setting(engine, "disabled_compression_methods")
    }

    #[test]
    fn fsst_follows_database_size() {
        let dir = tempfile::tempdir().expect("create temporary folder");
        let mut engine = Engine::start(DuckDbConfig::new(dir.path().join("w.duckdb")));
        assert_eq!(fsst_setting(&mut engine).to_ascii_lowercase(), "fsst");

        // A new file that a large package creates.
        drop(engine.attach_for_load(small_database::MAX_SMALL_DATABASE_ROWS, false).expect("attach for a large package"));
        assert_eq!(fsst_setting(&mut engine), "");

        drop(engine.attach_for_load(3, false).expect("attach for a small package"));
        assert_eq!(fsst_setting(&mut engine).to_ascii_lowercase(), "fsst");
    }

    #[test]
    fn configured_threads_kept() {
        let dir = tempfile::tempdir().expect("create temporary folder");
        let mut config = DuckDbConfig::new(dir.path().join("w.duckdb"));
        config.settings.push(DuckDbSetting {
            scope: SettingScope::Global,
            name: "threads".to_string(),
            value: "3".to_string(),
        });
        let mut engine = Engine::start_now(config).expect("start DuckDB");

        drop(engine.attach_for_load(3, false).expect("attach for a small package"));
        assert_eq!(thread_setting(&mut engine), 3);
        drop(engine.attach_for_load(small_database::MAX_SMALL_DATABASE_ROWS, false).expect("attach for a large package"));
        assert_eq!(thread_setting(&mut engine), 3);
    }

    #[test]
    fn extension_downloads_off_unless_configured() {
        let dir = tempfile::tempdir().expect("create temporary folder");
        let mut engine = Engine::start(DuckDbConfig::new(dir.path().join("w.duckdb")));
        assert!(!setting::<bool>(&mut engine, "autoinstall_known_extensions"));

        let mut config = DuckDbConfig::new(dir.path().join("w.duckdb"));
        config.settings.push(DuckDbSetting {
            scope: SettingScope::Global,
            name: "autoinstall_known_extensions".to_string(),
            value: "true".to_string(),
        });
        let mut engine = Engine::start_now(config).expect("start DuckDB");
        assert!(setting::<bool>(&mut engine, "autoinstall_known_extensions"));
    }

    fn memory_limit_setting(engine: &mut Engine) -> String {
        setting(engine, "memory_limit")
    }

    #[test]
    fn memory_limit_bounds_large_packages() {
        let dir = tempfile::tempdir().expect("create temporary folder");
        let mut engine = Engine::start_now(DuckDbConfig::new(dir.path().join("w.duckdb"))).expect("start DuckDB");
        let own = memory_limit_setting(&mut engine);

        drop(engine.attach_for_load(LARGE_PACKAGE_ROWS, false).expect("attach for a large package"));
        let ThreadCount::Managed { default, .. } = engine.instance().expect("started").threads else {
            panic!("thread count is not managed without a configured `threads`");
        };
        let bounded = format!("{}.0 MiB", (default * 64).max(128));
        assert_eq!(memory_limit_setting(&mut engine), bounded);

        // DuckDB reports its own limit rounded (18.8 GiB), so setting it
        // back may read as a neighbour (18.7 GiB).
        drop(engine.attach_for_load(LARGE_PACKAGE_ROWS - 1, false).expect("attach for a smaller package"));
        let restored = memory_limit_setting(&mut engine);
        assert_ne!(restored, bounded, "own limit {own}");

        // After a bounded load ran out of memory, the limit stays lifted.
        drop(engine.attach_for_load(LARGE_PACKAGE_ROWS, false).expect("attach for a large package"));
        assert!(engine.lift_default_memory_limit().expect("lift"));
        drop(engine.attach_for_load(LARGE_PACKAGE_ROWS, false).expect("attach for a large package"));
        assert_ne!(memory_limit_setting(&mut engine), bounded);
        assert!(!engine.lift_default_memory_limit().expect("lift again"));
    }

    /// Starts an engine on `w.duckdb` in `dir` with `threads` configured.
    fn engine_with_threads(dir: &std::path::Path, threads: i64) -> Engine {
        let config = DuckDbConfig::new(dir.join("w.duckdb"))
            .with_setting(SettingScope::Global, "threads", &json!(threads))
            .unwrap();
        Engine::start_now(config).expect("start DuckDB")
    }

    #[test]
    fn bounded_limit_follows_package_rows() {
        let dir = tempfile::tempdir().expect("create temporary folder");
        let mut engine = engine_with_threads(dir.path(), 2);

        drop(engine.attach_for_load(LARGE_PACKAGE_ROWS, false).expect("attach for a large package"));
        assert_eq!(memory_limit_setting(&mut engine), "128.0 MiB");

        drop(engine.attach_for_load(30_000_000, false).expect("attach for a ten times larger package"));
        assert_eq!(memory_limit_setting(&mut engine), "108.0 MiB");
    }

    #[test]
    fn insertion_order_dropped_while_bounded() {
        let dir = tempfile::tempdir().expect("create temporary folder");
        let mut engine = Engine::start_now(DuckDbConfig::new(dir.path().join("w.duckdb"))).expect("start DuckDB");

        drop(engine.attach_for_load(LARGE_PACKAGE_ROWS, false).expect("attach for a large package"));
        assert!(!setting::<bool>(&mut engine, "preserve_insertion_order"));

        drop(engine.attach_for_load(LARGE_PACKAGE_ROWS - 1, false).expect("attach for a smaller package"));
        assert!(setting::<bool>(&mut engine, "preserve_insertion_order"));

        // A merge keeps the last row of each key by insertion order.
        drop(engine.attach_for_load(LARGE_PACKAGE_ROWS, true).expect("attach for a large merge package"));
        assert!(setting::<bool>(&mut engine, "preserve_insertion_order"));

        // Once the limit is lifted, large packages keep the order too.
        drop(engine.attach_for_load(LARGE_PACKAGE_ROWS, false).expect("attach for a large package"));
        assert!(engine.lift_default_memory_limit().expect("lift"));
        drop(engine.attach_for_load(LARGE_PACKAGE_ROWS, false).expect("attach for a large package"));
        assert!(setting::<bool>(&mut engine, "preserve_insertion_order"));
    }

    #[test]
    fn configured_insertion_order_is_kept() {
        let dir = tempfile::tempdir().expect("create temporary folder");
        let config = DuckDbConfig::new(dir.path().join("w.duckdb"))
            .with_setting(SettingScope::Global, "preserve_insertion_order", &json!(true))
            .unwrap();
        let mut engine = Engine::start_now(config).expect("start DuckDB");

        drop(engine.attach_for_load(LARGE_PACKAGE_ROWS, false).expect("attach for a large package"));
        assert!(setting::<bool>(&mut engine, "preserve_insertion_order"));
    }

    #[test]
    fn purger_runs_only_while_bounded() {
        let dir = tempfile::tempdir().expect("create temporary folder");
        let mut engine = Engine::start_now(DuckDbConfig::new(dir.path().join("w.duckdb"))).expect("start DuckDB");
        // The purger looks for jemalloc only on Linux and only in
        // libduckdb.so, which the bundled build does not have.
        let has_jemalloc = cfg!(all(target_os = "linux", not(feature = "bundled")));

        let large = engine.attach_for_load(LARGE_PACKAGE_ROWS, false).expect("attach for a large package");
        assert_eq!(large.purger.is_some(), has_jemalloc);
        drop(large);

        let small = engine.attach_for_load(LARGE_PACKAGE_ROWS - 1, false).expect("attach for a smaller package");
        assert!(small.purger.is_none());
        drop(small);

        let plain = engine.attach().expect("attach");
        assert!(plain.purger.is_none());
    }

    #[test]
    fn bounded_memory_limit_follows_threads() {
        let dir = tempfile::tempdir().expect("create temporary folder");
        let mut engine = engine_with_threads(dir.path(), 8);

        drop(engine.attach_for_load(LARGE_PACKAGE_ROWS, false).expect("attach for a large package"));

        assert_eq!(memory_limit_setting(&mut engine), "512.0 MiB");
    }

    #[test]
    fn configured_memory_limit_wins() {
        for name in ["memory_limit", "max_memory", "MEMORY_LIMIT"] {
            let dir = tempfile::tempdir().expect("create temporary folder");
            let config = DuckDbConfig::new(dir.path().join("w.duckdb"))
                .with_setting(SettingScope::Global, name, &json!("1GiB"))
                .unwrap();
            let mut engine = Engine::start_now(config).expect("start DuckDB");

            let attached = engine.attach_for_load(LARGE_PACKAGE_ROWS, false).expect("attach for a large package");
            assert!(attached.purger.is_none(), "setting {name}");
            drop(attached);

            assert_eq!(memory_limit_setting(&mut engine), "1.0 GiB", "setting {name}");
            assert!(!engine.lift_default_memory_limit().expect("lift"), "setting {name}");
        }
    }

    /// Runs a sort that cannot fit in DuckDB's memory limit, so it spills to
    /// the temporary folder.
    fn spill(attached: &AttachedFile<'_>) {
        attached
            .connection
            .execute_batch(
                "SET memory_limit = '64MiB'; SET preserve_insertion_order = false; \
                 CREATE TABLE sorted AS SELECT i, hash(i) AS h FROM range(10000000) AS t(i) ORDER BY h",
            )
            .expect("sort 10M rows under a 64 MiB limit");
    }

    #[test]
    fn spill_folder_removed_after_detach() {
        let dir = tempfile::tempdir().expect("create temporary folder");
        let spill_folder = dir.path().join("w.duckdb.tmp");
        let mut engine = Engine::start(DuckDbConfig::new(dir.path().join("w.duckdb")));

        let attached = engine.attach().expect("attach");
        spill(&attached);
        assert!(spill_folder.is_dir(), "the sort did not spill to {}", spill_folder.display());
        drop(attached);
        assert!(!spill_folder.exists(), "{} is left after the detach", spill_folder.display());

        // The instance spills again after its folder was removed.
        let attached = engine.attach().expect("attach again");
        attached.connection.execute_batch("DROP TABLE sorted").expect("drop the sorted table");
        spill(&attached);
        drop(attached);
        assert!(!spill_folder.exists(), "{} is left after the second detach", spill_folder.display());
    }

    #[test]
    fn spill_folder_with_files_kept() {
        let dir = tempfile::tempdir().expect("create temporary folder");
        let user_file = dir.path().join("w.duckdb.tmp").join("notes.txt");
        std::fs::create_dir(dir.path().join("w.duckdb.tmp")).expect("create the spill folder");
        std::fs::write(&user_file, "not DuckDB's").expect("write a file into the spill folder");
        let mut engine = Engine::start(DuckDbConfig::new(dir.path().join("w.duckdb")));

        drop(engine.attach().expect("attach"));

        assert!(user_file.is_file(), "{} was removed", user_file.display());
    }

    /// Returns the bytes of read file blocks that DuckDB keeps cached.
    fn file_cache_bytes(attached: &AttachedFile<'_>) -> i64 {
        attached
            .connection
            .query_row(
                "SELECT coalesce(sum(memory_usage_bytes), 0)::BIGINT FROM duckdb_memory() WHERE tag = 'EXTERNAL_FILE_CACHE'",
                [],
                |row| row.get(0),
            )
            .expect("read DuckDB's memory use")
    }

    #[test]
    fn read_files_not_cached() {
        let dir = tempfile::tempdir().expect("create temporary folder");
        let file = dir.path().join("rows.parquet");
        let mut engine = Engine::start(DuckDbConfig::new(dir.path().join("w.duckdb")));

        let file = string_literal(&file.display().to_string());
        let attached = engine.attach().expect("attach");
        attached
            .connection
            .execute_batch(&format!(
                "COPY (SELECT range AS id, 'row ' || range AS label FROM range(100000)) TO {file}; \
                 CREATE TABLE copied AS SELECT * FROM read_parquet({file})"
            ))
            .expect("write and read a Parquet file");

        assert_eq!(file_cache_bytes(&attached), 0);
    }
}
