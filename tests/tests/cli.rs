//! The `dlt` binary on real projects, loading through the DuckDB plugin.

mod common;

use std::collections::BTreeMap;

use common::{TestProject, assert_success, count_rows, file_names, folder_names, stderr, stdout};
use serde_json::Value;

const COUNTRIES_YML: &str = "\
sources:
  countries:
    type: files
    path: data/countries.json
    format: json
    table_name: countries
    write_disposition: append
destinations:
  warehouse:
    type: duckdb
    credentials: warehouse.duckdb
pipelines:
  countries_pipeline:
    source: countries
    destination: warehouse
    dataset_name: world
";

/// (column name, DuckDB type, nullable) in table order.
type Columns = Vec<(String, String, String)>;

fn oracle() -> Value {
    let path = common::repo_root().join("tests/oracle/countries_expected.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn oracle_tables() -> BTreeMap<String, (Columns, i64)> {
    let oracle = oracle();
    let mut tables = BTreeMap::new();
    for (name, table) in oracle["duckdb_tables"].as_object().unwrap() {
        let columns = table["columns"]
            .as_array()
            .unwrap()
            .iter()
            .map(|column| {
                (
                    column["name"].as_str().unwrap().to_owned(),
                    column["data_type"].as_str().unwrap().to_owned(),
                    column["is_nullable"].as_str().unwrap().to_owned(),
                )
            })
            .collect();
        tables.insert(name.clone(), (columns, table["row_count"].as_i64().unwrap()));
    }
    tables
}

fn loaded_tables(connection: &duckdb::Connection, dataset: &str) -> BTreeMap<String, (Columns, i64)> {
    let mut statement = connection
        .prepare(
            "SELECT table_name, column_name, data_type, is_nullable FROM information_schema.columns \
             WHERE table_schema = ? ORDER BY table_name, ordinal_position",
        )
        .unwrap();
    let rows = statement
        .query_map([dataset], |row| {
            Ok((
                row.get::<_, String>(0)?,
                row.get::<_, String>(1)?,
                row.get::<_, String>(2)?,
                row.get::<_, String>(3)?,
            ))
        })
        .unwrap();

    let mut tables: BTreeMap<String, (Columns, i64)> = BTreeMap::new();
    for row in rows {
        let (table, column, data_type, nullable) = row.unwrap();
        tables.entry(table).or_default().0.push((column, data_type, nullable));
    }
    for (table, (_, count)) in tables.iter_mut() {
        *count = count_rows(connection, &format!("{dataset}.\"{table}\""));
    }
    tables
}

#[test]
fn countries_match_python_dlt() {
    let project = TestProject::new(COUNTRIES_YML);
    project.add_example_data("countries.json");

    let output = project.dlt(&["pipeline", "countries_pipeline", "run"]);
    assert_success(&output);

    let expected = oracle_tables();
    let loaded = loaded_tables(&project.duckdb("warehouse.duckdb"), "world");
    assert_eq!(
        loaded.keys().collect::<Vec<_>>(),
        expected.keys().collect::<Vec<_>>(),
        "table names differ"
    );
    for (table, (expected_columns, expected_rows)) in &expected {
        let (columns, rows) = &loaded[table];
        assert_eq!(rows, expected_rows, "row count of `{table}`");
        let names: Vec<&String> = columns.iter().map(|c| &c.0).collect();
        let expected_names: Vec<&String> = expected_columns.iter().map(|c| &c.0).collect();
        assert_eq!(names, expected_names, "column names and order of `{table}`");
        assert_eq!(columns, expected_columns, "column types or nullability of `{table}`");
    }
}

#[test]
fn run_prints_summary() {
    let project = TestProject::new(COUNTRIES_YML);
    project.add_example_data("countries.json");

    let output = project.dlt(&["pipeline", "countries_pipeline", "run"]);
    assert_success(&output);

    let summary = stdout(&output);
    assert!(summary.contains("countries_pipeline"), "{summary}");
    assert!(summary.contains("countries"), "{summary}");
    assert!(summary.contains("250 rows"), "{summary}");
}

#[test]
fn closed_stdout_does_not_fail_run() {
    let project = TestProject::new(COUNTRIES_YML);
    project.add_example_data("countries.json");

    // The reader of standard output goes away before the summary is printed.
    let mut child = project
        .dlt_command(&["pipeline", "countries_pipeline", "run"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let output = child.wait_with_output().unwrap();

    assert_success(&output);
    assert!(!stderr(&output).contains("panicked"), "{}", stderr(&output));
    let connection = project.duckdb("warehouse.duckdb");
    assert_eq!(count_rows(&connection, "world.countries"), 250);
}

// `/dev/full` fails every write with "No space left on device".
#[cfg(target_os = "linux")]
#[test]
fn full_stdout_warns_once() {
    let project = TestProject::new(COUNTRIES_YML);
    project.add_example_data("countries.json");
    let full = std::fs::OpenOptions::new().write(true).open("/dev/full").expect("open /dev/full");

    let output = project
        .dlt_command(&["pipeline", "countries_pipeline", "run"])
        .stdout(full)
        .output()
        .unwrap();

    assert_success(&output);
    let warnings = stderr(&output).matches("failed to write the report").count();
    assert_eq!(warnings, 1, "{}", stderr(&output));
}

#[test]
fn append_twice_doubles_rows() {
    let project = TestProject::new(COUNTRIES_YML);
    project.add_example_data("countries.json");

    assert_success(&project.dlt(&["pipeline", "countries_pipeline", "run"]));
    assert_success(&project.dlt(&["pipeline", "countries_pipeline", "run"]));

    let connection = project.duckdb("warehouse.duckdb");
    assert_eq!(count_rows(&connection, "world.countries"), 500);
    assert_eq!(count_rows(&connection, "world._dlt_loads"), 2);
}

#[test]
fn unknown_key_names_line_and_hint() {
    let yml = COUNTRIES_YML.replace("    destination: warehouse\n", "    destnation: warehouse\n");
    let project = TestProject::new(&yml);

    let output = project.dlt(&["pipeline", "countries_pipeline", "run"]);

    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    let message = stderr(&output);
    assert!(message.contains("destnation"), "{message}");
    assert!(message.contains("15"), "line number missing: {message}");
    assert!(message.contains("destination"), "hint missing: {message}");
    assert!(!project.data_dir().exists(), "a config error must create nothing");
}

#[test]
fn missing_plugin_lists_searched_folders() {
    let yml = COUNTRIES_YML.replace("type: duckdb", "type: nosuchdb");
    let project = TestProject::new(&yml);
    project.add_example_data("countries.json");

    let output = project.dlt(&["pipeline", "countries_pipeline", "run"]);

    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    let message = stderr(&output);
    assert!(message.contains("destination_nosuchdb"), "{message}");
    assert!(message.contains(&project.path().join("plugins").display().to_string()), "{message}");
    assert!(message.contains(&common::profile_dir().display().to_string()), "{message}");
    assert!(message.contains("Available destination plugins: duckdb, "), "{message}");
}

#[test]
fn misspelt_destination_type_suggested() {
    let project = TestProject::new(&COUNTRIES_YML.replace("type: duckdb", "type: duckbd"));
    project.add_example_data("countries.json");

    let output = project.dlt(&["pipeline", "countries_pipeline", "run"]);

    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert!(stderr(&output).contains("Did you mean `duckdb`?"), "{}", stderr(&output));
}

#[test]
fn missing_input_file_is_config_error() {
    let project = TestProject::new(COUNTRIES_YML);

    let output = project.dlt(&["pipeline", "countries_pipeline", "run"]);

    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert!(stderr(&output).contains("countries.json"), "{}", stderr(&output));
}

#[test]
fn data_file_as_database_rejected() {
    for input in ["countries.json", "rows.csv", "rows.parquet"] {
        let project = TestProject::new(&COUNTRIES_YML.replace("credentials: warehouse.duckdb", &format!("credentials: data/{input}")));
        project.add_example_data("countries.json");
        project.write_data("rows.csv", "a\n1\n");
        let parquet = project.path().join("data/rows.parquet");
        let copy = format!("COPY (SELECT 1 AS a) TO '{}' (FORMAT parquet)", parquet.display());
        duckdb::Connection::open_in_memory().unwrap().execute_batch(&copy).unwrap();
        let before = std::fs::read(project.path().join("data").join(input)).unwrap();

        let output = project.dlt(&["pipeline", "countries_pipeline", "run"]);

        assert_eq!(output.status.code(), Some(2), "{input}: {}", stderr(&output));
        assert!(stderr(&output).contains("is not a DuckDB database"), "{input}: {}", stderr(&output));
        assert_eq!(std::fs::read(project.path().join("data").join(input)).unwrap(), before, "{input} changed");
        assert!(!project.path().join("data").join(format!("{input}.tmp")).exists(), "spill folder of {input} left");
    }
}

#[test]
fn same_pipeline_name_in_two_projects() {
    let yml = "sources:
  events:
    type: files
    path: data/events.jsonl
    table_name: events
    incremental:
      cursor_path: id
destinations:
  warehouse:
    type: duckdb
    credentials: warehouse.duckdb
pipelines:
  p:
    source: events
    destination: warehouse
    dataset_name: ds
";
    let first = TestProject::new(yml);
    first.write_data("events.jsonl", "{\"id\": 1}\n{\"id\": 2}\n{\"id\": 3}\n");
    let second = TestProject::new(yml);
    second.write_data("events.jsonl", "{\"id\": 1}\n{\"id\": 2}\n");

    for project in [&first, &second] {
        let output = project.dlt_command(&["pipeline", "p", "run"]).env_remove("DLT_DATA_DIR").output().unwrap();
        assert_success(&output);
    }

    assert_eq!(count_rows(&first.duckdb("warehouse.duckdb"), "ds.events"), 3);
    assert_eq!(count_rows(&second.duckdb("warehouse.duckdb"), "ds.events"), 2, "the first project's cursor leaked");
    for project in [&first, &second] {
        assert!(project.path().join("_data/dev/pipelines/p/state.json").is_file());
    }
}

#[test]
fn secrets_toml_sets_credentials() {
    let project = TestProject::new(&COUNTRIES_YML.replace("    credentials: warehouse.duckdb\n", ""));
    project.add_example_data("countries.json");
    std::fs::create_dir_all(project.path().join(".dlt")).unwrap();
    let secrets = "[destination.warehouse]\ncredentials = \"from_secrets.duckdb\"\n";
    std::fs::write(project.path().join(".dlt/secrets.toml"), secrets).unwrap();
    std::fs::write(project.path().join(".dlt/config.toml"), "[runtime]\nlog_level = \"INFO\"\n").unwrap();

    let output = project.dlt(&["pipeline", "countries_pipeline", "run"]);

    assert_success(&output);
    assert_eq!(count_rows(&project.duckdb("from_secrets.duckdb"), "world.countries"), 250);
    assert!(stderr(&output).contains("section is not read"), "{}", stderr(&output));
    assert!(!stderr(&output).contains("names no destination"), "{}", stderr(&output));

    let misspelt = "[destination.warehous]\ncredentials = \"typo.duckdb\"\n";
    std::fs::write(project.path().join(".dlt/secrets.toml"), format!("{secrets}{misspelt}")).unwrap();
    let output = project.dlt(&["pipeline", "countries_pipeline", "info"]);
    assert!(stderr(&output).contains("names no destination of dlt.yml"), "{}", stderr(&output));
    assert!(stderr(&output).contains("destination.warehous"), "{}", stderr(&output));
    std::fs::write(project.path().join(".dlt/secrets.toml"), secrets).unwrap();

    let output = project.dlt_with_env(
        &["pipeline", "countries_pipeline", "run"],
        &[("DESTINATION__WAREHOUSE__CREDENTIALS", "from_env.duckdb")],
    );
    assert_success(&output);
    assert_eq!(count_rows(&project.duckdb("from_env.duckdb"), "world.countries"), 250, "the environment wins");
}

#[test]
fn trace_lists_first_new_columns() {
    let project = TestProject::new(COUNTRIES_YML);
    project.add_example_data("countries.json");
    assert_success(&project.dlt(&["pipeline", "countries_pipeline", "run"]));

    let output = project.dlt(&["pipeline", "countries_pipeline", "trace"]);

    assert_success(&output);
    let text = stdout(&output);
    assert_eq!(text.matches("      new column ").count(), 20, "{text}");
    assert!(text.contains("more new columns (all of them: `trace --json`)"), "{text}");
}

#[test]
fn info_reads_working_dir() {
    let yml = COUNTRIES_YML.replace("    write_disposition: append\n", "    write_disposition: append\n    incremental:\n      cursor_path: ccn3\n");
    let project = TestProject::new(&yml);
    project.add_example_data("countries.json");

    let before = project.dlt(&["pipeline", "countries_pipeline", "info"]);

    assert_success(&before);
    assert!(stdout(&before).contains("(not created yet: the first run creates it)"), "{}", stdout(&before));
    assert!(!project.data_dir().exists(), "info created the data folder");

    assert_success(&project.dlt(&["pipeline", "countries_pipeline", "run"]));
    let after = project.dlt(&["pipeline", "countries_pipeline", "info"]);

    assert_success(&after);
    let text = stdout(&after);
    assert!(text.contains("destination        warehouse (duckdb)"), "{text}");
    assert!(text.contains("schema             countries, version"), "{text}");
    assert!(text.contains("cursor countries.countries.ccn3: last value \"894\""), "{text}");
    assert!(text.contains("pending packages   none"), "{text}");
    assert!(text.contains("loaded packages    1 kept"), "{text}");
    assert!(text.contains("last attempt       run attempt 1 succeeded"), "{text}");
}

#[test]
fn limit_and_resources_options() {
    let project = TestProject::new(COUNTRIES_YML);
    project.add_example_data("countries.json");

    let unknown = project.dlt(&["pipeline", "countries_pipeline", "run", "--resources", "nope"]);

    assert_eq!(unknown.status.code(), Some(2), "{}", stderr(&unknown));
    assert!(stderr(&unknown).contains("no resource `nope`; its resources are: countries"), "{}", stderr(&unknown));
    assert!(!project.data_dir().exists(), "an unknown resource created the data folder");

    let limited = project.dlt(&["pipeline", "countries_pipeline", "run", "--limit", "7", "--resources", "countries"]);

    assert_success(&limited);
    assert_eq!(count_rows(&project.duckdb("warehouse.duckdb"), "world.countries"), 7);
}

#[test]
fn colliding_keys_warned_once() {
    let yml = COUNTRIES_YML.replace("data/countries.json", "data/users.jsonl").replace("format: json", "format: jsonl");
    let project = TestProject::new(&yml);
    project.write_data("users.jsonl", "{\"userId\": 10, \"user_id\": 11}\n{\"userId\": 20, \"user_id\": 21}\n");

    let output = project.dlt(&["pipeline", "countries_pipeline", "run"]);

    assert_success(&output);
    let warning = "two keys of a row become the same column, and only the last value is kept";
    assert_eq!(stderr(&output).matches(warning).count(), 1, "{}", stderr(&output));
    assert!(stderr(&output).contains("first_key=userId second_key=user_id"), "{}", stderr(&output));
    let connection = project.duckdb("warehouse.duckdb");
    let user_id_sum: i64 = connection.query_row("SELECT sum(user_id) FROM world.countries", [], |row| row.get(0)).unwrap();
    assert_eq!(user_id_sum, 32, "dlt keeps the last value of each row");
}

#[test]
fn cursor_error_names_input_file() {
    let yml = COUNTRIES_YML
        .replace("data/countries.json", "data/*.jsonl")
        .replace("format: json", "format: jsonl")
        .replace("    write_disposition: append\n", "    write_disposition: append\n    incremental:\n      cursor_path: ts\n");
    let project = TestProject::new(&yml);
    project.write_data("a.jsonl", "{\"ts\": 1}\n");
    project.write_data("b.jsonl", "{\"ts\": 2}\n{\"id\": 3}\n");

    let output = project.dlt(&["pipeline", "countries_pipeline", "run"]);

    assert_eq!(output.status.code(), Some(4), "{}", stderr(&output));
    assert!(stderr(&output).contains("row 3 of the resource"), "{}", stderr(&output));
    assert!(stderr(&output).contains("b.jsonl`)"), "{}", stderr(&output));
}

#[test]
fn replace_keeps_only_new_rows() {
    let yml = COUNTRIES_YML
        .replace("data/countries.json", "data/items.jsonl")
        .replace("format: json", "format: jsonl")
        .replace("write_disposition: append", "write_disposition: replace");
    let project = TestProject::new(&yml);

    project.write_data("items.jsonl", "{\"id\": 1, \"tags\": [\"a\", \"b\"]}\n{\"id\": 2, \"tags\": [\"c\"]}\n");
    assert_success(&project.dlt(&["pipeline", "countries_pipeline", "run"]));
    project.write_data("items.jsonl", "{\"id\": 9}\n");
    assert_success(&project.dlt(&["pipeline", "countries_pipeline", "run"]));

    let connection = project.duckdb("warehouse.duckdb");
    let ids: i64 = connection
        .query_row("SELECT sum(id) FROM world.countries", [], |row| row.get(0))
        .unwrap();
    assert_eq!(count_rows(&connection, "world.countries"), 1);
    assert_eq!(ids, 9);
    assert_eq!(count_rows(&connection, "world.countries__tags"), 0, "nested rows of the old data remain");
}

#[test]
fn normalize_workers_give_same_tables() {
    let mut loaded = Vec::new();
    for workers in ["1", "2"] {
        let project = TestProject::new(COUNTRIES_YML);
        project.add_example_data("countries.json");
        let output = project.dlt_with_env(&["pipeline", "countries_pipeline", "run"], &[("NORMALIZE__WORKERS", workers)]);
        assert_success(&output);

        let connection = project.duckdb("warehouse.duckdb");
        let names: Vec<String> = connection
            .prepare("SELECT name__common FROM world.countries ORDER BY 1")
            .unwrap()
            .query_map([], |row| row.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        loaded.push((loaded_tables(&connection, "world"), names));
    }

    assert_eq!(loaded[0].0, loaded[1].0, "tables differ between 1 and 2 normalize workers");
    assert_eq!(loaded[0].1, loaded[1].1, "country names differ between 1 and 2 normalize workers");
}

#[test]
fn file_max_items_splits_load_files() {
    let project = TestProject::new(COUNTRIES_YML);
    project.add_example_data("countries.json");

    // The normalize section's value wins over the general one, as in dlt.
    // Digits may be grouped with underscores, as Python's int() reads them.
    let env = [("NORMALIZE__DATA_WRITER__FILE_MAX_ITEMS", "1_00"), ("DATA_WRITER__FILE_MAX_ITEMS", "50")];
    assert_success(&project.dlt_with_env(&["pipeline", "countries_pipeline", "run"], &env));

    // 250 countries go into load files of at most 100 rows.
    let loaded = project.data_dir().join("pipelines/countries_pipeline/load/loaded");
    let packages = folder_names(&loaded);
    assert_eq!(packages.len(), 1, "{packages:?}");
    let jobs = file_names(&loaded.join(&packages[0]).join("completed_jobs"));
    let country_files = jobs.iter().filter(|name| name.starts_with("countries.")).count();
    assert_eq!(country_files, 3, "{} jobs in all", jobs.len());

    let connection = project.duckdb("warehouse.duckdb");
    assert_eq!(count_rows(&connection, "world.countries"), 250);
}

#[test]
fn file_max_bytes_splits_load_files() {
    let project = TestProject::new(&COUNTRIES_YML.replace("countries.json\n    format: json", "rows.jsonl\n    format: jsonl"));
    // 2,000 rows of 100 pseudo-random letters, about 200 KB that Snappy
    // barely shrinks.
    let mut state = 7u64;
    let mut lines = String::new();
    for id in 0..2000 {
        let text: String = (0..100)
            .map(|_| {
                state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                char::from(b'a' + (state >> 59) as u8 % 26)
            })
            .collect();
        lines.push_str(&format!("{{\"id\": {id}, \"text\": \"{text}\"}}\n"));
    }
    project.write_data("rows.jsonl", &lines);

    let env = [("DATA_WRITER__FILE_MAX_BYTES", "50_000")];
    assert_success(&project.dlt_with_env(&["pipeline", "countries_pipeline", "run"], &env));

    let loaded = project.data_dir().join("pipelines/countries_pipeline/load/loaded");
    let packages = folder_names(&loaded);
    let jobs_dir = loaded.join(&packages[0]).join("completed_jobs");
    let files: Vec<String> = file_names(&jobs_dir)
        .into_iter()
        .filter(|name| name.starts_with("countries."))
        .collect();
    assert!(files.len() >= 4, "{files:?}");
    for name in &files {
        let size = std::fs::metadata(jobs_dir.join(name)).expect("job file").len();
        assert!(size < 60_000, "{name} has {size} bytes");
    }

    let connection = project.duckdb("warehouse.duckdb");
    assert_eq!(count_rows(&connection, "world.countries"), 2000);
}

#[test]
fn file_max_items_without_limit() {
    // As in dlt, 0 lifts the limit, a number beyond 64 bits is accepted, and
    // the normalize section's value wins over the general one.
    for value in ["0", "18446744073709551616"] {
        let project = TestProject::new(COUNTRIES_YML);
        project.add_example_data("countries.json");

        let env = [("NORMALIZE__DATA_WRITER__FILE_MAX_ITEMS", value), ("DATA_WRITER__FILE_MAX_ITEMS", "100")];
        assert_success(&project.dlt_with_env(&["pipeline", "countries_pipeline", "run"], &env));

        let loaded = project.data_dir().join("pipelines/countries_pipeline/load/loaded");
        let packages = folder_names(&loaded);
        let jobs = file_names(&loaded.join(&packages[0]).join("completed_jobs"));
        let country_files = jobs.iter().filter(|name| name.starts_with("countries.")).count();
        assert_eq!(country_files, 1, "{value}: {} jobs in all", jobs.len());
    }
}

#[test]
fn recovery_commands_ignore_normalize_settings() {
    let project = TestProject::new(COUNTRIES_YML);
    project.add_example_data("countries.json");
    assert_success(&project.dlt(&["pipeline", "countries_pipeline", "run"]));

    // These commands never normalize, so an invalid value does not stop them.
    let env = [("NORMALIZE__WORKERS", "abc"), ("DATA_WRITER__FILE_MAX_ITEMS", "abc")];
    for command in ["drop-pending-packages", "sync"] {
        let output = project.dlt_with_env(&["pipeline", "countries_pipeline", command], &env);
        assert_success(&output);
    }
}

#[test]
#[cfg(unix)]
fn non_utf8_pipelines_dir_rejected() {
    use std::os::unix::ffi::OsStrExt;

    let project = TestProject::new(COUNTRIES_YML);
    project.add_example_data("countries.json");
    let pipelines_dir = project.path().join(std::ffi::OsStr::from_bytes(b"bad\xffdir"));

    let output = project
        .dlt_command(&["pipeline", "countries_pipeline", "run"])
        .arg("--pipelines-dir")
        .arg(&pipelines_dir)
        .output()
        .expect("run dlt");

    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert!(stderr(&output).contains("is not valid UTF-8"), "{}", stderr(&output));
    assert!(!pipelines_dir.exists(), "a configuration error created the folder");
}

#[test]
fn invalid_normalize_settings_rejected() {
    // The general file limit is checked even where the normalize one wins,
    // as Python dlt's extract reads it.
    let valid = ("NORMALIZE__DATA_WRITER__FILE_MAX_ITEMS", "100");
    let cases = [
        ("NORMALIZE__WORKERS", "abc"),
        ("NORMALIZE__WORKERS", "0"),
        ("DATA_WRITER__FILE_MAX_ITEMS", "-1"),
        ("DATA_WRITER__FILE_MAX_ITEMS", "1.5"),
        ("DATA_WRITER__FILE_MAX_ITEMS", "1__000"),
        ("DATA_WRITER__FILE_MAX_ITEMS", "_100"),
        ("DATA_WRITER__FILE_MAX_BYTES", "1e6"),
    ];
    for (name, value) in cases {
        let project = TestProject::new(COUNTRIES_YML);
        project.add_example_data("countries.json");

        let output = project.dlt_with_env(&["pipeline", "countries_pipeline", "run"], &[(name, value), valid]);

        assert_eq!(output.status.code(), Some(2), "{name}: {}", stderr(&output));
        assert!(stderr(&output).contains(&format!("{name}=`{value}`")), "{}", stderr(&output));
        assert!(!project.data_dir().exists(), "{name}: a configuration error created the working directory");
    }
}
