#!/usr/bin/env python3
"""Load one input file into a fresh DuckDB file with DuckDB's own SQL (the speed reference).

Usage: duckdb_load.py INPUT --shape events|flat --kind json|parquet --table NAME --db PATH

  flat    CREATE TABLE bench.<table> AS SELECT * FROM read_json_auto(INPUT) or
          read_parquet(INPUT): one table, as DuckDB infers it.
  events  the tables dlt makes from gen_events.py rows, in SQL: the root table
          with `device` flattened into device__* columns and the timestamps as
          TIMESTAMPTZ, and <table>__items with one row per list element,
          _dlt_parent_id (the row's id, where dlt uses a random _dlt_id) and
          _dlt_list_idx. There are no _dlt_id or _dlt_load_id columns.

Prints one line `RESULT {json}` with the in-process time in seconds.
"""
import argparse
import json
import os
import time

import duckdb

DATASET = "bench"

EVENTS_SQL = """
CREATE TEMP TABLE raw_events AS SELECT * FROM read_json_auto($path);
CREATE TABLE {schema}."{table}" AS SELECT
    id, event_type, user_id, session_id,
    CAST(created_at AS TIMESTAMPTZ) AS created_at,
    amount, quantity, is_mobile, country, score, referrer,
    CAST(updated_at AS TIMESTAMPTZ) AS updated_at,
    device.os AS device__os,
    device.os_version AS device__os_version,
    device.screen_width AS device__screen_width,
    user_agent
  FROM raw_events;
CREATE TABLE {schema}."{table}__items" AS SELECT
    id AS _dlt_parent_id,
    unnest(items, recursive := true),
    generate_subscripts(items, 1) - 1 AS _dlt_list_idx
  FROM raw_events;
DROP TABLE raw_events
"""


def main(argv=None):
    parser = argparse.ArgumentParser(description="DuckDB SQL ingest of one file")
    parser.add_argument("input")
    parser.add_argument("--shape", choices=("events", "flat"), required=True)
    parser.add_argument("--kind", choices=("json", "parquet"), required=True,
                        help="reader: read_json_auto or read_parquet")
    parser.add_argument("--table", required=True)
    parser.add_argument("--db", required=True, help="DuckDB file to create (an existing one is removed first)")
    args = parser.parse_args(argv)

    path = os.path.abspath(args.input)
    for suffix in ("", ".wal"):
        if os.path.exists(args.db + suffix):
            os.remove(args.db + suffix)

    started = time.perf_counter()
    connection = duckdb.connect(args.db)
    connection.execute("CREATE SCHEMA %s" % DATASET)
    if args.shape == "events":
        for statement in EVENTS_SQL.format(schema=DATASET, table=args.table).split(";"):
            parameters = {"path": path} if "$path" in statement else None
            connection.execute(statement, parameters)
    else:
        reader = "read_parquet" if args.kind == "parquet" else "read_json_auto"
        connection.execute('CREATE TABLE %s."%s" AS SELECT * FROM %s($path)' % (DATASET, args.table, reader),
                           {"path": path})
    connection.close()
    print("RESULT " + json.dumps({"steps": {"run": round(time.perf_counter() - started, 3)}}))


if __name__ == "__main__":
    main()
