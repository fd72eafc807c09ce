"""What the benchmarks share: a warehouse in schemas of their own, data from the contract, psql,
measured child processes and the PASS / FAIL verdict.

The embedded PostgreSQL is started in a temporary folder unless WAREHOUSE_URL is
set; then a benchmark works in schemas of its own and drops them afterwards.
Rows come from the data contract (synthetic.py), built by PostgreSQL itself with
generate_series, so millions take seconds and no column of any dataset is named here.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
import warnings
from datetime import date
from pathlib import Path

import psycopg2
from psycopg2 import sql as pgsql

from {{ cookiecutter.project }}.config import Settings
from {{ cookiecutter.project }}.datasets import Dataset
from {{ cookiecutter.project }}.model.contract import CONTRACT
from {{ cookiecutter.project }}.synthetic import source_table_sql
from {{ cookiecutter.project }}.warehouse import migrate

FEATURES, LABELS = CONTRACT.features, CONTRACT.labels


def arguments(description: str, default_rows: list[int], **extra: int) -> argparse.Namespace:
    """--rows, --repeat, and an integer option for each of `extra` (name=default)."""
    parser = argparse.ArgumentParser(description=description)
    for name, default in extra.items():
        parser.add_argument(f"--{name}", type=int, default=default, metavar="N", help=f"(default: {default})")
    parser.add_argument(
        "--rows",
        type=int,
        nargs="+",
        default=default_rows,
        metavar="N",
        help=f"sizes to measure (default: {' '.join(map(str, default_rows))})",
    )
    parser.add_argument(
        "--repeat",
        type=int,
        default=1,
        metavar="K",
        help="runs per size and method; the fastest counts, RSS is the highest (default 1)",
    )
    parser.add_argument("--child", nargs="*", help=argparse.SUPPRESS)
    args = parser.parse_args()
    args.rows, args.repeat = sorted(set(args.rows)), max(args.repeat, 1)
    return args


class bench_env:
    """Environment for the benchmark's Settings: a warehouse, fresh schemas, a temp state folder."""

    def __init__(self, name: str, **extra: str):
        self.name, self.extra = name, extra

    def __enter__(self) -> dict[str, str]:
        self.tmp = Path(tempfile.mkdtemp(prefix=f"bench-{self.name}-"))
        self.server = None
        url = os.environ.get("WAREHOUSE_URL")
        if not url:
            from {{ cookiecutter.project }}.warehouse.embedded import embedded_server

            self.server = embedded_server(self.tmp / "pgdata", cleanup_mode="delete")
            url = self.server.get_uri()
        suffix = uuid.uuid4().hex[:8]
        self.env = {
            "STATE_DIR": str(self.tmp / "state"),
            "WAREHOUSE_URL": url,
            "WAREHOUSE_SCHEMA": f"bench_{suffix}",
            "SOURCE_SCHEMA": f"bench_src_{suffix}",
            "EXTRACT_CHUNK_ROWS": os.environ.get("EXTRACT_CHUNK_ROWS", "100000"),
            **self.extra,
        }
        migrate(settings(self.env))
        sql(self.env, "CREATE SCHEMA {src}")
        return self.env

    def __exit__(self, *exc) -> None:
        try:
            if self.server is None:
                sql(self.env, "DROP SCHEMA {src} CASCADE; DROP SCHEMA {wh} CASCADE")
            else:
                self.server.cleanup()
        finally:
            shutil.rmtree(self.tmp, ignore_errors=True)


def settings(env: dict[str, str]) -> Settings:
    return Settings.from_env(env)


def sql(env: dict[str, str], statement, params=None, autocommit: bool = False):
    """Run statement(s), with {wh}, {src}, {staging} and {source} standing for the benchmark's
    schemas and the features' tables (psycopg2 `sql.Composed` statements run as they are), in the
    warehouse schema; returns the last rows."""
    conn = psycopg2.connect(env["WAREHOUSE_URL"], options=f"-c search_path={env['WAREHOUSE_SCHEMA']}")
    conn.autocommit = autocommit
    try:
        with conn.cursor() as cur:
            if isinstance(statement, str):
                names = {"staging": FEATURES.table, "source": FEATURES.name}
                statement = statement.format(wh=env["WAREHOUSE_SCHEMA"], src=env["SOURCE_SCHEMA"], **names)
            cur.execute(statement, params)
            rows = cur.fetchall() if cur.description else None
        if not autocommit:
            conn.commit()
        return rows
    finally:
        conn.close()


def checkpoint(env: dict[str, str]) -> None:
    """Flush dirty pages, so that each timed run starts alike."""
    try:
        sql(env, "CHECKPOINT", autocommit=True)
    except psycopg2.Error:  # needs superuser or pg_checkpoint on a configured server
        pass


# --------------------------------------------------------------------------- data from the contract


def source_table(env: dict[str, str], dataset: Dataset, day: date, n: int) -> None:
    """`src.<dataset name>`: n valid rows of `dataset` for `day` (synthetic.source_table_sql)."""
    sql(env, source_table_sql(dataset, env["SOURCE_SCHEMA"], day, n))
    sql(env, pgsql.SQL("VACUUM (FREEZE, ANALYZE) {}").format(_source(env, dataset)), autocommit=True)


