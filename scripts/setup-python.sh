#!/usr/bin/env bash
# Create the Python venv that the interop tests use as an oracle: real
# Python dlt 1.31 with DuckDB and Parquet support, and s3fs for the
# filesystem destination on S3. Prints the interpreter
# path. The venv lives outside the clone, so later runs reuse it.
#
#   DLT_TEST_VENV   venv folder (default /var/tmp/dlt-rs/venv)
set -euo pipefail

venv="${DLT_TEST_VENV:-/var/tmp/dlt-rs/venv}"
python="$venv/bin/python"

if ! "$python" -c 'import dlt, duckdb, pyarrow, s3fs; assert dlt.__version__.startswith("1.31.")' 2>/dev/null; then
    echo "creating the Python dlt 1.31 venv in $venv" >&2
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check 'dlt[duckdb,parquet]==1.31.*' s3fs >&2
fi
echo "$python"
