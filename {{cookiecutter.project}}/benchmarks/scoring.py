"""Scoring benchmark: `scoring.predict` against psql's pipeline and the naive pandas path.

    make bench-score
    .venv/bin/python benchmarks/scoring.py [--rows 1000000 5000000] [--repeat 2]

For each size N: a features partition of N rows for one day, made from the data
contract and staged server-side (harness.py), marked validated, and a champion
fitted on synthetic rows. Then, on the same server and into the same table
definition (a partitioned copy of `predictions`, keys and indexes included):

- ours: `scoring.predict()` in a fresh process; scikit-learn is imported first, a
  cost every process pays once whatever it scores;
- psql: `\\copy (the partition's rows) TO file`, then `\\copy <copy of predictions>
  FROM file` of the same prediction rows; rows/s = N / (time out + time in);
- naive, at the smallest size: pandas `read_sql`, the model, `to_sql`, in a fresh process;
- write alone: the prediction rows, already in memory, written as `predict` writes
  them (binary COPY into a staged partition, then the swap), against psql's `\\copy in`.

Targets: ours >= 0.9x psql's pipeline at every size and >= 8x the naive path at the
smallest; peak RSS at the largest size <= 1.1x at the smallest; the write alone
>= 0.9x psql's `\\copy in`. Exits 1 when a target fails.
"""

from __future__ import annotations

import json
import os
import sys
from datetime import date, timedelta
from pathlib import Path

import harness
from harness import FEATURES, bench_env, measured, psql, run_child, sql

DAY = date(2025, 3, 3)
PSQL_TARGET, NAIVE_TARGET, RSS_TARGET, WRITE_TARGET = 0.9, 8.0, 1.1, 0.9
COLUMNS = "data_date, entity_id, score, model_version, predicted_at, run_id"
WRITTEN = f"SELECT {COLUMNS} FROM predictions WHERE data_date = '{DAY}'"  # noqa: S608  (the rows predict wrote)


def main() -> int:
    args = harness.arguments(__doc__.split("\n\n")[0], [1_000_000, 5_000_000])
    if args.child is not None:
        return child(*args.child)
    with bench_env("scoring") as env:
        champion(env)
        sql(
            env,
            "CREATE TABLE psql_predictions (LIKE predictions INCLUDING ALL) PARTITION BY LIST (data_date);"
            f" CREATE TABLE psql_predictions_day PARTITION OF psql_predictions FOR VALUES IN ('{DAY}')",
        )
        results = [measure(env, n, args.repeat, naive=n == args.rows[0]) for n in args.rows]
    return report(results, env["EXTRACT_CHUNK_ROWS"])


def champion(env: dict[str, str]) -> None:
    """A model fitted on synthetic labelled rows of the contract, registered and promoted."""
    from {{ cookiecutter.project }} import registry
    from {{ cookiecutter.project }}.model.contract import CONTRACT
    from {{ cookiecutter.project }}.model.estimator import build_estimator
    from {{ cookiecutter.project }}.model.features import build_features
    from {{ cookiecutter.project }}.staging import conform
    from {{ cookiecutter.project }}.synthetic import features, labels

    day = DAY - timedelta(days=1)
    rows = conform(features(day, 500), FEATURES, day).merge(
        labels(day, day, 500)[[CONTRACT.key, CONTRACT.label]], on=CONTRACT.key
    )
    estimator = build_estimator().fit(build_features(rows), rows[CONTRACT.label].to_numpy(dtype=float))
    config = harness.settings(env)
    version = registry.register(config, estimator, {}, day, DAY, len(rows), "benchmark")
    registry.decide(config, version.version, True, "benchmark", "benchmark")


