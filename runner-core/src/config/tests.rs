//! Tests of `dlt.yml` loading, validation and resolution.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::*;
use crate::error::{ErrorCategory, Step};

/// The example project of the module documentation, with every key used.
const SAMPLE: &str = r#"sources:
  countries:
    type: files
    path: data/countries.json      # a file or a glob, relative to the project folder
    format: json
    table_name: countries
    write_disposition: append
    primary_key: cca3
    incremental: {cursor_path: updated_at, initial_value: "2024-01-01T00:00:00Z"}
    max_table_nesting: 2
destinations:
  warehouse:
    type: duckdb
    credentials: warehouse.duckdb
pipelines:
  countries_pipeline:
    source: countries
    destination: warehouse
    dataset_name: world
    run_config:
      store_trace_info: true
      run_from_clean_folder: false
      retry_policy: {type: backoff, max_attempts: 5, multiplier: 2, min: 1, max: 10}
      retry_pipeline_steps: ["load"]
"#;

/// A valid project of 11 lines; tests append keys to pipeline `p` from line 12.
const BASE: &str = "sources:
  s:
    type: files
    path: data/a.json
destinations:
  d:
    type: duckdb
pipelines:
  p:
    source: s
    destination: d
";

fn load(text: &str) -> Project {
    match Project::from_str(text, Path::new("dlt.yml")) {
        Ok(project) => project,
        Err(error) => panic!("expected a valid project, got:\n{error}"),
    }
}

fn error(text: &str) -> ConfigError {
    match Project::from_str(text, Path::new("dlt.yml")) {
        Ok(project) => panic!("expected an error, got {project:?}"),
        Err(error) => error,
    }
}

/// Returns the first line of the rendered error, without the snippet.
fn message(text: &str) -> String {
    error(text)
        .to_string()
        .lines()
        .next()
        .unwrap_or_default()
        .to_owned()
}

fn with_run_config(lines: &str) -> String {
    format!("{BASE}    run_config:\n{lines}")
}

fn environment(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(key, value)| (key.to_string(), value.to_string()))
        .collect()
}

fn files_source(project: &Project, name: &str) -> FilesSource {
    match &project.sources[name] {
        SourceConfig::Files(files) => files.clone(),
        other => panic!("expected a files source, got {other:?}"),
    }
}

// ---- the sample project ----

#[test]
fn sample_files_source() {
    let source = files_source(&load(SAMPLE), "countries");
    let expected = FilesSource {
        path: PathBuf::from("data/countries.json"),
        format: Some(FileFormat::Json),
        table_name: Some("countries".into()),
        write_disposition: WriteDisposition::Append,
        primary_key: vec!["cca3".into()],
        merge_key: Vec::new(),
        merge_strategy: None,
        incremental: Some(IncrementalConfig {
            cursor_path: "updated_at".into(),
            initial_value: Some(serde_json::json!("2024-01-01T00:00:00Z")),
        }),
        max_table_nesting: Some(2),
        schema_contract: None,
    };
    assert_eq!(source, expected);
}

#[test]
fn sample_destination() {
    let project = load(SAMPLE);
    let destination = &project.destinations["warehouse"];
    assert_eq!(destination.name, "warehouse");
    assert_eq!(destination.type_name, "duckdb");
    assert_eq!(
        destination.config,
        serde_json::json!({"type": "duckdb", "credentials": "warehouse.duckdb"})
    );
}

#[test]
fn sample_resolves() {
    let resolved = load(SAMPLE)
        .resolve_with_env("countries_pipeline", &BTreeMap::new())
        .unwrap();
    assert_eq!(resolved.source_name, "countries");
    assert_eq!(resolved.destination.name, "warehouse");
    assert_eq!(resolved.dataset_name, "world");
    assert_eq!(resolved.project_dir, PathBuf::from("."));
}

#[test]
fn sample_run_config() {
    let resolved = load(SAMPLE)
        .resolve_with_env("countries_pipeline", &BTreeMap::new())
        .unwrap();
    let expected = RunConfig {
        store_trace_info: TraceTarget::SamePipeline,
        max_trace_files: RunConfig::DEFAULT_MAX_TRACE_FILES,
        run_from_clean_folder: false,
        retry_policy: RetryPolicyConfig::Backoff {
            max_attempts: 5,
            multiplier: 2.0,
            min_seconds: 1.0,
            max_seconds: 10.0,
            jitter_seconds: 0.0,
        },
        retry_pipeline_steps: vec![Step::Load],
    };
    assert_eq!(resolved.run_config, expected);
}

