#!/usr/bin/env python3
"""Prints the side-by-side table of bench/compare.sh from the reports it kept.

    python3 bench/table.py DIR

DIR holds one file per scenario and hub, NAME.tracetail and NAME.nchan, each with the load
generator's JSON reports, one per line (a rate-stepped fan-out has one line per step).
"""

import json
import sys
from pathlib import Path


def reports(directory, name, hub):
    path = Path(directory) / f"{name}.{hub}"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def first(directory, name, hub):
    found = reports(directory, name, hub)
    return found[0] if found else None


def kib(value):
    return None if value is None else value / 1024


def cpu(report):
    server = report and report.get("server")
    return server and server["cpu_percent"]


def lost(report):
    if report is None:
        return None
    counts = report["counts"]
    return counts["lost"] + counts["duplicates"]


def fanout_rows(directory, name, label):
    rows = []
    by_rate = {}
    for hub in ("tracetail", "nchan"):
        for report in reports(directory, name, hub):
            by_rate.setdefault(report["rate"], {})[hub] = report
    for rate in sorted(by_rate):
        pair = by_rate[rate]
        get = lambda key: [key(pair[h]) if h in pair else None for h in ("tracetail", "nchan")]
        prefix = f"{label} @ {rate:,} ev/s"
        rows.append((f"{prefix}: deliveries/s", *get(lambda r: r["deliveries_per_second"]), "x", 0))
        rows.append((f"{prefix}: p99 ms", *get(lambda r: r["latency"]["p99_ms"]), "x", 1))
        rows.append((f"{prefix}: lost + duplicated", *get(lost), "", 0))
        rows.append((f"{prefix}: server CPU %", *get(cpu), "x", 0))
    return rows


def main(directory):
    rows = []
    for name, label in (("idle1k", "1,000"), ("idle15k", "15,000")):
        t, n = (first(directory, name, hub) for hub in ("tracetail", "nchan"))
        per = lambda r: r and kib(r.get("bytes_per_connection"))
        rows.append((f"idle: KiB per connection at {label}", per(t), per(n), "x", 1))
    rows += fanout_rows(directory, "fanout", "fan-out to 1,000")
    rows += fanout_rows(directory, "wide", "15,000 subscribers")

    t, n = (first(directory, "resume", hub) for hub in ("tracetail", "nchan"))
    get = lambda key: [r and key(r) for r in (t, n)]
    rows.append(("resume storm: seconds to catch up", *get(lambda r: r["catch_up_seconds"]), "x", 3))
    rows.append(("resume storm: exact", *get(lambda r: "yes" if r["exact"] else "NO"), "", 0))
    rows.append(("resume storm: lost + duplicated", *get(lost), "", 0))

    t, n = (first(directory, "ingest", hub) for hub in ("tracetail", "nchan"))
    rows.append((
        "ingest records/s (fsync ack vs memory ack)",
        t and t["records_per_second"],
        n and n["publish"]["acked_per_second"],
        "x",
        0,
    ))
    rows.append(("ingest: server CPU %", cpu(t), cpu(n), "x", 0))

    print(f"| {'scenario':<48} | {'tracetail':>12} | {'Nchan':>12} | {'ratio':>7} |")
    print(f"|{'-' * 50}|{'-' * 14}:|{'-' * 14}:|{'-' * 9}:|")
    for label, ours, theirs, ratio, digits in rows:
        show = lambda v: "-" if v is None else v if isinstance(v, str) else f"{v:,.{digits}f}"
        both = isinstance(ours, (int, float)) and isinstance(theirs, (int, float))
        quotient = f"{ours / theirs:.2f}x" if ratio and both and theirs else ""
        print(f"| {label:<48} | {show(ours):>12} | {show(theirs):>12} | {quotient:>7} |")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    main(sys.argv[1])
