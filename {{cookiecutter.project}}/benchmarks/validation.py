"""Validation benchmark: the gate in the warehouse, against the whole partition read into a frame.

    make bench
    .venv/bin/python benchmarks/validation.py [--rows 1000000 5000000] [--repeat 2]

For each size N: a features partition of N rows, made from the data contract and
staged server-side (harness.py). Then, each in a fresh process, on the same rules
(the contract's base rules and model/expectations.py):

- ours: `validation.validate()`, Great Expectations' SQL execution engine on the
  staged partition, writing its `validation_runs` row and report;
- frame: the gate before it, the whole partition read with the contract's dtypes
  (`staging.read`) and validated as a DataFrame (`validate_frame`).

Targets: ours' peak RSS at the largest size <= 1.3x at the smallest, and ours' wall
time at the largest size <= 1.5x the frame's. Exits 1 when a target fails.
"""

from __future__ import annotations

import json
import os
import sys
from datetime import date

import harness
from harness import FEATURES, bench_env, measured, run_child

DAY = date(2025, 3, 3)
RSS_TARGET, TIME_TARGET = 1.3, 1.5


def main() -> int:
    args = harness.arguments(__doc__.split("\n\n")[0], [1_000_000, 5_000_000])
    if args.child is not None:
        return child(*args.child)
    with bench_env("validation") as env:
        results = [measure(env, n, args.repeat) for n in args.rows]
    return report(results)


def measure(env: dict[str, str], n: int, repeat: int) -> dict:
    print(f"-- {n:,} rows: staging the partition", file=sys.stderr, flush=True)
    harness.source_table(env, FEATURES, DAY, n)
    harness.stage(env, FEATURES, DAY)
    runs = {"ours": [], "frame": []}
    for _ in range(repeat):
        for way, measured_runs in runs.items():
            harness.checkpoint(env)
            measured_runs.append(run_child(__file__, env, way))
    harness.sql(env, "DROP TABLE {src}.{source}")
    result = {"rows": n}
    for way, measured_runs in runs.items():
        result[f"{way}_s"] = min(r["seconds"] for r in measured_runs)
        result[f"{way}_peak_mb"] = max(r["rss_peak_kb"] for r in measured_runs) / 1024
        result[f"{way}_added_mb"] = max(r["rss_peak_kb"] - r["rss_base_kb"] for r in measured_runs) / 1024
        result[f"{way}_passed"] = all(r["result"] for r in measured_runs)
    return result


def child(way: str) -> int:
    """In a fresh process, GX and the project imported first: validate one way, report JSON."""
    from {{ cookiecutter.project }}.validation.runner import quiet_gx_logging

    quiet_gx_logging()
    import great_expectations.expectations  # noqa: F401  (seconds to import, the same for both ways)

    from {{ cookiecutter.project }}.interval import Interval
    from {{ cookiecutter.project }}.validation import ValidationFailed, validate

    config = harness.settings(dict(os.environ))

    def ours() -> bool:
        try:
            return validate(config, Interval.day(DAY), "benchmark").success
        except ValidationFailed:  # a contract whose rules reject millions of rows: still timed
            return False

    print(json.dumps(measured(ours if way == "ours" else lambda: frame(config))))
    return 0


def frame(config) -> bool:
    from {{ cookiecutter.project }} import staging
    from {{ cookiecutter.project }}.model import expectations
    from {{ cookiecutter.project }}.model.contract import CONTRACT
    from {{ cookiecutter.project }}.validation.rules import base_rules
    from {{ cookiecutter.project }}.validation.runner import validate_frame
    from {{ cookiecutter.project }}.warehouse import transaction

    with transaction(config) as conn:
        rows = staging.read(conn, staging.select(FEATURES), (DAY,), FEATURES.dtypes)[FEATURES.names]
    rules = base_rules(FEATURES, CONTRACT.key) + expectations.expectations()
    return validate_frame(
        rows, rules, suite_name="frame", run_name="frame", reports_dir=config.reports_dir
    ).success


def report(results: list[dict]) -> int:
    print(f"\nValidation benchmark: one staged partition, {os.cpu_count()} CPUs\n")
    harness.table(
        (
            "rows",
            "ours s",
            "ours RSS MB",
            "ours +MB",
            "frame s",
            "frame RSS MB",
            "frame +MB",
            "time/frame",
            "passed",
        ),
        [
            (
                f"{r['rows']:,}",
                f"{r['ours_s']:.2f}",
                f"{r['ours_peak_mb']:.0f}",
                f"{r['ours_added_mb']:.0f}",
                f"{r['frame_s']:.2f}",
                f"{r['frame_peak_mb']:.0f}",
                f"{r['frame_added_mb']:.0f}",
                f"{r['ours_s'] / r['frame_s']:.2f}",
                "yes" if r["ours_passed"] else "no",
            )
            for r in results
        ],
    )
    print("\n(+MB: peak RSS of the process minus its RSS once GX and the project are imported)")
    large = results[-1]
    ratio = large["ours_s"] / large["frame_s"]
    checks = [
        (
            f"ours/frame wall time at {large['rows']:,} rows = {ratio:.2f} (target <= {TIME_TARGET})",
            ratio <= TIME_TARGET,
        )
    ]
    checks += harness.rss_growth("ours' peak RSS", results, "ours_peak_mb", RSS_TARGET)
    return harness.verdict(checks)


if __name__ == "__main__":
    sys.exit(main())
