#!/usr/bin/env python3
"""Writes the corpus cases' `dlt.yml` and input files.

Run it with a Python that has pyarrow: `python3 generate.py`. It overwrites `dlt.yml` and
`data/` of every case listed below and leaves `expected.json` alone, so the
expected outcomes stay hand-written. Binary inputs (Latin-1 bytes, a
truncated Parquet file, a library that is not a plugin) are written here
because they cannot be typed into a text editor.
"""

import json
import os
import shutil

HERE = os.path.dirname(os.path.abspath(__file__))


def source_yml(path, table="items", disposition="append", extra="", fmt=None):
    lines = [
        "sources:",
        "  src:",
        "    type: files",
        f"    path: {path}",
    ]
    if fmt:
        lines.append(f"    format: {fmt}")
    lines += [
        f"    table_name: {json.dumps(table)}",
        f"    write_disposition: {disposition}",
    ]
    if extra:
        lines += ["    " + line for line in extra.strip("\n").split("\n")]
    lines += [
        "destinations:",
        "  warehouse:",
        "    type: duckdb",
        "    credentials: warehouse.duckdb",
        "pipelines:",
        "  corpus:",
        "    source: src",
        "    destination: warehouse",
        "    dataset_name: corpus",
    ]
    return "\n".join(lines) + "\n"


GOOD_YML = source_yml("data/items.jsonl")
GOOD_ROWS = b'{"id": 1, "name": "a"}\n{"id": 2, "name": "b"}\n'


def case(name, yml, files):
    folder = os.path.join(HERE, name)
    os.makedirs(folder, exist_ok=True)
    for sub in ("data", "plugins", "seed"):
        shutil.rmtree(os.path.join(folder, sub), ignore_errors=True)
    with open(os.path.join(folder, "dlt.yml"), "wb") as handle:
        handle.write(yml if isinstance(yml, bytes) else yml.encode())
    for relative, contents in files.items():
        path = os.path.join(folder, relative)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as handle:
            handle.write(contents if isinstance(contents, bytes) else contents.encode())