def measure(env: dict[str, str], n: int, repeat: int, naive: bool) -> dict:
    print(f"-- {n:,} rows: staging the partition", file=sys.stderr, flush=True)
    harness.source_table(env, FEATURES, DAY, n)
    harness.stage(env, FEATURES, DAY)
    harness.mark_validated(env, DAY)
    files = {name: Path(env["STATE_DIR"]).parent / f"{name}.dat" for name in ("features", "predictions")}
    ours, psqls, writes = [], [], []
    for _ in range(repeat):
        harness.checkpoint(env)
        ours.append(checked(run_child(__file__, env, "predict"), n))
        psql(env, f"\\copy ({WRITTEN}) TO '{files['predictions']}'")
        psqls.append(run_psql(env, files))
        harness.checkpoint(env)
        writes.append(checked(run_child(__file__, env, "write"), n))
    slow = checked(run_child(__file__, env, "naive"), n) if naive else None
    for file in files.values():
        file.unlink()
    sql(env, "DROP TABLE {src}.{source}")
    best_psql = min(psqls, key=lambda r: r["out"] + r["in"])
    return {
        "rows": n,
        "ours_s": min(r["seconds"] for r in ours),
        "rss_peak_mb": max(r["rss_peak_kb"] for r in ours) / 1024,
        "rss_base_mb": max(r["rss_base_kb"] for r in ours) / 1024,
        "psql_out_s": best_psql["out"],
        "psql_in_s": best_psql["in"],
        "write_s": min(r["seconds"] for r in writes),
        "naive_s": slow and slow["seconds"],
    }


def run_psql(env: dict[str, str], files: dict[str, Path]) -> dict:
    columns = ", ".join(f'"{c}"' for c in ["data_date", *FEATURES.names])
    query = f"SELECT {columns} FROM \"{FEATURES.table}\" WHERE data_date = '{DAY}'"  # noqa: S608
    sql(env, "TRUNCATE psql_predictions")
    harness.checkpoint(env)
    return {
        "out": psql(env, f"\\copy ({query}) TO '{files['features']}'"),
        "in": psql(env, f"\\copy psql_predictions ({COLUMNS}) FROM '{files['predictions']}'"),
    }


def checked(result: dict, n: int) -> dict:
    if result["result"] != n:
        raise SystemExit(f"wrote {result['result']} prediction rows, expected {n}")
    return result


def child(what: str) -> int:
    """In a fresh process: `predict`, `write` (the rows predict wrote, again) or `naive`."""
    import sklearn.pipeline  # noqa: F401  (imported by any process that loads a model, once)

    from {{ cookiecutter.project }}.interval import Interval
    from {{ cookiecutter.project }}.scoring import predict

    config = harness.settings(dict(os.environ))
    if what == "predict":
        run = measured(lambda: predict(config, Interval.day(DAY), "benchmark"))
    elif what == "write":
        frames = list(prediction_rows(config))
        run = measured(lambda: write(config, frames))
    else:
        run = measured(lambda: naive(config))
    print(json.dumps(run))
    return 0


def prediction_rows(config):
    """The day's prediction rows, in frames of EXTRACT_CHUNK_ROWS, as predict makes them."""
    from {{ cookiecutter.project }}.warehouse import connect
    from {{ cookiecutter.project }}.warehouse.bulk import stream_frames

    conn = connect(config)
    try:
        yield from stream_frames(conn, WRITTEN, (), config.chunk_rows, typed=True)
    finally:
        conn.close()


def write(config, frames) -> int:
    """What predict does with its frames: one binary COPY into a staged partition, then the swap."""
    from {{ cookiecutter.project }}.warehouse import partitions, transaction
    from {{ cookiecutter.project }}.warehouse.bulk import copy_frames

    with transaction(config) as conn, partitions.replacing(conn, "predictions", DAY) as staged:
        return copy_frames(conn, staged, frames)