#[test]
fn project_dir_is_file_folder() {
    let project = Project::from_str(BASE, Path::new("projects/one/dlt.yml")).unwrap();
    assert_eq!(project.dir, PathBuf::from("projects/one"));
}

// ---- defaults ----

#[test]
fn run_config_defaults() {
    let pipeline = load(BASE).pipeline("p").unwrap().clone();
    assert_eq!(pipeline.run_config.retry_policy, RetryPolicyConfig::None);
    assert_eq!(pipeline.run_config.retry_pipeline_steps, vec![Step::Load]);
    assert_eq!(pipeline.run_config.store_trace_info, TraceTarget::Off);
    assert_eq!(pipeline.run_config.max_trace_files, RunConfig::DEFAULT_MAX_TRACE_FILES);
    assert!(!pipeline.run_config.run_from_clean_folder);
}

#[test]
fn empty_run_config_is_default() {
    let project = load(&with_run_config(""));
    assert_eq!(project.pipelines["p"].run_config, RunConfig::default());
}

#[test]
fn dataset_name_default() {
    let resolved = load(BASE).resolve_with_env("p", &BTreeMap::new()).unwrap();
    assert_eq!(resolved.dataset_name, "p_dataset");
}

#[test]
fn none_policy_one_attempt() {
    assert_eq!(RetryPolicyConfig::None.max_attempts(), Some(1));
}

#[test]
fn fixed_defaults() {
    let project = load(&with_run_config("      retry_policy: {type: fixed}\n"));
    let expected = RetryPolicyConfig::Fixed {
        max_attempts: 3,
        delay_seconds: 0.0,
    };
    assert_eq!(project.pipelines["p"].run_config.retry_policy, expected);
}

#[test]
fn fixed_delay() {
    let project = load(&with_run_config(
        "      retry_policy: {type: fixed, max_attempts: 4, delay: 1.5}\n",
    ));
    let policy = &project.pipelines["p"].run_config.retry_policy;
    assert_eq!(policy.max_attempts(), Some(4));
    assert_eq!(policy.wait_seconds(2), Some(1.5));
}

#[test]
fn backoff_defaults() {
    let project = load(&with_run_config("      retry_policy: {type: backoff}\n"));
    let expected = RetryPolicyConfig::Backoff {
        max_attempts: 5,
        multiplier: 2.0,
        min_seconds: 4.0,
        max_seconds: 10.0,
        jitter_seconds: 0.0,
    };
    assert_eq!(project.pipelines["p"].run_config.retry_policy, expected);
}

#[test]
fn backoff_default_waits() {
    let project = load(&with_run_config("      retry_policy: {type: backoff}\n"));
    let policy = &project.pipelines["p"].run_config.retry_policy;
    let waits: Vec<_> = (1..=4)
        .map(|attempt| policy.wait_seconds(attempt).unwrap())
        .collect();
    assert_eq!(waits, vec![4.0, 4.0, 8.0, 10.0]);
}

#[test]
fn backoff_parameters_json() {
    let project = load(&with_run_config(
        "      retry_policy: {type: backoff, jitter: 0.5}\n",
    ));
    let parameters = project.pipelines["p"]
        .run_config
        .retry_policy
        .to_parameters();
    assert_eq!(
        parameters,
        serde_json::json!({"type": "backoff", "max_attempts": 5, "multiplier": 2.0, "min": 4.0, "max": 10.0, "jitter": 0.5})
    );
}

#[test]
fn custom_policy_passes_keys() {
    let project = load(&with_run_config(
        "      retry_policy: {type: my_policy, budget: 3, mode: fast}\n",
    ));
    let expected = RetryPolicyConfig::Custom {
        type_name: "my_policy".into(),
        parameters: serde_json::json!({"type": "my_policy", "budget": 3, "mode": "fast"}),
    };
    assert_eq!(project.pipelines["p"].run_config.retry_policy, expected);
}

#[test]
fn steps_parse_in_order() {
    let project = load(&with_run_config(
        "      retry_pipeline_steps: [sync, normalize, load]\n",
    ));
    let steps = &project.pipelines["p"].run_config.retry_pipeline_steps;
    assert_eq!(steps, &vec![Step::Sync, Step::Normalize, Step::Load]);
}

#[test]
fn format_from_extension() {
    let text = BASE.replace("data/a.json", "data/*.jsonl");
    let resolved = load(&text).resolve_with_env("p", &BTreeMap::new()).unwrap();
    let SourceConfig::Files(files) = resolved.source else {
        panic!("expected a files source");
    };
    assert_eq!(files.format, Some(FileFormat::Jsonl));
}

