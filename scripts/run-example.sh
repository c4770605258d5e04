#!/usr/bin/env bash
# Build the runner and load the example project into DuckDB:
# examples/countries_project/warehouse.duckdb, datasets `world` and `travel`.
set -euo pipefail

repo_root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$repo_root"

scripts/fetch-libduckdb.sh
cargo build --locked -p runner-cli -p destination-duckdb-plugin

target_dir="${CARGO_TARGET_DIR:-$repo_root/target}"
dlt="$target_dir/debug/dlt"
project="$repo_root/examples/countries_project"

"$dlt" --project "$project" pipeline countries_pipeline run
"$dlt" --project "$project" pipeline flights_pipeline run

echo
echo "Loaded into $project/warehouse.duckdb. Query it, for example with Python's duckdb module:"
echo "  python3 -c \"import duckdb; print(duckdb.connect('$project/warehouse.duckdb').sql('select region, count(*) from world.countries group by 1'))\""