def truncated_parquet():
    """Returns the first half of a valid two-row Parquet file, which needs pyarrow."""
    import io

    import pyarrow
    import pyarrow.parquet

    buffer = io.BytesIO()
    pyarrow.parquet.write_table(pyarrow.table({"id": [1, 2], "name": ["a", "b"]}), buffer)
    data = buffer.getvalue()
    return data[: len(data) // 2]


def main():
    good_data = {"data/items.jsonl": GOOD_ROWS}

    # The valid dataset that cases with "preload" load first.
    case(
        "_preload",
        source_yml("data/committed.jsonl", table="committed", disposition="append").replace(
            "credentials: warehouse.duckdb", "credentials: ../warehouse.duckdb"
        ).replace("  corpus:\n", "  preload:\n"),
        {"data/committed.jsonl": '{"id": 1, "v": "x"}\n{"id": 2, "v": "y"}\n{"id": 3, "v": "z"}\n'},
    )

    # dlt.yml problems.
    case("yml_wrong_type_max_table_nesting", source_yml("data/items.jsonl", extra="max_table_nesting: deep"), good_data)
    case("yml_wrong_type_primary_key", source_yml("data/items.jsonl", extra="primary_key: {a: 1}"), good_data)
    case("yml_wrong_type_sources_list", GOOD_YML.replace("sources:\n  src:\n", "sources:\n  - name: src\n"), good_data)
    case("yml_negative_max_table_nesting", source_yml("data/items.jsonl", extra="max_table_nesting: -1"), good_data)
    case("yml_unknown_source_key", source_yml("data/items.jsonl").replace("table_name:", "tabel_name:"), good_data)
    case("yml_unknown_top_level_key", GOOD_YML.replace("pipelines:", "pipeline:"), good_data)
    case("yml_unknown_pipeline_key", GOOD_YML.replace("    dataset_name: corpus", "    dataset_name: corpus\n    datset: x"), good_data)
    case("yml_duplicate_source_key", source_yml("data/items.jsonl", extra='table_name: other'), good_data)
    case("yml_duplicate_source_name", GOOD_YML.replace("destinations:", "  src:\n    type: files\n    path: data/items.jsonl\ndestinations:"), good_data)
    case("yml_tab_indentation", GOOD_YML.replace("    table_name:", "\ttable_name:"), good_data)
    case("yml_invalid_write_disposition", source_yml("data/items.jsonl", disposition="upsert"), good_data)
    case("yml_empty_file", "", good_data)
    case("yml_top_level_list", "- sources\n- pipelines\n", good_data)
    case("yml_unclosed_quote", GOOD_YML.replace("dataset_name: corpus", 'dataset_name: "corpus'), good_data)
    case("yml_unknown_source_reference", GOOD_YML.replace("    source: src", "    source: nope"), good_data)
    case("yml_non_utf8", source_yml("data/items.jsonl").encode().replace(b"dataset_name: corpus", b"dataset_name: corpus\n# caf\xe9"), good_data)
    case("yml_utf8_bom", b"\xef\xbb\xbf" + GOOD_YML.encode(), good_data)

    # JSON syntax.
    case("json_syntax_error_line", source_yml("data/items.json"), {"data/items.json": '[\n  {"id": 1},\n  {"id": 2}\n  {"id": 3}\n]\n'})
    case("json_trailing_comma", source_yml("data/items.json"), {"data/items.json": '[\n  {"id": 1},\n  {"id": 2},\n]\n'})
    case("json_truncated_array", source_yml("data/items.json"), {"data/items.json": '[\n  {"id": 1},\n  {"id": 2},\n  {"id": 3, "na'})
    case("jsonl_truncated_last_line", source_yml("data/items.jsonl"), {"data/items.jsonl": '{"id": 1}\n{"id": 2}\n{"id": 3, "name": "c'})
    case("jsonl_bad_line", source_yml("data/items.jsonl"), {"data/items.jsonl": '{"id": 1}\n{"id": 2}\n{"id": 3,, "name": "c"}\n{"id": 4}\n'})
    case("json_nan", source_yml("data/items.json"), {"data/items.json": '[\n  {"id": 1, "score": 1.5},\n  {"id": 2, "score": NaN}\n]\n'})
    case("json_infinity", source_yml("data/items.json"), {"data/items.json": '[\n  {"id": 1, "score": Infinity}\n]\n'})
    case("jsonl_negative_infinity", source_yml("data/items.jsonl"), {"data/items.jsonl": '{"id": 1, "score": 2.0}\n{"id": 2, "score": -Infinity}\n'})
    case("json_number_overflow_float", source_yml("data/items.json"), {"data/items.json": '[{"id": 1, "score": 1e400}]\n'})
    case("json_top_level_scalar", source_yml("data/items.json"), {"data/items.json": '42\n'})
    case("json_array_of_scalars", source_yml("data/items.json"), {"data/items.json": '[1, 2, 3]\n'})

    # Encodings.
    case("json_non_utf8", source_yml("data/items.json"), {"data/items.json": b'[\n  {"id": 1, "name": "caf\xe9"}\n]\n'})
    case("jsonl_non_utf8", source_yml("data/items.jsonl"), {"data/items.jsonl": b'{"id": 1, "name": "a"}\n{"id": 2, "name": "caf\xe9"}\n'})
    case("csv_non_utf8", source_yml("data/items.csv"), {"data/items.csv": b'id,name\n1,a\n2,caf\xe9\n'})
    case("json_utf16", source_yml("data/items.json"), {"data/items.json": '[{"id": 1}]\n'.encode("utf-16")})
    case("json_utf8_bom", source_yml("data/items.json"), {"data/items.json": b'\xef\xbb\xbf[{"id": 1}, {"id": 2}]\n'})
    case("jsonl_utf8_bom", source_yml("data/items.jsonl"), {"data/items.jsonl": b'\xef\xbb\xbf{"id": 1}\n{"id": 2}\n'})
    case("csv_utf8_bom", source_yml("data/items.csv"), {"data/items.csv": b'\xef\xbb\xbfid,name\n1,a\n2,b\n'})

    # Numbers, nesting, sizes.
    case("json_integer_over_64_bits", source_yml("data/items.json"), {"data/items.json": '[\n  {"id": 1, "big": 5},\n  {"id": 2, "big": 12345678901234567890123}\n]\n'})
    case("json_integer_u64_max", source_yml("data/items.json"), {"data/items.json": '[{"id": 1, "big": 18446744073709551615}]\n'})
    case("jsonl_negative_integer_over_64_bits", source_yml("data/items.jsonl"), {"data/items.jsonl": '{"id": 1, "big": -99999999999999999999999}\n'})
    case("json_float_literal_over_64_bits", source_yml("data/items.json"), {"data/items.json": '[{"id": 1, "big": 1e30}, {"id": 2, "big": 18446744073709551616.0, "name": "99999999999999999999999"}]\n'})
    deep = '{"a": ' * 200 + "1" + "}" * 200
    case("json_nesting_too_deep", source_yml("data/items.jsonl"), {"data/items.jsonl": '{"id": 1, "deep": ' + deep + "}\n"})
    within = '{"a": ' * 40 + "1" + "}" * 40
    case("json_nesting_with_max_table_nesting", source_yml("data/items.jsonl", extra="max_table_nesting: 1"), {"data/items.jsonl": '{"id": 1, "deep": [' + within + "]}\n"})
    case("json_huge_string_value", source_yml("data/items.jsonl"), {"data/items.jsonl": '{"id": 1, "blob": "' + "x" * (8 << 20) + '"}\n{"id": 2, "blob": "small"}\n'})

    # Empty input for each write disposition.
    seed_then = lambda disposition, extra="": source_yml("data/items.jsonl", disposition=disposition, extra=extra)
    for disposition, extra in (("append", ""), ("replace", ""), ("merge", "primary_key: id")):
        case(f"empty_input_{disposition}", seed_then(disposition, extra), {"data/items.jsonl": "", "seed/items.jsonl": GOOD_ROWS})
    case("empty_json_array_replace", source_yml("data/items.json", disposition="replace"), {"data/items.json": "[]\n", "seed/items.json": '[{"id": 1}, {"id": 2}]\n'})
    case("empty_csv_header_only", source_yml("data/items.csv"), {"data/items.csv": "id,name\n"})
    case("empty_glob_no_match", source_yml("data/*.jsonl"), {"data/readme.txt": "no input here\n"})

    # CSV and Parquet damage.
    case("csv_ragged_row", source_yml("data/items.csv"), {"data/items.csv": "id,name\n1,a\n2,b,extra\n"})
    case("csv_duplicate_header", source_yml("data/items.csv"), {"data/items.csv": "id,name,id\n1,a,2\n"})
    case("parquet_not_parquet", source_yml("data/items.parquet"), {"data/items.parquet": '{"id": 1}\n'})
    case("parquet_truncated", source_yml("data/items.parquet"), {"data/items.parquet": truncated_parquet()})
    case("unknown_extension", source_yml("data/items.txt"), {"data/items.txt": '{"id": 1}\n'})

    # Identifiers.
    case("identifier_collision_in_row", source_yml("data/items.jsonl"), {"data/items.jsonl": '{"id": 1, "userName": "camel", "user_name": "snake"}\n'})
    case("identifier_collision_across_rows", source_yml("data/items.jsonl"), {"data/items.jsonl": '{"id": 1, "userName": "camel"}\n{"id": 2, "user_name": "snake"}\n'})
    case("reserved_words", source_yml("data/items.jsonl", table="select"), {"data/items.jsonl": '{"from": 1, "where": "w", "table": true, "order": [{"group": 1}]}\n'})
    case("sql_injection_table_name", source_yml("data/items.jsonl", table='x"; DROP TABLE corpus.committed; --'), {"data/items.jsonl": GOOD_ROWS})
    case("sql_injection_column_name", source_yml("data/items.jsonl"), {"data/items.jsonl": '{"id": 1, "a\\"; DROP TABLE corpus.committed; --": "x", "b\'); DELETE FROM corpus.committed; --": "y"}\n'})
    case("path_injection_table_name", source_yml("data/items.jsonl", table="../../etc/passwd"), {"data/items.jsonl": GOOD_ROWS})
    case("path_injection_column_name", source_yml("data/items.jsonl"), {"data/items.jsonl": '{"id": 1, "../../etc/passwd": "x", "nested/../../x": [{"a": 1}]}\n'})
    case("path_injection_dataset_name", GOOD_YML.replace("dataset_name: corpus", 'dataset_name: "../../escape"'), good_data)

    # Plugins.
    fake_yml = GOOD_YML.replace("type: duckdb", "type: fake")
    case("plugin_not_a_plugin", fake_yml, dict(good_data, **{"plugins/libdestination_fake.so": open("/bin/true", "rb").read()}))
    case("plugin_empty_file", fake_yml, dict(good_data, **{"plugins/libdestination_fake.so": b""}))
    case("plugin_text_file", fake_yml, dict(good_data, **{"plugins/libdestination_fake.so": "not a library\n"}))
    case("plugin_missing", fake_yml, good_data)
    # A real shared library without the plugin's exported root module.
    with open("/lib/x86_64-linux-gnu/libz.so.1", "rb") as handle:
        case("plugin_other_library", fake_yml, dict(good_data, **{"plugins/libdestination_fake.so": handle.read()}))


if __name__ == "__main__":
    main()