def stage(
    env: dict[str, str],
    dataset: Dataset,
    day: date,
    values: dict | None = None,
    source: Dataset | None = None,
) -> int:
    """Stage the rows of `source`'s source table (default: the dataset's own) as `dataset`'s partition
    of `day` and record the batch, as an extraction would, server-side. `values`: SQL for some
    columns (the date column's is `day`); a column the source lacks is NULL."""
    source = source or dataset
    values = {**({dataset.date_column: day_literal(day)} if dataset.date_column else {}), **(values or {})}
    columns = pgsql.SQL(", ").join(
        values[c.name]
        if c.name in values
        else pgsql.Identifier(c.name)
        if c.name in source.names
        else pgsql.SQL("NULL::{}").format(pgsql.SQL(c.type))
        for c in dataset.columns
    )
    conn = psycopg2.connect(env["WAREHOUSE_URL"], options=f"-c search_path={env['WAREHOUSE_SCHEMA']}")
    try:
        with conn, conn.cursor() as cur:
            cur.execute("SELECT begin_partition(%s, %s)", (dataset.table, day))
            staged = cur.fetchone()[0]
            insert = pgsql.SQL("INSERT INTO {} SELECT %s, {} FROM {}")
            cur.execute(insert.format(pgsql.Identifier(staged), columns, _source(env, source)), (day,))
            rows = cur.rowcount
            cur.execute("SELECT publish_partition(%s, %s, ARRAY[%s])", (dataset.table, day, staged))
            cur.execute(
                """INSERT INTO staging_batches (dataset, data_date, row_count, source_columns, source, run_id)
                   VALUES (%s, %s, %s, %s, 'benchmark', 'benchmark')
                   ON CONFLICT (dataset, data_date) DO UPDATE SET row_count = EXCLUDED.row_count,
                     extracted_at = clock_timestamp(), pruned_at = NULL""",
                (dataset.name, day, rows, dataset.names),
            )
    finally:
        conn.close()
    return rows


def day_literal(day: date) -> pgsql.Composable:
    return pgsql.SQL("{}::date").format(pgsql.Literal(day.isoformat()))


def mark_validated(env: dict[str, str], day: date) -> None:
    """Record a passing validation of the features partition of `day`, without running it."""
    sql(
        env,
        """INSERT INTO validation_runs (data_date, suite, run_id, success, row_count, evaluated, failed, failures)
           VALUES (%s, %s, 'benchmark', true, 0, 0, 0, '[]') ON CONFLICT (data_date, suite, run_id)
           DO UPDATE SET validated_at = now()""",
        (day, FEATURES.name),
    )


def _source(env: dict[str, str], dataset: Dataset) -> pgsql.Identifier:
    return pgsql.Identifier(env["SOURCE_SCHEMA"], dataset.name)


# --------------------------------------------------------------------------- psql and child processes


def find_psql() -> str:
    """The psql shipped with pgserver (matches the embedded server), else the one on PATH."""
    candidates = []
    try:
        with warnings.catch_warnings():  # platformdirs warns about an unset XDG_RUNTIME_DIR
            warnings.simplefilter("ignore")
            import pgserver
        candidates.append(Path(pgserver.__file__).parent / "pginstall" / "bin" / "psql")
    except ImportError:
        pass
    candidates += [Path(p) for p in (shutil.which("psql"), "/usr/bin/psql", "/usr/local/bin/psql") if p]
    for path in candidates:
        if path.is_file() and os.access(path, os.X_OK):
            return str(path)
    raise SystemExit("psql not found: install the PostgreSQL client or pgserver")


def psql(env: dict[str, str], command: str) -> float:
    """Seconds `psql -c command` took, in the warehouse schema."""
    started = time.perf_counter()
    subprocess.run(
        [find_psql(), env["WAREHOUSE_URL"], "-X", "-q", "-v", "ON_ERROR_STOP=1", "-c", command],
        check=True,
        env={**os.environ, "PGOPTIONS": f"-c search_path={env['WAREHOUSE_SCHEMA']}"},
    )
    return time.perf_counter() - started


def run_child(script: str, env: dict[str, str], *args: str) -> dict:
    """`script --child args` in a fresh interpreter, so that its peak RSS is its own; its JSON result."""
    inherited = {k: v for k, v in os.environ.items() if k not in ("SOURCE_URL", "SOURCE_QUERIES_DIR")}
    done = subprocess.run(
        [sys.executable, script, "--child", *args],
        env={**inherited, **env},
        check=True,
        stdout=subprocess.PIPE,
        text=True,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def measured(call) -> dict:
    """Run `call()` in this (child) process: its result, seconds, and RSS (kB) before and at peak."""
    base = _status_kb("VmRSS")
    started = time.perf_counter()
    result = call()
    seconds = time.perf_counter() - started
    peak = max(_status_kb("VmHWM"), resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
    return {"result": result, "seconds": seconds, "rss_base_kb": base, "rss_peak_kb": peak}


def _status_kb(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # no /proc: the peak is all we have


# --------------------------------------------------------------------------- report


def table(header: tuple[str, ...], rows: list[tuple]) -> None:
    print("  ".join(f"{h:>12}" for h in header))
    for row in rows:
        print("  ".join(f"{c:>12}" for c in row))


def rss_growth(what: str, results: list[dict], key: str, target: float) -> list[tuple[str, bool]]:
    """The check of `what` (peak RSS, MB under `key`) at the largest size against the smallest."""
    small, large = results[0], results[-1]
    if large is small:
        print("(one size only: the RSS growth check needs two)")
        return []
    growth = large[key] / small[key]
    sizes = f"{large[key]:.0f} / {small[key]:.0f} MB"
    text = f"{what} {large['rows']:,} / {small['rows']:,} rows = {growth:.2f} ({sizes}, target <= {target})"
    return [(text, growth <= target)]


def verdict(checks: list[tuple[str, bool]]) -> int:
    """One PASS or FAIL line per target; exit status 1 if any failed."""
    print()
    for text, ok in checks:
        print(f"{'PASS' if ok else 'FAIL'}  {text}")
    return 0 if all(ok for _, ok in checks) else 1