#[test]
fn primary_key_list() {
    let text = BASE.replace(
        "    path: data/a.json\n",
        "    path: data/a.json\n    primary_key: [id, day]\n",
    );
    assert_eq!(
        files_source(&load(&text), "s").primary_key,
        vec!["id", "day"]
    );
}

#[test]
fn plugin_source_passes_through() {
    let text = BASE.replace(
        "    type: files\n    path: data/a.json\n",
        "    type: rest_api\n    base_url: https://x\n",
    );
    let expected = SourceConfig::Plugin {
        type_name: "rest_api".into(),
        config: serde_json::json!({"type": "rest_api", "base_url": "https://x"}),
    };
    assert_eq!(load(&text).sources["s"], expected);
}

// ---- destinations ----

#[test]
fn singular_destination_section() {
    let text = BASE.replace("destinations:", "destination:");
    assert_eq!(load(&text).destinations["d"].type_name, "duckdb");
}

#[test]
fn both_destination_sections() {
    let text = format!(
        "{BASE}destination:\n  logs:\n    type: filesystem\n    bucket_url: file:///logs\n"
    );
    let names: Vec<_> = load(&text).destinations.keys().cloned().collect();
    assert_eq!(names, vec!["d", "logs"]);
}

#[test]
fn destination_name_collision() {
    let text = format!("{BASE}destination:\n  d:\n    type: filesystem\n");
    let message = message(&text);
    assert!(message.starts_with("dlt.yml:13:3: "), "{message}");
    assert!(
        message.contains("destination `d` is defined in both"),
        "{message}"
    );
    assert!(message.contains("first at line 6"), "{message}");
}

#[test]
fn bare_destination_type() {
    let text = BASE.replace("destination: d", "destination: duckdb");
    let resolved = load(&text).resolve_with_env("p", &BTreeMap::new()).unwrap();
    assert_eq!(resolved.destination, DestinationConfig::bare("duckdb"));
}

#[test]
fn builtin_name_without_type() {
    let text = BASE.replace(
        "  d:\n    type: duckdb\n",
        "  duckdb:\n    credentials: x.duckdb\n",
    );
    let text = text.replace("destination: d", "destination: duckdb");
    assert_eq!(load(&text).destinations["duckdb"].type_name, "duckdb");
}

#[test]
fn destination_debug_hides_values() {
    let text = BASE.replace(
        "    type: duckdb\n",
        "    type: duckdb\n    credentials: s3cr3t\n",
    );
    let debug = format!("{:?}", load(&text).destinations["d"]);
    assert!(!debug.contains("s3cr3t"), "{debug}");
}

// ---- trace pipelines ----

#[test]
fn trace_pipeline_resolves() {
    let text = format!(
        "{}    run_config:\n      store_trace_info: traces\n  traces:\n    source: s\n    destination: filesystem\n",
        BASE
    );
    let project = load(&text);
    let resolved = project.resolve_with_env("p", &BTreeMap::new()).unwrap();
    assert_eq!(
        resolved.run_config.store_trace_info,
        TraceTarget::Pipeline("traces".into())
    );

    let trace = project
        .resolve_with_env("traces", &BTreeMap::new())
        .unwrap();
    assert_eq!(trace.destination.type_name, "filesystem");
}

#[test]
fn trace_pipeline_unknown() {
    let message = message(&with_run_config(
        "      store_trace_info: tracez\n  traces:\n    source: s\n    destination: d\n",
    ));
    assert!(message.starts_with("dlt.yml:13:25: "), "{message}");
    assert!(
        message.contains("pipelines.p.run_config.store_trace_info names pipeline `tracez`"),
        "{message}"
    );
    assert!(message.contains("did you mean `traces`?"), "{message}");
}

#[test]
fn trace_pipeline_self() {
    let message = message(&with_run_config("      store_trace_info: p\n"));
    assert!(
        message.contains("invalid value `p` for pipelines.p.run_config.store_trace_info"),
        "{message}"
    );
    assert!(
        message.contains("cannot store its traces with itself"),
        "{message}"
    );
}

// ---- errors: structure ----

#[test]
fn unknown_key_hint() {
    let text = "pipelines:\n  p:\n    source: s\n    destnation: d\n";
    let message = message(text);
    assert_eq!(
        message,
        "dlt.yml:4:5: unknown key `destnation` in pipelines.p; did you mean `destination`?"
    );
}

