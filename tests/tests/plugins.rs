//! Loading plugin libraries: the DuckDB plugin, version and layout checks,
//! files that are not plugins, and panics inside a plugin.

mod common;

use std::fs;
use std::path::Path;
use std::process::Command;

use common::{count_rows, duckdb_config, plugin_file, profile_dir};
use runner_core::destination::DestinationHandle;
use runner_core::extract::{Resource, Source};
use runner_core::plugins::{PluginKind, PluginLoadError, PluginSearch, load_destination_library};
use runner_core::{Pipeline, PipelineOptions};
use serde_json::json;

#[test]
fn duckdb_plugin_loads_and_loads_rows() {
    let folder = tempfile::tempdir().unwrap();
    let library = load_destination_library(&plugin_file("destination_duckdb")).unwrap();
    assert_eq!(library.info().name, "duckdb");
    assert_eq!(library.info().abi_version, plugin_sdk::ABI_VERSION);

    let config = duckdb_config(&folder.path().join("plugin.duckdb"), "plugin_test", folder.path());
    let destination = DestinationHandle::from_library("warehouse", &library, &config).unwrap();
    let options = PipelineOptions::new("plugin_test").with_pipelines_dir(folder.path().join("pipelines"));
    let mut pipeline = Pipeline::new(options, destination).unwrap();
    let rows = (0..100).map(|id| json!({"id": id, "name": format!("n{id}")}));
    pipeline.run(Source::single(Resource::from_rows("numbers", rows))).unwrap();

    let connection = duckdb::Connection::open(folder.path().join("plugin.duckdb")).unwrap();
    assert_eq!(count_rows(&connection, "plugin_test_dataset.numbers"), 100);
}

#[test]
fn search_finds_plugin_next_to_executable() {
    let search = PluginSearch::from_folders(vec![profile_dir()]);
    let path = search.find(PluginKind::Destination, "duckdb").unwrap();
    assert!(path.ends_with(plugin_file("destination_duckdb").file_name().unwrap()));
}

#[test]
fn library_without_plugin_module_is_rejected() {
    // libduckdb.so is a real shared library that exports no plugin module.
    let path = profile_dir().join(format!("{}duckdb{}", std::env::consts::DLL_PREFIX, std::env::consts::DLL_SUFFIX));
    assert!(path.is_file(), "{} missing", path.display());

    let error = load_destination_library(&path).unwrap_err();

    assert!(matches!(error, PluginLoadError::NotAPlugin { .. }), "{error}");
    assert!(error.to_string().contains(&path.display().to_string()), "{error}");
}

#[test]
fn file_that_is_not_a_library_is_rejected() {
    let folder = tempfile::tempdir().unwrap();
    let path = folder.path().join("libdestination_fake.so");
    fs::write(&path, b"this is not an ELF file").unwrap();

    let error = load_destination_library(&path).unwrap_err();

    assert!(matches!(error, PluginLoadError::Open { .. }), "{error}");
    assert!(error.to_string().contains("libdestination_fake.so"), "{error}");
}

#[test]
fn retry_plugin_loaded_as_destination_is_rejected() {
    let error = load_destination_library(&plugin_file("retry_policies")).unwrap_err();
    assert!(matches!(error, PluginLoadError::IncompatibleLayout { .. }), "{error}");
}

#[test]
fn panic_in_plugin_becomes_internal_error() {
    let folder = tempfile::tempdir().unwrap();
    let library = load_destination_library(&plugin_file("destination_faulty")).unwrap();
    let mut config = duckdb_config(&folder.path().join("faulty.duckdb"), "panics", folder.path());
    config["panic_in_load"] = json!(true);
    let destination = DestinationHandle::from_library("faulty", &library, &config).unwrap();
    let options = PipelineOptions::new("panics").with_pipelines_dir(folder.path().join("pipelines"));
    let mut pipeline = Pipeline::new(options, destination).unwrap();

    let error = pipeline
        .run(Source::single(Resource::from_rows("rows", vec![json!({"a": 1})])))
        .unwrap_err();

    assert_eq!(error.category(), plugin_sdk::ErrorCategory::Internal, "{error}");
    assert!(error.to_string().contains("injected panic"), "{error}");
    assert!(pipeline.has_pending_data().unwrap(), "the package stays pending after a panic");
}

