#!/usr/bin/env bash
# Rebuilds the seed corpora of the fuzz targets from the repository's
# fixtures: the inputs and dlt.yml files of tests/corpus and the example
# project, and, for load_package, working directories that the `dlt` binary
# leaves with a package in each stage (extracted, normalized, loaded).
#
# Needs the `dlt` binary and the DuckDB plugin built in $CARGO_TARGET_DIR
# (default target/) by `cargo build --workspace`.
#
#   fuzz/seeds/collect.sh
set -euo pipefail

repo_root="$(cd "$(dirname "$0")/../.." && pwd)"
seeds="$repo_root/fuzz/seeds"
profile_dir="${CARGO_TARGET_DIR:-$repo_root/target}/debug"
cd "$repo_root"

# Copies a file into a seed folder under the hash of its content, so that a
# file found twice is kept once. Files over `max_bytes` (default 16 KiB) are
# left out: libFuzzer caps input size at the largest seed, and large seeds
# slow every mutation.
add_seed() {
    local folder="$1" file="$2" max_bytes="${3:-16384}"
    local size
    size=$(stat -c %s "$file")
    if (( size > max_bytes )); then
        return
    fi
    mkdir -p "$folder"
    cp "$file" "$folder/$(sha1sum "$file" | cut -c1-16)"
}

# Writes a working directory in the packed format of fuzz/src/files.rs:
# `=== <path>` header lines, each followed by the file's bytes.
pack() {
    local root="$1" first=1 file
    while IFS= read -r -d '' file; do
        if (( first == 0 )); then
            printf '\n'
        fi
        first=0
        printf '=== %s\n' "${file#"$root"/}"
        cat "$file"
    done < <(find "$root" -type f -print0 | sort -z)
}

rm -rf "$seeds/normalize" "$seeds/dlt_yml" "$seeds/load_package"

# normalize: every JSON and JSON Lines input, and the start of each example
# dataset, cut at a record boundary so that it stays valid JSON.
while IFS= read -r -d '' file; do
    add_seed "$seeds/normalize" "$file"
done < <(find tests/corpus \( -name '*.json' -o -name '*.jsonl' \) -path '*/data/*' -print0 -o \
    \( -name '*.json' -o -name '*.jsonl' \) -path '*/seed/*' -print0)
scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT
python3 - "$scratch" <<'EOF'
import json, sys
folder = sys.argv[1]
for name, count in (("countries", 2), ("flights-200k", 40)):
    with open(f"examples/countries_project/data/{name}.json") as source:
        records = json.load(source)[:count]
    with open(f"{folder}/{name}.json", "w") as target:
        json.dump(records, target)
    with open(f"{folder}/{name}.jsonl", "w") as target:
        target.writelines(json.dumps(record) + "\n" for record in records)
EOF
for file in "$scratch"/*.json "$scratch"/*.jsonl; do
    add_seed "$seeds/normalize" "$file"
done

# dlt_yml: every project file.
while IFS= read -r -d '' file; do
    add_seed "$seeds/dlt_yml" "$file"
done < <(find tests/corpus examples -name dlt.yml -print0)

# load_package: a working directory after a load (state, schema, trace and
# a loaded package), after a normalize failure (an extracted package) and
# after a load failure (a normalized package with Parquet jobs).
project="$scratch/project"
mkdir -p "$project/data"
cp tests/corpus/json_nesting_with_max_table_nesting/data/items.jsonl "$project/data/nested.jsonl"
printf '{"id": 1, "big": 5}\n{"id": 2, "big": 18446744073709551615}\n' > "$project/data/rejected.jsonl"
cat > "$project/dlt.yml" <<'EOF'
sources:
  fuzz:
    type: files
    path: data/nested.jsonl
    table_name: items
    primary_key: id
    write_disposition: merge
  rejected:
    type: files
    path: data/rejected.jsonl
    table_name: items
destinations:
  warehouse:
    type: duckdb
    credentials: warehouse.duckdb
  unreachable:
    type: duckdb
    credentials: missing_folder/warehouse.duckdb
pipelines:
  loaded:
    source: fuzz
    destination: warehouse
  extracted:
    source: rejected
    destination: warehouse
  normalized:
    source: fuzz
    destination: unreachable
EOF
for pipeline in loaded extracted normalized; do
    # The last two fail on purpose, leaving their package pending.
    DLT_DATA_DIR="$scratch/data" DLT_PLUGIN_DIR="$profile_dir" \
        "$profile_dir/dlt" --project "$project" pipeline "$pipeline" run > /dev/null 2>&1 || true
    working_dir="$scratch/data/pipelines/$pipeline"
    test -d "$working_dir" || { echo "no working directory for $pipeline; is dlt built?" >&2; exit 1; }
    pack "$working_dir" > "$scratch/$pipeline.packed"
    # A working directory contains several files, so its limit is higher.
    add_seed "$seeds/load_package" "$scratch/$pipeline.packed" 131072
done

for target in normalize dlt_yml load_package; do
    echo "$target: $(find "$seeds/$target" -type f | wc -l) seeds"
done