#[test]
fn unknown_key_lists_valid_keys() {
    let message = message(&with_run_config(
        "      retry_policy: {type: fixed, min: 1}\n",
    ));
    assert!(
        message.contains("unknown key `min` in pipelines.p.run_config.retry_policy"),
        "{message}"
    );
    assert!(
        message.contains("valid keys are `type`, `max_attempts`, `delay`"),
        "{message}"
    );
}

#[test]
fn unknown_top_level_key() {
    let message = message(&format!("{BASE}pipeline:\n"));
    assert!(
        message.contains("unknown key `pipeline` in the top level"),
        "{message}"
    );
    assert!(message.contains("did you mean `pipelines`?"), "{message}");
}

#[test]
fn unsupported_top_level_key() {
    let message = message(&format!("profiles:\n  dev: {{}}\n{BASE}"));
    assert!(
        message.starts_with("dlt.yml:1:1: key `profiles`"),
        "{message}"
    );
    assert!(
        message.contains("not supported by this runner"),
        "{message}"
    );
}

#[test]
fn duplicate_key_rejected() {
    let message = message(&format!("{BASE}    source: s\n"));
    assert!(message.starts_with("dlt.yml:12:5: "), "{message}");
    assert!(
        message.contains("duplicate key `source` in pipelines.p"),
        "{message}"
    );
    assert!(message.contains("first appears at line 10"), "{message}");
}

#[test]
fn duplicate_top_level_section() {
    let message = message(&format!(
        "{BASE}sources:\n  t:\n    type: files\n    path: b.csv\n"
    ));
    assert!(
        message.contains("duplicate key `sources` in the top level"),
        "{message}"
    );
}

#[test]
fn duplicate_key_in_destination_has_no_snippet() {
    let text = BASE.replace(
        "    type: duckdb\n",
        "    type: duckdb\n    password: hunter2\n    password: hunter3\n",
    );
    let rendered = error(&text).to_string();
    assert!(
        rendered.contains("duplicate key `password` in destinations.d"),
        "{rendered}"
    );
    assert!(!rendered.contains("hunter"), "{rendered}");
}

#[test]
fn tab_indentation() {
    let text = BASE.replace("    source: s", "\tsource: s");
    let message = message(&text);
    assert!(
        message.starts_with("dlt.yml:10:1: tab character in indentation"),
        "{message}"
    );
    assert!(message.contains("replace the tab with spaces"), "{message}");
}

#[test]
fn invalid_yaml_syntax() {
    let message = message("pipelines: [a, b\n");
    assert!(message.starts_with("dlt.yml:"), "{message}");
    assert!(message.contains("invalid YAML"), "{message}");
}

#[test]
fn string_where_mapping_belongs() {
    let message = message(&with_run_config("      retry_policy: backoff\n"));
    assert_eq!(
        message,
        "dlt.yml:13:21: invalid type for pipelines.p.run_config.retry_policy: expected a mapping such as \
         `{type: backoff, max_attempts: 5}`, found string `backoff`"
    );
}

#[test]
fn run_config_wrong_type() {
    let message = message(&format!("{BASE}    run_config: fast\n"));
    assert!(
        message.contains(
            "invalid type for pipelines.p.run_config: expected a mapping, found string `fast`"
        ),
        "{message}"
    );
}

#[test]
fn top_level_list_rejected() {
    let message = message("- a\n- b\n");
    assert!(
        message.contains("invalid type for the top level"),
        "{message}"
    );
}

#[test]
fn missing_pipeline_source() {
    let message = message("pipelines:\n  p:\n    destination: duckdb\n");
    assert_eq!(
        message,
        "dlt.yml:2:3: missing key `source` in pipelines.p: add `source:` with the name of an entry in sources"
    );
}

#[test]
fn missing_source_type() {
    let message = message(&BASE.replace("    type: files\n", ""));
    assert!(
        message.starts_with("dlt.yml:2:3: missing key `type` in sources.s"),
        "{message}"
    );
}

#[test]
fn destination_without_type() {
    let message = message(&BASE.replace("    type: duckdb\n", "    credentials: x\n"));
    assert!(
        message.contains("missing key `type` in destinations.d"),
        "{message}"
    );
}

#[test]
fn snippet_points_at_column() {
    let rendered = error(&with_run_config(
        "      retry_policy: {type: fixed, max_attempts: 0}\n",
    ))
    .to_string();
    let lines: Vec<&str> = rendered.lines().collect();
    assert_eq!(
        lines[2],
        "13 |       retry_policy: {type: fixed, max_attempts: 0}"
    );
    assert_eq!(
        lines[3],
        "   |                                                 ^"
    );
}