/// Builds a copy of the DuckDB-free fault plugin against a plugin-sdk whose
/// version is bumped to 0.99.0, and checks that the runner refuses it.
#[test]
fn plugin_built_for_other_abi_version_is_rejected() {
    let scratch = tempfile::tempdir().unwrap();
    let sdk = scratch.path().join("plugin-sdk");
    copy_dir(&common::repo_root().join("plugin-sdk"), &sdk);
    let manifest = fs::read_to_string(sdk.join("Cargo.toml")).unwrap();
    let manifest = pin_workspace_fields(&manifest, "0.99.0");
    fs::write(sdk.join("Cargo.toml"), manifest).unwrap();

    let plugin = scratch.path().join("old-plugin");
    fs::create_dir_all(plugin.join("src")).unwrap();
    fs::write(plugin.join("Cargo.toml"), fixture_manifest(&sdk)).unwrap();
    fs::write(plugin.join("src/lib.rs"), FIXTURE_SOURCE).unwrap();

    // A separate target folder keeps this build off the main build's lock.
    let target = profile_dir().parent().unwrap().join("abi-fixture");
    let status = Command::new(env!("CARGO"))
        .args(["build", "--offline", "--quiet", "--manifest-path"])
        .arg(plugin.join("Cargo.toml"))
        .env("CARGO_TARGET_DIR", &target)
        .status()
        .unwrap();
    assert!(status.success(), "building the fixture plugin failed");
    let library = target.join("debug").join(format!(
        "{}destination_old{}",
        std::env::consts::DLL_PREFIX,
        std::env::consts::DLL_SUFFIX
    ));

    let error = load_destination_library(&library).unwrap_err();

    let message = error.to_string();
    assert!(matches!(error, PluginLoadError::AbiVersionMismatch { .. }), "{message}");
    assert!(message.contains("0.99"), "{message}");
    assert!(message.contains(plugin_sdk::ABI_VERSION), "{message}");
    assert!(message.contains("destination_old"), "{message}");
}

fn copy_dir(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for entry in fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// Replaces the `workspace = true` entries of plugin-sdk's manifest with
/// explicit values, so the copy builds outside the workspace.
fn pin_workspace_fields(manifest: &str, version: &str) -> String {
    let workspace = fs::read_to_string(common::repo_root().join("Cargo.toml")).unwrap();
    let definition = |name: &str| {
        workspace
            .lines()
            .find(|line| line.starts_with(&format!("{name} = ")))
            .unwrap_or_else(|| panic!("no workspace dependency `{name}`"))
            .to_owned()
    };

    let mut lines = Vec::new();
    for line in manifest.lines() {
        let trimmed = line.trim();
        let inherited = trimmed
            .strip_suffix(".workspace = true")
            .or_else(|| trimmed.strip_suffix(" = { workspace = true }"));
        match inherited {
            Some("version") => lines.push(format!("version = \"{version}\"")),
            Some("edition") => lines.push("edition = \"2024\"".to_owned()),
            Some("rust-version" | "license") => {}
            Some(dependency) => lines.push(definition(dependency)),
            None => lines.push(line.to_owned()),
        }
    }
    lines.push("[workspace]".to_owned());
    lines.join("\n")
}

fn fixture_manifest(sdk: &Path) -> String {
    let workspace = fs::read_to_string(common::repo_root().join("Cargo.toml")).unwrap();
    let dependency = |name: &str| {
        workspace
            .lines()
            .find(|line| line.starts_with(&format!("{name} = ")))
            .unwrap()
            .to_owned()
    };
    format!(
        "[package]\nname = \"destination-old\"\nversion = \"0.1.0\"\nedition = \"2024\"\n\n\
         [lib]\ncrate-type = [\"cdylib\"]\n\n[dependencies]\nplugin-sdk = {{ path = \"{}\" }}\n{}\n{}\n\n[workspace]\n",
        sdk.display(),
        dependency("abi_stable"),
        dependency("serde_json"),
    )
}

const FIXTURE_SOURCE: &str = r#"
use plugin_sdk::protocol::{DestinationCapabilities, PluginInfo};
use plugin_sdk::{Destination, DestinationFactory, PluginError};

pub struct OldFactory;

impl DestinationFactory for OldFactory {
    fn info() -> PluginInfo {
        PluginInfo {
            name: "old".into(),
            version: "0.1.0".into(),
            abi_version: plugin_sdk::ABI_VERSION.into(),
            description: "built against another plugin-sdk version".into(),
        }
    }

    fn capabilities() -> DestinationCapabilities {
        DestinationCapabilities {
            preferred_loader_file_format: "parquet".into(),
            supported_loader_file_formats: vec!["parquet".into()],
            supported_write_dispositions: vec!["append".into()],
            max_identifier_length: None,
            atomic_packages: true,
        }
    }

    fn open(_config: &serde_json::Value) -> Result<Box<dyn Destination>, PluginError> {
        Err(PluginError::config("this fixture only exists to be refused"))
    }
}

plugin_sdk::export_destination_plugin!(OldFactory);
"#;
