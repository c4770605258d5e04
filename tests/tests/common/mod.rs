//! Helpers shared by the end-to-end tests: paths of the built binaries and
//! plugins, temporary projects, and DuckDB queries.

#![allow(dead_code)]

// The filesystem destination's tests own the SeaweedFS helper; test crates
// cannot depend on each other, so the file is included from there.
#[path = "../../../destination-filesystem/tests/common/s3.rs"]
pub mod s3;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::json;
use tempfile::TempDir;

/// Returns the names of the sub-folders of `folder`, sorted; none when it
/// does not exist.
pub fn folder_names(folder: &Path) -> Vec<String> {
    entry_names(folder, fs::FileType::is_dir)
}

/// Returns the names of the files in `folder`, sorted; none when it does not
/// exist.
pub fn file_names(folder: &Path) -> Vec<String> {
    entry_names(folder, fs::FileType::is_file)
}

fn entry_names(folder: &Path, kind: fn(&fs::FileType) -> bool) -> Vec<String> {
    let Ok(entries) = fs::read_dir(folder) else {
        return Vec::new();
    };
    let mut names: Vec<String> = entries
        .map(|entry| entry.unwrap())
        .filter(|entry| kind(&entry.file_type().unwrap()))
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// Returns the repository root.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

/// Returns the cargo profile folder (`target/debug`) of the running test binary,
/// where `cargo build --workspace --all-targets` puts `dlt` and the plugins.
pub fn profile_dir() -> PathBuf {
    let executable = std::env::current_exe().unwrap();
    // target/debug/deps/<test binary>
    executable.parent().unwrap().parent().unwrap().to_path_buf()
}

/// Returns the path of a built artefact, failing with the command that builds it.
pub fn built_file(name: &str) -> PathBuf {
    let path = profile_dir().join(name);
    assert!(
        path.is_file(),
        "`{}` is missing; run `cargo build --workspace --all-targets` (scripts/test.sh does) before the tests",
        path.display()
    );
    path
}

pub fn dlt_binary() -> PathBuf {
    built_file("dlt")
}

pub fn plugin_file(crate_stem: &str) -> PathBuf {
    built_file(&format!("{}{crate_stem}{}", std::env::consts::DLL_PREFIX, std::env::consts::DLL_SUFFIX))
}

/// A project folder with a `dlt.yml`, and its own dlt data folder.
pub struct TestProject {
    pub dir: TempDir,
}

impl TestProject {
    pub fn new(dlt_yml: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("dlt.yml"), dlt_yml).unwrap();
        fs::create_dir_all(dir.path().join("data")).unwrap();
        TestProject { dir }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("dltdata")
    }

    /// Copies a file of the example project's `data/` folder into this project's.
    pub fn add_example_data(&self, file_name: &str) {
        let source = repo_root().join("examples/countries_project/data").join(file_name);
        fs::copy(&source, self.path().join("data").join(file_name)).unwrap();
    }

    pub fn write_data(&self, file_name: &str, contents: &str) {
        fs::write(self.path().join("data").join(file_name), contents).unwrap();
    }

    /// Runs `dlt --project <dir> <args>` with this project's data folder.
    pub fn dlt(&self, args: &[&str]) -> Output {
        self.dlt_with_env(args, &[])
    }

    /// Runs `dlt` as [`TestProject::dlt`] does, with extra environment variables.
    pub fn dlt_with_env(&self, args: &[&str], env: &[(&str, &str)]) -> Output {
        self.dlt_command(args).envs(env.iter().copied()).output().unwrap()
    }

    /// Returns the command of `dlt --project <dir> <args>` with this
    /// project's data folder, for a caller that wires its pipes itself.
    pub fn dlt_command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(dlt_binary());
        command
            .arg("--project")
            .arg(self.path())
            .args(args)
            .env("DLT_DATA_DIR", self.data_dir())
            .env_remove("DLT_PLUGIN_DIR")
            .env_remove("RUST_LOG");
        command
    }

    pub fn duckdb(&self, file_name: &str) -> duckdb::Connection {
        duckdb::Connection::open(self.path().join(file_name)).unwrap()
    }
}

pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

pub fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// Asserts a successful exit and shows both streams otherwise.
pub fn assert_success(output: &Output) {
    assert!(
        output.status.success(),
        "dlt failed with {:?}\nstdout:\n{}\nstderr:\n{}",
        output.status.code(),
        stdout(output),
        stderr(output)
    );
}

pub fn count_rows(connection: &duckdb::Connection, table: &str) -> i64 {
    connection
        .query_row(&format!("SELECT count(*) FROM {table}"), [], |row| row.get(0))
        .unwrap()
}

/// Builds the JSON configuration a linked DuckDB destination gets from `dlt.yml`.
pub fn duckdb_config(database: &Path, pipeline_name: &str, folder: &Path) -> serde_json::Value {
    json!({
        "type": "duckdb",
        "credentials": database,
        "_runner": {
            "pipeline_name": pipeline_name,
            "project_dir": folder,
            "working_dir": folder.join("pipelines").join(pipeline_name),
        },
    })
}
