#!/usr/bin/env python3
"""Write a deterministic JSON Lines feed of nested web events (standard library only).

Usage: gen_events.py --rows N [--seed S] --out PATH

The same (N, seed) always gives the same bytes on any Python 3 version,
because every draw goes through random.Random.random() and plain arithmetic
(choice() and randrange() changed between versions). A file of N rows is a
prefix of the file of any larger N with the same seed.

Each row has 15 keys, all always present (None is written as null):
  id int (row number + 1), event_type str (8 values), user_id int,
  session_id str (16 hex digits), created_at str (ISO 8601 UTC, ascending),
  amount float or null (set only for purchase and refund), quantity int,
  is_mobile bool, country str, score float, referrer str or null (35% null),
  updated_at str or null (60% null), user_agent str,
  device {os, os_version, screen_width}: dlt flattens it into device__* columns,
  items [0-4 x {sku, qty, unit_price}]: dlt unnests it into <table>__items.

Origin: the project's reference event generator. This copy keeps its draw
order, so seed 42 gives the same files (the sha256 of 100,000 rows starts
with 4c86f270).
"""
import argparse
import json
import random
import sys
from datetime import datetime, timedelta, timezone

# Weighted choice tables: an entry repeated k times is drawn k times as often.
EVENT_TYPES = (
    ["page_view"] * 10 + ["click"] * 6 + ["search"] * 3 + ["add_to_cart"] * 2
    + ["purchase"] * 2 + ["signup", "logout", "refund"]
)
COUNTRIES = ("US", "DE", "GB", "FR", "IN", "BR", "JP", "CA", "AU", "ES",
             "IT", "NL", "SE", "PL", "MX", "KR", "CN", "ZA", "NG", "AR")
REFERRERS = ("https://www.google.com/", "https://news.ycombinator.com/",
             "https://t.co/x1y2z3", "https://www.bing.com/search?q=shoes",
             "https://duckduckgo.com/", "https://example.org/blog/post-17",
             "https://www.reddit.com/r/data/")
OPERATING_SYSTEMS = (("iOS", ("16.7", "17.4", "17.5", "18.0")),
                     ("Android", ("12", "13", "14", "15")),
                     ("Windows", ("10", "11")),
                     ("macOS", ("13.6", "14.4", "15.0")),
                     ("Linux", ("6.1", "6.8")))
SCREEN_WIDTHS = (360, 390, 412, 768, 1024, 1280, 1366, 1440, 1920, 2560)
USER_AGENTS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_4) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Safari/605.1.15",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148",
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/125.0 Mobile Safari/537.36",
    "Mozilla/5.0 (X11; Linux x86_64; rv:126.0) Gecko/20100101 Firefox/126.0",
    "okhttp/4.12.0",
)
SKU_PREFIXES = ("SKU-A", "SKU-B", "SKU-C", "SKU-D", "SKU-E", "SKU-F")
BASE_TIME = datetime(2024, 1, 1, tzinfo=timezone.utc)
LINES_PER_WRITE = 20000


class IsoFormatter:
    """Formats BASE_TIME + t microseconds as 2024-01-01T00:00:00.000000+00:00.

    Caches the date part per day, which is much faster than strftime per row.
    """

    def __init__(self):
        self.day_prefixes = {}

    def format(self, micros):
        seconds, us = divmod(micros, 1_000_000)
        day, seconds = divmod(seconds, 86400)
        prefix = self.day_prefixes.get(day)
        if prefix is None:
            prefix = (BASE_TIME + timedelta(days=day)).strftime("%Y-%m-%dT")
            self.day_prefixes[day] = prefix
        hours, seconds = divmod(seconds, 3600)
        minutes, seconds = divmod(seconds, 60)
        return "%s%02d:%02d:%02d.%06d+00:00" % (prefix, hours, minutes, seconds, us)


def pick(draw, values):
    return values[int(draw() * len(values))]


def generate_rows(rows, seed):
    """Yield the rows as dicts. The order of draw() calls fixes the output bytes."""
    draw = random.Random(seed).random
    iso = IsoFormatter().format
    micros = 0  # since BASE_TIME, strictly increasing
    for index in range(rows):
        micros += 1 + int(draw() * 2_000_000)
        event_type = pick(draw, EVENT_TYPES)
        os_name, os_versions = pick(draw, OPERATING_SYSTEMS)
        item_count = int(draw() * 5)
        items = []
        for _ in range(item_count):
            sku = "%s%05d" % (pick(draw, SKU_PREFIXES), int(draw() * 100000))
            qty = 1 + int(draw() * 5)
            items.append({"sku": sku, "qty": qty, "unit_price": round(0.5 + draw() * 200.0, 2)})
        # Dict literal evaluation order is the draw order, so keep the keys in this order.
        yield {
            "id": index + 1,
            "event_type": event_type,
            "user_id": 1 + int(draw() * 200000),
            "session_id": "%08x%08x" % (int(draw() * 4294967296.0), int(draw() * 4294967296.0)),
            "created_at": iso(micros),
            "amount": round(1.0 + draw() * 500.0, 2) if event_type in ("purchase", "refund") else None,
            "quantity": int(draw() * 10),
            "is_mobile": os_name in ("iOS", "Android"),
            "country": pick(draw, COUNTRIES),
            "score": round(draw(), 6),
            "referrer": pick(draw, REFERRERS) if draw() >= 0.35 else None,
            "updated_at": iso(micros + 1_000_000 * (1 + int(draw() * 86400))) if draw() >= 0.6 else None,
            "device": {"os": os_name,
                       "os_version": pick(draw, os_versions),
                       "screen_width": pick(draw, SCREEN_WIDTHS)},
            "items": items,
            "user_agent": pick(draw, USER_AGENTS),
        }


def write_jsonl(rows, seed, out):
    encode = json.JSONEncoder(ensure_ascii=True, separators=(",", ":")).encode
    lines = []
    for row in generate_rows(rows, seed):
        lines.append(encode(row))
        if len(lines) >= LINES_PER_WRITE:
            out.write("\n".join(lines) + "\n")
            lines = []
    if lines:
        out.write("\n".join(lines) + "\n")


def main(argv=None):
    parser = argparse.ArgumentParser(description="Write N deterministic JSON Lines event rows.")
    parser.add_argument("--rows", type=int, required=True, help="number of rows to write")
    parser.add_argument("--seed", type=int, default=42, help="random seed (default 42)")
    parser.add_argument("--out", required=True, help="output file, or - for stdout")
    args = parser.parse_args(argv)
    if args.rows < 0:
        parser.error("--rows must be 0 or more, got %d" % args.rows)
    if args.out == "-":
        write_jsonl(args.rows, args.seed, sys.stdout)
    else:
        with open(args.out, "w", encoding="ascii", newline="\n") as out:
            write_jsonl(args.rows, args.seed, out)


if __name__ == "__main__":
    main()