#[test]
fn error_converts_to_config_category() {
    let config_error = error("pipelines: 1\n");
    let text = config_error.to_string();
    let engine_error: crate::Error = config_error.into();
    assert_eq!(engine_error.category(), ErrorCategory::Config);
    assert_eq!(engine_error.to_string(), text);
}

// ---- errors: references ----

#[test]
fn undefined_source() {
    let message = message(&BASE.replace("source: s", "source: z"));
    assert!(message.starts_with("dlt.yml:10:13: "), "{message}");
    assert!(
        message.contains("pipelines.p.source names source `z`"),
        "{message}"
    );
    assert!(message.contains("defined sources: `s`"), "{message}");
}

#[test]
fn undefined_destination_hint() {
    let message = message(&BASE.replace("destination: d", "destination: duckbd"));
    assert!(
        message.contains("pipelines.p.destination names destination `duckbd`"),
        "{message}"
    );
    assert!(
        message.contains("not a built-in destination type"),
        "{message}"
    );
    assert!(message.contains("did you mean `duckdb`?"), "{message}");
}

#[test]
fn pipeline_name_with_slash() {
    let message = message(&BASE.replace("  p:\n", "  a/b:\n"));
    assert!(
        message.starts_with("dlt.yml:9:3: invalid value `a/b` for pipelines"),
        "{message}"
    );
}

#[test]
fn unknown_pipeline_lookup() {
    let project = load(&BASE.replace("  p:\n", "  countries:\n"));
    let message = project.pipeline("countrie").unwrap_err().to_string();
    assert_eq!(
        message,
        "dlt.yml: pipeline `countrie` is not defined in the project file; defined pipelines: `countries`; \
         did you mean `countries`?"
    );
}

// ---- errors: values ----

#[test]
fn max_attempts_zero() {
    let message = message(&with_run_config(
        "      retry_policy:\n        type: fixed\n        max_attempts: 0\n",
    ));
    assert_eq!(
        message,
        "dlt.yml:15:23: invalid value 0 for pipelines.p.run_config.retry_policy.max_attempts: \
         must be at least 1, the first attempt included"
    );
}

#[test]
fn max_attempts_float() {
    let message = message(&with_run_config(
        "      retry_policy: {type: backoff, max_attempts: 2.5}\n",
    ));
    assert!(
        message.contains("invalid value 2.5 for pipelines.p.run_config.retry_policy.max_attempts"),
        "{message}"
    );
}

#[test]
fn negative_min_wait() {
    let message = message(&with_run_config(
        "      retry_policy: {type: backoff, min: -1}\n",
    ));
    assert!(
        message.contains("invalid value -1 for pipelines.p.run_config.retry_policy.min"),
        "{message}"
    );
    assert!(message.contains("must be 0 or more seconds"), "{message}");
}

#[test]
fn negative_delay() {
    let message = message(&with_run_config(
        "      retry_policy: {type: fixed, delay: -2}\n",
    ));
    assert!(
        message.contains("invalid value -2 for pipelines.p.run_config.retry_policy.delay"),
        "{message}"
    );
}

#[test]
fn min_above_max() {
    let message = message(&with_run_config(
        "      retry_policy: {type: backoff, min: 20, max: 10}\n",
    ));
    assert!(
        message.contains("invalid value 20 for pipelines.p.run_config.retry_policy.min"),
        "{message}"
    );
    assert!(message.contains("must not exceed max (10 s)"), "{message}");
}

#[test]
fn max_below_default_min() {
    let message = message(&with_run_config(
        "      retry_policy: {type: backoff, max: 2}\n",
    ));
    assert!(
        message.contains("invalid value 2 for pipelines.p.run_config.retry_policy.max"),
        "{message}"
    );
}

#[test]
fn policy_without_type() {
    let message = message(&with_run_config("      retry_policy: {max_attempts: 4}\n"));
    assert!(
        message.contains("missing key `type` in pipelines.p.run_config.retry_policy"),
        "{message}"
    );
}

#[test]
fn none_policy_takes_no_keys() {
    let message = message(&with_run_config(
        "      retry_policy: {type: none, max_attempts: 2}\n",
    ));
    assert!(message.contains("unknown key `max_attempts`"), "{message}");
}

