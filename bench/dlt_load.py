#!/usr/bin/env python3
"""Load one input file into a fresh DuckDB file with Python dlt (the benchmark's baseline).

Usage: dlt_load.py INPUT --format jsonl|json|parquet --table NAME --db PATH --workdir DIR
                   [--loader-format FORMAT]

jsonl and json inputs go through dlt's default row path: the resource yields
one dict per row (json.loads per line, or the elements of a top-level JSON
array), and dlt flattens nested objects and unnests lists into child tables.
Parquet inputs are yielded as Arrow record batches, which is how dlt's
filesystem source reads Parquet. Without --loader-format, dlt picks its
default for DuckDB: insert_values for rows, parquet for Arrow data.

Prints one line `RESULT {json}` with the in-process step times in seconds.
"""
import argparse
import json
import os
import shutil
import sys
import time

os.environ.setdefault("RUNTIME__DLTHUB_TELEMETRY", "false")  # no network calls from dlt

import dlt  # noqa: E402

DATASET = "bench"
PARQUET_BATCH_ROWS = 100_000


def jsonl_rows(path):
    loads = json.loads
    with open(path, "r", encoding="utf-8") as lines:
        for line in lines:
            yield loads(line)


def json_array_rows(path):
    with open(path, "r", encoding="utf-8") as document:
        yield from json.load(document)


def parquet_batches(path):
    import pyarrow.parquet as pq

    yield from pq.ParquetFile(path).iter_batches(batch_size=PARQUET_BATCH_ROWS)


READERS = {"jsonl": jsonl_rows, "json": json_array_rows, "parquet": parquet_batches}


def main(argv=None):
    parser = argparse.ArgumentParser(description="Python dlt load of one file into DuckDB")
    parser.add_argument("input")
    parser.add_argument("--format", choices=sorted(READERS), required=True)
    parser.add_argument("--table", required=True, help="root table name")
    parser.add_argument("--db", required=True, help="DuckDB file to create")
    parser.add_argument("--workdir", required=True, help="folder for dlt's pipelines (emptied first)")
    parser.add_argument("--loader-format", default=None,
                        help="passed to pipeline.run(loader_file_format=...); default: dlt's choice")
    args = parser.parse_args(argv)

    path = os.path.abspath(args.input)
    shutil.rmtree(args.workdir, ignore_errors=True)
    os.makedirs(args.workdir)
    reader = READERS[args.format]

    @dlt.resource(name=args.table)
    def source():
        yield from reader(path)

    pipeline = dlt.pipeline(
        pipeline_name="bench_" + args.table,
        pipelines_dir=os.path.join(args.workdir, "pipelines"),
        destination=dlt.destinations.duckdb(os.path.abspath(args.db)),
        dataset_name=DATASET,
    )
    started = time.perf_counter()
    if args.loader_format:
        pipeline.run(source, loader_file_format=args.loader_format)
    else:
        pipeline.run(source)
    run_seconds = time.perf_counter() - started

    steps = {"run": round(run_seconds, 3)}
    for step in pipeline.last_trace.steps:
        if step.started_at and step.finished_at:
            steps[step.step] = round((step.finished_at - step.started_at).total_seconds(), 3)
    print("RESULT " + json.dumps({"steps": steps}))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
