#!/usr/bin/env bash
# Build everything the tests load at run time (the plugin libraries), then run
# the whole test suite. Tests use real DuckDB files in temporary folders, a
# SeaweedFS server on 127.0.0.1 and Python dlt 1.31 in a venv.
set -euo pipefail

repo_root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$repo_root"

scripts/fetch-libduckdb.sh

# Python dlt is the oracle of the interop tests; SeaweedFS (an S3 server on
# 127.0.0.1) is installed and started by the tests that need it.
DLT_TEST_PYTHON="$(scripts/setup-python.sh)"
export DLT_TEST_PYTHON
export RUNTIME__DLTHUB_TELEMETRY=false

# `--all-targets` resolves the same features as `cargo test`, so the plugin
# libraries are built once and the test binaries find them in target/debug.
cargo build --locked --workspace --all-targets
cargo test --locked --workspace

# A short run of each fuzz target, about 150 seconds in all plus the build
# (docs/fuzzing.md). DLT_FUZZ_SKIP=1 skips it; DLT_FUZZ_SECONDS sets the time.
scripts/fuzz.sh