#[test]
fn step_outside_set() {
    let message = message(&with_run_config(
        "      retry_pipeline_steps: [load, lod]\n",
    ));
    assert!(
        message.contains("invalid value `lod` for pipelines.p.run_config.retry_pipeline_steps[1]"),
        "{message}"
    );
    assert!(
        message.contains("must be one of `sync`, `extract`, `normalize`, `load`"),
        "{message}"
    );
}

#[test]
fn step_empty_string() {
    let message = message(&with_run_config("      retry_pipeline_steps: [\"\"]\n"));
    assert!(
        message.contains("invalid value `` for pipelines.p.run_config.retry_pipeline_steps[0]"),
        "{message}"
    );
}

#[test]
fn step_run_explained() {
    let message = message(&with_run_config("      retry_pipeline_steps: [run]\n"));
    assert!(message.contains("never matches"), "{message}");
}

#[test]
fn step_listed_twice() {
    let message = message(&with_run_config(
        "      retry_pipeline_steps: [load, load]\n",
    ));
    assert!(message.contains("retry_pipeline_steps[1]"), "{message}");
    assert!(message.contains("listed twice"), "{message}");
}

#[test]
fn steps_not_a_list() {
    let message = message(&with_run_config("      retry_pipeline_steps: load\n"));
    assert!(
        message.contains("invalid type for pipelines.p.run_config.retry_pipeline_steps"),
        "{message}"
    );
}

#[test]
fn max_trace_files_is_read() {
    let project = load(&with_run_config("      max_trace_files: 5\n"));
    assert_eq!(project.pipeline("p").unwrap().run_config.max_trace_files, 5);
}

#[test]
fn max_trace_files_zero_rejected() {
    let message = message(&with_run_config("      max_trace_files: 0\n"));
    assert!(
        message.contains("invalid value 0 for pipelines.p.run_config.max_trace_files"),
        "{message}"
    );
}

#[test]
fn max_trace_files_wrong_type() {
    let message = message(&with_run_config("      max_trace_files: many\n"));
    assert!(
        message.contains("invalid type for pipelines.p.run_config.max_trace_files"),
        "{message}"
    );
}

#[test]
fn trace_info_wrong_type() {
    let message = message(&with_run_config("      store_trace_info: 3\n"));
    assert!(
        message.contains("expected `true`, `false` or the name of a pipeline"),
        "{message}"
    );
}

#[test]
fn clean_folder_wrong_type() {
    let message = message(&with_run_config("      run_from_clean_folder: \"yes\"\n"));
    assert!(
        message.contains("invalid type for pipelines.p.run_config.run_from_clean_folder"),
        "{message}"
    );
}

#[test]
fn unknown_format() {
    let message = message(&BASE.replace(
        "    path: data/a.json\n",
        "    path: data/a.json\n    format: xml\n",
    ));
    assert!(
        message.contains("invalid value `xml` for sources.s.format"),
        "{message}"
    );
}

#[test]
fn format_not_inferable() {
    let message = message(&BASE.replace("data/a.json", "data/*"));
    assert!(
        message.contains("invalid value `data/*` for sources.s.path"),
        "{message}"
    );
    assert!(message.contains("add `format:`"), "{message}");
}

#[test]
fn merge_needs_primary_key() {
    let message = message(&BASE.replace(
        "    path: data/a.json\n",
        "    path: data/a.json\n    write_disposition: merge\n",
    ));
    assert!(message.contains("merge needs `primary_key`"), "{message}");
}

#[test]
fn merge_key_allows_merge() {
    let text = BASE.replace(
        "    path: data/a.json\n",
        "    path: data/a.json\n    write_disposition: merge\n    merge_key: [day]\n",
    );
    assert_eq!(files_source(&load(&text), "s").merge_key, ["day"]);
}

#[test]
fn merge_strategy_upsert_read() {
    let text = BASE.replace(
        "    path: data/a.json\n",
        "    path: data/a.json\n    write_disposition: merge\n    primary_key: id\n    merge_strategy: upsert\n",
    );
    assert_eq!(
        files_source(&load(&text), "s").merge_strategy,
        Some(MergeStrategy::Upsert)
    );
}

#[test]
fn upsert_needs_primary_key() {
    let message = message(&BASE.replace(
        "    path: data/a.json\n",
        "    path: data/a.json\n    write_disposition: merge\n    merge_key: day\n    merge_strategy: upsert\n",
    ));
    assert!(message.contains("upsert needs `primary_key`"), "{message}");
}

