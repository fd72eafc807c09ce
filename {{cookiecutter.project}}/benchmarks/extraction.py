"""Extraction benchmark: the postgres source into staging, against `psql \\copy` out and back in.

    make bench
    .venv/bin/python benchmarks/extraction.py [--rows 1000000 5000000] [--repeat 2]

For each size N it builds a source table of N rows of the features dataset for one
day, as the data contract (model/contract.py) declares them (synthetic.py, with
generate_series in SQL), then, in the same run and on the same server:

- baseline: `psql \\copy (SELECT ...) TO file`, then `\\copy <table> FROM file` into
  a copy of the staging table partitioned the same way; rows/s = N / (time out + time in);
- ours: `extraction.extract()` for that day into the migrated staging table, in a
  fresh Python process per run, which also reports its peak RSS (VmHWM) and the
  increase over its RSS once the libraries are imported.

Targets: ours >= 0.3x the psql rows/s at the smallest size, and peak RSS at the
largest size <= 1.3x that at the smallest (memory bounded by EXTRACT_CHUNK_ROWS).
Exits 1 when a target fails (harness.py: where the warehouse comes from).
"""

from __future__ import annotations

import json
import os
import sys
from datetime import date, timedelta
from pathlib import Path

import harness
from harness import FEATURES, bench_env, measured, psql, run_child, sql

from {{ cookiecutter.project }}.config import SOURCE_KIND

DAY = date(2025, 3, 3)
RATIO_TARGET = 0.3  # ours / psql rows per second, at the smallest size
RSS_TARGET = 1.3  # peak RSS at the largest size / at the smallest


def main() -> int:
    args = harness.arguments(__doc__.split("\n\n")[0], [1_000_000, 5_000_000])
    if args.child is not None:
        return child()
    if SOURCE_KIND != "postgres":
        print(f"SKIP: this benchmark measures the postgres source; this project reads from {SOURCE_KIND}.")
        return 0
    if FEATURES.date_column is None:
        print("SKIP: the features dataset has no date_column (model/contract.py) to read one day by.")
        return 0
    with bench_env("extraction") as env:
        sql(
            env,
            "CREATE TABLE psql_staging (LIKE {staging} INCLUDING ALL) PARTITION BY LIST (data_date);"
            f" CREATE TABLE psql_staging_day PARTITION OF psql_staging FOR VALUES IN ('{DAY}')",
        )
        results = [measure(env, n, args.repeat) for n in args.rows]
    return report(results, env["EXTRACT_CHUNK_ROWS"])


def quiesce(env: dict[str, str]) -> None:
    """Empty both staging tables and flush dirty pages, so each timed run starts alike."""
    sql(env, "TRUNCATE {staging}, psql_staging, staging_batches")
    harness.checkpoint(env)


def measure(env: dict[str, str], n: int, repeat: int) -> dict:
    print(f"-- {n:,} rows: building the source table", file=sys.stderr, flush=True)
    harness.source_table(env, FEATURES, DAY, n)
    psql_runs, ours_runs = [], []
    for _ in range(repeat):
        psql_runs.append(run_psql(env, n))
        ours_runs.append(run_ours(env, n))
    sql(env, "DROP TABLE {src}.{source}")
    quiesce(env)
    best_psql = min(psql_runs, key=lambda r: r["out"] + r["in"])
    best_ours = min(ours_runs, key=lambda r: r["seconds"])
    return {
        "rows": n,
        "psql_out": best_psql["out"],
        "psql_in": best_psql["in"],
        "psql_rps": n / (best_psql["out"] + best_psql["in"]),
        "ours_seconds": best_ours["seconds"],
        "ours_rps": n / best_ours["seconds"],
        "rss_base_mb": max(r["rss_base_kb"] for r in ours_runs) / 1024,
        "rss_peak_mb": max(r["rss_peak_kb"] for r in ours_runs) / 1024,
        "rss_increase_mb": max(r["rss_peak_kb"] - r["rss_base_kb"] for r in ours_runs) / 1024,
    }


def run_psql(env: dict[str, str], n: int) -> dict:
    src = env["SOURCE_SCHEMA"]
    data = Path(env["STATE_DIR"]).parent / "psql_copy.dat"
    columns = ", ".join(f'"{c}"' for c in FEATURES.names)
    date_column = f'"{FEATURES.date_column}"'
    where = f"{date_column} >= DATE '{DAY}' AND {date_column} < DATE '{DAY + timedelta(days=1)}'"
    select = f"SELECT DATE '{DAY}', {columns} FROM {src}.\"{FEATURES.name}\" WHERE {where}"  # noqa: S608
    quiesce(env)
    timings = {
        "out": psql(env, f"\\copy ({select}) TO '{data}'"),
        "in": psql(env, f"\\copy psql_staging (data_date, {columns}) FROM '{data}'"),
    }
    copied = sql(env, "SELECT count(*) FROM psql_staging")[0][0]
    data.unlink()
    if copied != n:
        raise SystemExit(f"psql baseline copied {copied} rows, expected {n}")
    return timings


def run_ours(env: dict[str, str], n: int) -> dict:
    """extract() in a fresh interpreter, so each size's peak RSS is its own."""
    quiesce(env)
    result = run_child(__file__, env)
    staged = sql(env, "SELECT count(*) FROM {staging}")[0][0]
    if result["result"] != n or staged != n:
        raise SystemExit(f"extract staged {staged} rows (returned {result['result']}), expected {n}")
    return result


def child() -> int:
    """Import everything extract() uses, then extract one day: time and RSS as JSON."""
    from {{ cookiecutter.project }}.extraction import extract
    from {{ cookiecutter.project }}.interval import Interval
    from {{ cookiecutter.project }}.sources import open_source

    config = harness.settings(dict(os.environ))
    open_source(config)  # imports the adapter module and what it uses
    print(json.dumps(measured(lambda: extract(config, FEATURES, Interval.day(DAY), "bench"))))
    return 0


def report(results: list[dict], chunk_rows: str) -> int:
    print(
        f"\nExtraction benchmark: postgres source -> staging (EXTRACT_CHUNK_ROWS={chunk_rows}, "
        f"{os.cpu_count()} CPUs)\n"
    )
    harness.table(
        (
            "rows",
            "psql out s",
            "psql in s",
            "psql rows/s",
            "ours s",
            "ours rows/s",
            "ratio",
            "peak RSS MB",
            "RSS +MB",
        ),
        [
            (
                f"{r['rows']:,}",
                f"{r['psql_out']:.2f}",
                f"{r['psql_in']:.2f}",
                f"{r['psql_rps']:,.0f}",
                f"{r['ours_seconds']:.2f}",
                f"{r['ours_rps']:,.0f}",
                f"{r['ours_rps'] / r['psql_rps']:.2f}",
                f"{r['rss_peak_mb']:.0f}",
                f"{r['rss_increase_mb']:.0f}",
            )
            for r in results
        ],
    )
    print(
        f"\n(ours: peak RSS of a fresh process running extract(); RSS +MB is the peak minus its RSS"
        f" after imports, {results[0]['rss_base_mb']:.0f} MB)"
    )
    small = results[0]
    ratio = small["ours_rps"] / small["psql_rps"]
    checks = [
        (
            f"ours/psql rows/s at {small['rows']:,} rows = {ratio:.2f} (target >= {RATIO_TARGET})",
            ratio >= RATIO_TARGET,
        )
    ]
    checks += harness.rss_growth("peak RSS", results, "rss_peak_mb", RSS_TARGET)
    return harness.verdict(checks)


if __name__ == "__main__":
    sys.exit(main())
