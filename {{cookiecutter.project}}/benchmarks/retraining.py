"""Retraining benchmark: `training.train()` on one window, with only the window staged, then with
a long history staged before it.

    make bench
    .venv/bin/python benchmarks/retraining.py [--rows 1000000] [--history 16000000] [--repeat 2]

The window is WINDOW_DAYS days of labels (N rows in all), each day's labelling the
features partition of the day before, made from the data contract and staged
server-side (harness.py) and marked validated. `train()` runs in a fresh process,
after one untimed run: first with only the window staged, then with HISTORY more
rows of both datasets staged on the days before it (17M rows staged in all, by default).

Target: train() with the history staged takes <= 1.2x the time with the window
alone. Exits 1 when it does not.
"""

from __future__ import annotations

import json
import os
import sys
from datetime import date, timedelta

import harness
from harness import FEATURES, LABELS, bench_env, measured, run_child
from psycopg2 import sql as pgsql

from {{ cookiecutter.project }}.model.contract import CONTRACT

END = date(2025, 6, 2)  # the retrain interval ends here
WINDOW_DAYS, TARGET = 10, 1.2


def main() -> int:
    args = harness.arguments(__doc__.split("\n\n")[0], [1_000_000], history=16_000_000)
    if args.child is not None:
        return child()
    rows = args.rows[0]
    per_day = rows // WINDOW_DAYS
    with bench_env("retraining", TRAINING_WINDOW_DAYS=str(WINDOW_DAYS)) as env:
        harness.source_table(env, FEATURES, END, per_day)
        print(f"-- staging the window: {WINDOW_DAYS} days of {per_day:,} rows", file=sys.stderr, flush=True)
        stage_days(env, range(1, WINDOW_DAYS + 1))
        alone = timed(env, args.repeat)
        days = args.history // per_day
        print(f"-- staging the history: {days} more days of {per_day:,} rows", file=sys.stderr, flush=True)
        stage_days(env, range(WINDOW_DAYS + 1, WINDOW_DAYS + 1 + days))
        staged = harness.sql(
            env, "SELECT sum(row_count) FROM staging_batches WHERE dataset = %s", (FEATURES.name,)
        )[0][0]
        with_history = timed(env, args.repeat)
    return report(rows, staged, alone, with_history)


def timed(env: dict[str, str], repeat: int) -> list[dict]:
    """`repeat` runs of train(), after one untimed: staging 16M rows just before has pushed the
    window out of the caches, and the comparison is of the queries, not of the cache."""
    run_child(__file__, env)
    return [run_child(__file__, env) for _ in range(repeat)]


def stage_days(env: dict[str, str], days_before_end: range) -> None:
    """Labels observed on each of these days before END, and the validated features they label:
    the labels are made from the features' source rows, so that every key has its label."""
    for back in days_before_end:
        observed = END - timedelta(days=back)
        labelled = observed - timedelta(days=1)
        values = {CONTRACT.labelled_date: harness.day_literal(labelled), CONTRACT.label: label()}
        harness.stage(env, LABELS, observed, values, source=FEATURES)
        harness.stage(env, FEATURES, labelled)
        harness.mark_validated(env, labelled)


def label() -> pgsql.Composable:
    """Two classes (or two values), by the key's hash: any estimator can fit them."""
    kind = LABELS.column(CONTRACT.label)
    bit = pgsql.SQL("(hashtext({}::text) & 1)").format(pgsql.Identifier(CONTRACT.key))
    if kind.type == "boolean":
        return pgsql.SQL("{} = 1").format(bit)
    return pgsql.SQL("{}::{}").format(bit, pgsql.SQL(kind.type))


def child() -> int:
    """In a fresh process, scikit-learn and the project imported first: train once, report JSON."""
    from {{ cookiecutter.project }}.interval import Interval
    from {{ cookiecutter.project }}.model import metrics  # noqa: F401  (scikit-learn, imported once per process)
    from {{ cookiecutter.project }}.model.estimator import build_estimator  # noqa: F401
    from {{ cookiecutter.project }}.training import train

    config = harness.settings(dict(os.environ))
    run = measured(lambda: train(config, Interval.day(END - timedelta(days=1)), "benchmark")["version"])
    print(json.dumps(run))
    return 0


def report(rows: int, staged: int, alone: list[dict], with_history: list[dict]) -> int:
    print(f"\nRetraining benchmark: train() on a window of {rows:,} labelled rows, {os.cpu_count()} CPUs\n")
    best = {
        name: min(r["seconds"] for r in runs) for name, runs in (("alone", alone), ("history", with_history))
    }
    harness.table(
        ("staged rows", "train() s", "peak RSS MB"),
        [
            (f"{rows:,}", f"{best['alone']:.2f}", f"{max(r['rss_peak_kb'] for r in alone) / 1024:.0f}"),
            (
                f"{staged:,}",
                f"{best['history']:.2f}",
                f"{max(r['rss_peak_kb'] for r in with_history) / 1024:.0f}",
            ),
        ],
    )
    print("\n(staged rows: of the features; as many labels are staged)")
    ratio = best["history"] / best["alone"]
    return harness.verdict(
        [
            (
                f"train() with {staged:,} features rows staged / with the window alone = {ratio:.2f}"
                f" (target <= {TARGET})",
                ratio <= TARGET,
            )
        ]
    )


if __name__ == "__main__":
    sys.exit(main())
