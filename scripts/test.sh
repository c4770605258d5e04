#!/usr/bin/env bash
# Build everything the tests load at run time (the plugin libraries), then run
# the whole test suite. Tests use real DuckDB files in temporary folders.
set -euo pipefail

repo_root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$repo_root"

scripts/fetch-libduckdb.sh

# `--all-targets` resolves the same features as `cargo test`, so the plugin
# libraries are built once and the test binaries find them in target/debug.
cargo build --locked --workspace --all-targets
cargo test --locked --workspace
