//! Parquet input files through the `dlt` binary into DuckDB: a file whose
//! column chunks pass to the load job without decoding, and one whose
//! schema contract makes normalize decode it. DuckDB writes the input files.

mod common;

use std::path::{Path, PathBuf};

use common::{TestProject, assert_success, count_rows};

const ROWS: i64 = 2500;

fn project_yml(datasets: &str) -> String {
    format!(
        "sources:
  flights:
    type: files
    path: data/flights.parquet
    table_name: flights
destinations:
  warehouse:
    type: duckdb
    credentials: warehouse.duckdb
pipelines:
  flights_pipeline:
    source: flights
    destination: warehouse
    dataset_name: air
{datasets}"
    )
}

/// Writes `data/flights.parquet` with ZSTD column chunks, which the runner's
/// own Parquet writer never uses (it writes Snappy). `extra_column` adds a
/// text column `Gate`.
fn write_flights(project: &TestProject, extra_column: bool) {
    let path = project.path().join("data/flights.parquet");
    let gate = if extra_column { ", 'G' || (i % 3) AS \"Gate\"" } else { "" };
    let sql = format!(
        "COPY (SELECT i AS id, 'code ' || (i % 7) AS \"Origin Code\", \
         TIMESTAMP '2024-01-01 00:00:00' + to_hours(i) AS departed_at, \
         CASE WHEN i % 5 = 0 THEN NULL ELSE i * 1.5::DOUBLE END AS delay{gate} \
         FROM range({ROWS}) AS t(i)) TO '{}' (FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE 1000)",
        path.display()
    );
    duckdb::Connection::open_in_memory().unwrap().execute_batch(&sql).unwrap();
}

fn run(project: &TestProject) {
    assert_success(&project.dlt(&["pipeline", "flights_pipeline", "run"]));
}

fn column_names(connection: &duckdb::Connection) -> Vec<String> {
    let sql = "SELECT column_name FROM information_schema.columns \
               WHERE table_schema = 'air' AND table_name = 'flights' ORDER BY ordinal_position";
    let mut statement = connection.prepare(sql).unwrap();
    statement.query_map([], |row| row.get(0)).unwrap().map(Result::unwrap).collect()
}

/// Returns the `flights` job files of every loaded package.
fn loaded_flights_jobs(project: &TestProject) -> Vec<PathBuf> {
    let loaded = project.data_dir().join("pipelines/flights_pipeline/load/loaded");
    let mut jobs = Vec::new();
    for package in std::fs::read_dir(loaded).unwrap() {
        let completed = package.unwrap().path().join("completed_jobs");
        for job in std::fs::read_dir(completed).unwrap() {
            let path = job.unwrap().path();
            if path.file_name().unwrap().to_string_lossy().starts_with("flights.") {
                jobs.push(path);
            }
        }
    }
    jobs
}

fn compressions(connection: &duckdb::Connection, job: &Path) -> Vec<String> {
    let sql = format!("SELECT DISTINCT compression FROM parquet_metadata('{}')", job.display());
    let mut statement = connection.prepare(&sql).unwrap();
    statement.query_map([], |row| row.get(0)).unwrap().map(Result::unwrap).collect()
}

#[test]
fn parquet_file_loads_without_decoding() {
    let project = TestProject::new(&project_yml(""));
    write_flights(&project, false);

    run(&project);

    let connection = project.duckdb("warehouse.duckdb");
    assert_eq!(count_rows(&connection, "air.flights"), ROWS);
    assert_eq!(column_names(&connection), ["id", "origin_code", "departed_at", "delay"]);
    let (at, origin): (i64, String) = connection
        .query_row("SELECT epoch_us(departed_at), origin_code FROM air.flights WHERE id = 1", [], |row| {
            Ok((row.get(0)?, row.get(1)?))
        })
        .unwrap();
    assert_eq!(at, 1_704_070_800_000_000, "2024-01-01 01:00:00 UTC");
    assert_eq!(origin, "code 1");
    let null_delays: i64 = connection
        .query_row("SELECT count(*) FROM air.flights WHERE delay IS NULL", [], |row| row.get(0))
        .unwrap();
    assert_eq!(null_delays, ROWS / 5);

    let jobs = loaded_flights_jobs(&project);
    assert_eq!(jobs.len(), 1);
    assert_eq!(compressions(&connection, &jobs[0]), ["ZSTD"], "the column chunks were encoded again");
}

#[test]
fn discarded_column_decodes_parquet_file() {
    let project = TestProject::new(&project_yml(
        "datasets:
  air:
    contract: {tables: evolve, columns: discard_value, data_type: evolve}
",
    ));
    write_flights(&project, false);
    run(&project);
    write_flights(&project, true);

    run(&project);

    let connection = project.duckdb("warehouse.duckdb");
    assert_eq!(count_rows(&connection, "air.flights"), 2 * ROWS);
    assert_eq!(column_names(&connection), ["id", "origin_code", "departed_at", "delay"]);
    let codes: i64 = connection
        .query_row("SELECT count(DISTINCT origin_code) FROM air.flights", [], |row| row.get(0))
        .unwrap();
    assert_eq!(codes, 7);
    let mut compressions_seen: Vec<String> = loaded_flights_jobs(&project)
        .iter()
        .flat_map(|job| compressions(&connection, job))
        .collect();
    compressions_seen.sort();
    assert_eq!(compressions_seen, ["SNAPPY", "ZSTD"], "one job passed and one was decoded");
}

#[test]
fn rejected_value_names_extracted_job() {
    let project = TestProject::new(&project_yml(""));
    write_flights(&project, false);
    run(&project);
    let path = project.path().join("data/flights.parquet");
    let sql = format!("COPY (SELECT 2.5::DOUBLE AS id) TO '{}' (FORMAT parquet)", path.display());
    duckdb::Connection::open_in_memory().unwrap().execute_batch(&sql).unwrap();

    let output = project.dlt(&["pipeline", "flights_pipeline", "run"]);

    assert!(!output.status.success());
    let stderr = common::stderr(&output);
    assert!(stderr.contains("2.5 would load as 2"), "{stderr}");
    let extracted = project.data_dir().join("pipelines/flights_pipeline/normalize/extracted");
    let package = std::fs::read_dir(&extracted).unwrap().next().unwrap().unwrap().path();
    let job = std::fs::read_dir(package.join("new_jobs")).unwrap().next().unwrap().unwrap().path();
    assert!(stderr.contains(&format!("in the extracted job `{}`, column `id`", job.display())), "{stderr}");
    assert_eq!(count_rows(&project.duckdb("warehouse.duckdb"), "air.flights"), ROWS);
}