#[test]
fn unknown_merge_strategy_rejected() {
    let message = message(&BASE.replace(
        "    path: data/a.json\n",
        "    path: data/a.json\n    write_disposition: merge\n    primary_key: id\n    merge_strategy: scd2\n",
    ));
    assert!(message.contains("merge_strategy"), "{message}");
}

#[test]
fn negative_table_nesting() {
    let message = message(&BASE.replace(
        "    path: data/a.json\n",
        "    path: data/a.json\n    max_table_nesting: -1\n",
    ));
    assert!(
        message.contains("invalid value -1 for sources.s.max_table_nesting"),
        "{message}"
    );
}

#[test]
fn incremental_needs_cursor() {
    let message = message(&BASE.replace(
        "    path: data/a.json\n",
        "    path: data/a.json\n    incremental: {initial_value: 1}\n",
    ));
    assert!(
        message.contains("missing key `cursor_path` in sources.s.incremental"),
        "{message}"
    );
}

// ---- environment variables ----

#[test]
fn env_reference_replaced() {
    let text = BASE.replace(
        "    type: duckdb\n",
        "    type: duckdb\n    credentials: ${DB_FILE}\n",
    );
    let resolved = load(&text)
        .resolve_with_env("p", &environment(&[("DB_FILE", "/data/w.duckdb")]))
        .unwrap();
    assert_eq!(resolved.destination.config["credentials"], "/data/w.duckdb");
}

#[test]
fn env_reference_missing() {
    let text = BASE.replace(
        "    type: duckdb\n",
        "    type: duckdb\n    credentials: {password: \"${DB_PASSWORD}\"}\n",
    );
    let message = load(&text)
        .resolve_with_env("p", &BTreeMap::new())
        .unwrap_err()
        .to_string();
    assert_eq!(
        message,
        "dlt.yml: environment variable `DB_PASSWORD` for destinations.d.credentials.password is not set; \
         set it, or write the value in dlt.yml"
    );
}

#[test]
fn env_partial_reference_kept() {
    let text = BASE.replace(
        "    type: duckdb\n",
        "    type: duckdb\n    note: cost ${x} total\n",
    );
    let resolved = load(&text).resolve_with_env("p", &BTreeMap::new()).unwrap();
    assert_eq!(resolved.destination.config["note"], "cost ${x} total");
}

#[test]
fn env_credentials_override() {
    let env = environment(&[("DESTINATIONS__D__CREDENTIALS", "/secret/w.duckdb")]);
    let resolved = load(SAMPLE.replace("warehouse", "d").as_str())
        .resolve_with_env("countries_pipeline", &env)
        .unwrap();
    assert_eq!(
        resolved.destination.config["credentials"],
        "/secret/w.duckdb"
    );
}

#[test]
fn env_singular_prefix() {
    let env = environment(&[("DESTINATION__D__CREDENTIALS", "a.duckdb")]);
    let resolved = load(BASE).resolve_with_env("p", &env).unwrap();
    assert_eq!(resolved.destination.config["credentials"], "a.duckdb");
}

#[test]
fn env_plural_wins() {
    let env = environment(&[
        ("DESTINATION__D__CREDENTIALS", "singular.duckdb"),
        ("DESTINATIONS__D__CREDENTIALS", "plural.duckdb"),
    ]);
    let resolved = load(BASE).resolve_with_env("p", &env).unwrap();
    assert_eq!(resolved.destination.config["credentials"], "plural.duckdb");
}

#[test]
fn env_bare_type_destination() {
    let text = BASE.replace("destination: d", "destination: duckdb");
    let env = environment(&[("DESTINATIONS__DUCKDB__CREDENTIALS", "bare.duckdb")]);
    let resolved = load(&text).resolve_with_env("p", &env).unwrap();
    assert_eq!(resolved.destination.config["credentials"], "bare.duckdb");
}

#[test]
fn env_per_field_credentials() {
    let env = environment(&[
        ("DESTINATIONS__D__CREDENTIALS__HOST", "127.0.0.1"),
        ("DESTINATIONS__D__CREDENTIALS__PASSWORD", "Zq7-canary-9150"),
    ]);
    let resolved = load(BASE).resolve_with_env("p", &env).unwrap();
    assert_eq!(
        resolved.destination.config["credentials"],
        serde_json::json!({"host": "127.0.0.1", "password": "Zq7-canary-9150"})
    );
}

#[test]
fn env_file_format_override() {
    let env = environment(&[("DESTINATION__D__LOADER_FILE_FORMAT", "jsonl")]);
    let resolved = load(BASE).resolve_with_env("p", &env).unwrap();
    assert_eq!(resolved.destination.config["loader_file_format"], "jsonl");
}