def naive(config) -> int:
    """The path a typical user writes: the partition into pandas, scored, written with to_sql."""
    import pandas as pd
    from sqlalchemy import create_engine, text

    from {{ cookiecutter.project }} import model, registry
    from {{ cookiecutter.project }}.model.contract import CONTRACT
    from {{ cookiecutter.project }}.model.features import build_features
    from {{ cookiecutter.project }}.warehouse import connect

    engine = create_engine("postgresql+psycopg2://", creator=lambda: connect(config))
    columns = ", ".join(f'"{c}"' for c in ["data_date", *FEATURES.names])
    query = text(f'SELECT {columns} FROM "{FEATURES.table}" WHERE data_date = :day')  # noqa: S608
    rows = pd.read_sql(query, engine, params={"day": DAY})
    champion = registry.champion(config)
    scores = model.predict(registry.load(config, champion), build_features(rows))
    out = pd.DataFrame(
        {
            "data_date": rows["data_date"],
            "entity_id": rows[CONTRACT.key],
            "score": scores,
            "model_version": champion.version,
            "predicted_at": pd.Timestamp.now(tz="UTC"),
            "run_id": "naive",
        }
    )
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM psql_predictions WHERE data_date = :day"), {"day": DAY})
        out.to_sql("psql_predictions", conn, if_exists="append", index=False)
    engine.dispose()
    return len(out)


def report(results: list[dict], chunk_rows: str) -> int:
    print(
        f"\nScoring benchmark: staged partition -> predictions (EXTRACT_CHUNK_ROWS={chunk_rows}, "
        f"{os.cpu_count()} CPUs)\n"
    )
    for r in results:
        r["ours_rps"] = r["rows"] / r["ours_s"]
        r["psql_rps"] = r["rows"] / (r["psql_out_s"] + r["psql_in_s"])
        r["write_ratio"] = r["psql_in_s"] / r["write_s"]
    harness.table(
        (
            "rows",
            "ours s",
            "ours rows/s",
            "psql out s",
            "psql in s",
            "psql rows/s",
            "vs psql",
            "naive s",
            "vs naive",
            "write s",
            "write/psql",
            "peak RSS MB",
        ),
        [
            (
                f"{r['rows']:,}",
                f"{r['ours_s']:.2f}",
                f"{r['ours_rps']:,.0f}",
                f"{r['psql_out_s']:.2f}",
                f"{r['psql_in_s']:.2f}",
                f"{r['psql_rps']:,.0f}",
                f"{r['ours_rps'] / r['psql_rps']:.2f}",
                f"{r['naive_s']:.2f}" if r["naive_s"] else "-",
                f"{r['naive_s'] / r['ours_s']:.1f}" if r["naive_s"] else "-",
                f"{r['write_s']:.2f}",
                f"{r['write_ratio']:.2f}",
                f"{r['rss_peak_mb']:.0f}",
            )
            for r in results
        ],
    )
    print(
        f"\n(peak RSS of a fresh process running predict(); {results[0]['rss_base_mb']:.0f} MB after imports)"
    )
    small = results[0]
    checks = [
        (
            f"ours/psql pipeline at {r['rows']:,} rows = {r['ours_rps'] / r['psql_rps']:.2f} (target >= {PSQL_TARGET})",
            r["ours_rps"] / r["psql_rps"] >= PSQL_TARGET,
        )
        for r in results
    ]
    speedup = small["naive_s"] / small["ours_s"]
    checks.append(
        (
            f"ours/naive at {small['rows']:,} rows = {speedup:.1f} (target >= {NAIVE_TARGET:g})",
            speedup >= NAIVE_TARGET,
        )
    )
    checks += harness.rss_growth("peak RSS", results, "rss_peak_mb", RSS_TARGET)
    checks += [
        (
            f"write alone / psql \\copy in at {r['rows']:,} rows = {r['write_ratio']:.2f} (target >= {WRITE_TARGET})",
            r["write_ratio"] >= WRITE_TARGET,
        )
        for r in results
    ]
    return harness.verdict(checks)


if __name__ == "__main__":
    sys.exit(main())
