"""Generate countries_expected.json: what real Python dlt makes of countries.json.

Loads examples/countries_project/data/countries.json into a fresh DuckDB file with
dlt (pipeline `countries_pipeline`, dataset `world`, one append resource that
writes table `countries`) and records, for every table of the dataset:

* the DuckDB columns in `information_schema.columns` ordinal order, with
  `data_type` and `is_nullable`, and the row count;
* the dlt schema's columns in stored order, with `data_type`, `nullable` and the
  key hints that are set.

The output contains no load ids, timestamps or paths, so re-running it with the
same dlt and duckdb versions gives the same file.

Usage: python tests/oracle/generate_countries_oracle.py  (any working directory)
"""

import json
import os
import sys
import tempfile
from pathlib import Path

# Set before importing dlt, so no dlt code runs with telemetry enabled.
os.environ["RUNTIME__DLTHUB_TELEMETRY"] = "false"

import dlt  # noqa: E402
import duckdb  # noqa: E402

REPO_ROOT = Path(__file__).resolve().parents[2]
DATA_FILE = REPO_ROOT / "examples" / "countries_project" / "data" / "countries.json"
OUTPUT_FILE = Path(__file__).resolve().parent / "countries_expected.json"

PIPELINE_NAME = "countries_pipeline"
DATASET_NAME = "world"
TABLE_NAME = "countries"

# Column hints copied into the oracle when the stored schema sets them.
COLUMN_HINTS = (
    "primary_key",
    "merge_key",
    "row_key",
    "parent_key",
    "root_key",
    "unique",
    "variant",
)

# Table properties copied into the oracle when the stored schema sets them.
TABLE_PROPERTIES = ("parent", "write_disposition", "resource")


def load_countries(work_dir: Path) -> tuple[dlt.Pipeline, Path]:
    """Run the pipeline into a DuckDB file under work_dir and return it with the file path."""
    with DATA_FILE.open(encoding="utf-8") as file:
        countries = json.load(file)

    @dlt.resource(name=TABLE_NAME, table_name=TABLE_NAME, write_disposition="append")
    def countries_resource():
        yield from countries

    database_file = work_dir / "countries.duckdb"
    pipeline = dlt.pipeline(
        pipeline_name=PIPELINE_NAME,
        pipelines_dir=str(work_dir / "pipelines"),
        destination=dlt.destinations.duckdb(credentials=str(database_file)),
        dataset_name=DATASET_NAME,
    )

    load_info = pipeline.run(countries_resource())
    load_info.raise_on_failed_jobs()
    return pipeline, database_file


def read_duckdb_tables(database_file: Path) -> dict:
    """Return columns and row count of every table in the dataset, keyed by table name."""
    connection = duckdb.connect(str(database_file), read_only=True)
    try:
        table_names = [
            row[0]
            for row in connection.execute(
                "SELECT table_name FROM information_schema.tables"
                " WHERE table_schema = ? ORDER BY table_name",
                [DATASET_NAME],
            ).fetchall()
        ]

        tables = {}
        for table_name in table_names:
            columns = connection.execute(
                "SELECT column_name, data_type, is_nullable FROM information_schema.columns"
                " WHERE table_schema = ? AND table_name = ? ORDER BY ordinal_position",
                [DATASET_NAME, table_name],
            ).fetchall()

            # Identifiers come from information_schema, so quoting them is enough.
            (row_count,) = connection.execute(
                f'SELECT count(*) FROM "{DATASET_NAME}"."{table_name}"'
            ).fetchone()

            tables[table_name] = {
                "row_count": row_count,
                "columns": [
                    {"name": name, "data_type": data_type, "is_nullable": is_nullable}
                    for name, data_type, is_nullable in columns
                ],
            }
        return tables
    finally:
        connection.close()


def describe_schema_column(column: dict) -> dict:
    """Keep a stored dlt column's name, type, nullability and set key hints."""
    described = {
        "name": column["name"],
        "data_type": column.get("data_type"),
        "nullable": column.get("nullable", True),
    }
    for hint in COLUMN_HINTS:
        if column.get(hint):
            described[hint] = column[hint]
    return described


def read_dlt_schema(pipeline: dlt.Pipeline) -> dict:
    """Return the stored schema's tables in stored order, with their columns in column order."""
    schema = pipeline.default_schema.to_dict()

    tables = {}
    for table_name, table in schema["tables"].items():
        described = {key: table[key] for key in TABLE_PROPERTIES if key in table}
        described["columns"] = [
            describe_schema_column(column) for column in table.get("columns", {}).values()
        ]
        tables[table_name] = described

    return {"name": schema["name"], "tables": tables}


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="countries_oracle_") as temp:
        work_dir = Path(temp)

        # dlt reads .dlt/config.toml and secrets.toml from the working directory,
        # so an empty one keeps project settings out of the oracle. Settings in
        # environment variables and in the global ~/.dlt folder still apply.
        os.chdir(work_dir)

        pipeline, database_file = load_countries(work_dir)
        oracle = {
            "generated_by": "tests/oracle/generate_countries_oracle.py",
            "dlt_version": dlt.__version__,
            "duckdb_version": duckdb.__version__,
            "input": "examples/countries_project/data/countries.json",
            "pipeline_name": PIPELINE_NAME,
            "dataset_name": DATASET_NAME,
            "duckdb_tables": read_duckdb_tables(database_file),
            "dlt_schema": read_dlt_schema(pipeline),
        }

    with OUTPUT_FILE.open("w", encoding="utf-8") as file:
        json.dump(oracle, file, indent=2, ensure_ascii=False)
        file.write("\n")

    print(
        f"wrote {OUTPUT_FILE} with {len(oracle['duckdb_tables'])} tables",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