#[test]
fn env_disable_compression() {
    let resolved = load(BASE).resolve_with_env("p", &environment(&[])).unwrap();
    assert!(!resolved.disable_compression);

    let env = environment(&[
        ("NORMALIZE__DATA_WRITER__DISABLE_COMPRESSION", "True"),
        ("DATA_WRITER__DISABLE_COMPRESSION", "false"),
    ]);
    assert!(load(BASE).resolve_with_env("p", &env).unwrap().disable_compression);

    let env = environment(&[("DATA_WRITER__DISABLE_COMPRESSION", "1")]);
    assert!(load(BASE).resolve_with_env("p", &env).unwrap().disable_compression);
}

#[test]
fn env_disable_compression_invalid() {
    let env = environment(&[("DATA_WRITER__DISABLE_COMPRESSION", "sometimes")]);
    let error = load(BASE).resolve_with_env("p", &env).unwrap_err();
    let message = error.to_string();
    assert!(message.contains("DATA_WRITER__DISABLE_COMPRESSION"), "{message}");
    assert!(message.contains("true or false"), "{message}");
    assert!(!message.contains("sometimes"), "{message}");
}

#[test]
fn env_override_skips_reference() {
    let text = BASE.replace(
        "    type: duckdb\n",
        "    type: duckdb\n    credentials: ${UNSET_VARIABLE}\n",
    );
    let env = environment(&[("DESTINATIONS__D__CREDENTIALS", "given.duckdb")]);
    let resolved = load(&text).resolve_with_env("p", &env).unwrap();
    assert_eq!(resolved.destination.config["credentials"], "given.duckdb");
}

#[test]
fn env_json_credentials() {
    let env = environment(&[(
        "DESTINATIONS__D__CREDENTIALS",
        r#"{"database": "w.duckdb"}"#,
    )]);
    let resolved = load(BASE).resolve_with_env("p", &env).unwrap();
    assert_eq!(
        resolved.destination.config["credentials"],
        serde_json::json!({"database": "w.duckdb"})
    );
}

#[test]
fn env_invalid_json_hides_value() {
    let env = environment(&[("DESTINATIONS__D__CREDENTIALS", "{password: Zq7-canary-9150")]);
    let message = load(BASE)
        .resolve_with_env("p", &env)
        .unwrap_err()
        .to_string();
    assert!(
        message.contains("`DESTINATIONS__D__CREDENTIALS`"),
        "{message}"
    );
    assert!(!message.contains("Zq7-canary-9150"), "{message}");
}

#[test]
fn env_field_of_string_rejected() {
    let text = BASE.replace(
        "    type: duckdb\n",
        "    type: duckdb\n    credentials: w.duckdb\n",
    );
    let env = environment(&[("DESTINATIONS__D__CREDENTIALS__PASSWORD", "Zq7-canary-9150")]);
    let message = load(&text)
        .resolve_with_env("p", &env)
        .unwrap_err()
        .to_string();
    assert!(
        message.contains("`DESTINATIONS__D__CREDENTIALS__PASSWORD`"),
        "{message}"
    );
    assert!(
        message.contains("destinations.d.credentials is not a mapping"),
        "{message}"
    );
    assert!(!message.contains("Zq7-canary-9150"), "{message}");
}

#[test]
fn env_type_override_rejected() {
    let env = environment(&[("DESTINATIONS__D__TYPE", "filesystem")]);
    let message = load(BASE)
        .resolve_with_env("p", &env)
        .unwrap_err()
        .to_string();
    assert!(
        message.contains("cannot set destinations.d.type"),
        "{message}"
    );
}

// ---- files on disk ----

#[test]
fn load_from_folder() {
    let folder = tempfile::tempdir().unwrap();
    std::fs::write(folder.path().join("dlt.yml"), BASE).unwrap();
    let project = Project::load(folder.path()).unwrap();
    assert_eq!(project.file, folder.path().join("dlt.yml"));
    assert_eq!(project.dir, folder.path());
}

#[test]
fn load_missing_file() {
    let folder = tempfile::tempdir().unwrap();
    let error = Project::load(folder.path()).unwrap_err();
    assert!(
        matches!(*error.kind, ConfigErrorKind::Read { .. }),
        "{error}"
    );
    assert!(
        error
            .to_string()
            .contains("dlt.yml: cannot read the project file"),
        "{error}"
    );
}
