"""Extraction benchmark: the postgres source into staging, against `psql \\copy` out and back in.

    make bench
    .venv/bin/python benchmarks/extraction.py [--rows 1000000 5000000] [--repeat 2]

For each size N it builds a source table of N rows of the features dataset for one
day, as the data contract (model/contract.py) declares them (synthetic.py, with
generate_series in SQL), then, in the same run and on the same server:

- baseline: `psql \\copy (SELECT ...) TO file`, then `\\copy <table> FROM file` into
  a copy of the staging table; rows/s = N / (time out + time in);
- ours: `extraction.extract()` for that day into the migrated staging table, in a
  fresh Python process per run, which also reports its peak RSS (VmHWM) and the
  increase over its RSS once the libraries are imported.

Targets: ours >= 0.3x the psql rows/s at the smallest size, and peak RSS at the
largest size <= 1.3x that at the smallest (memory bounded by EXTRACT_CHUNK_ROWS).
Exits 1 when a target fails. The embedded PostgreSQL is started in a temporary
folder unless WAREHOUSE_URL is set; then the benchmark works in its own schemas
and drops them afterwards.
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
from datetime import date, timedelta
from pathlib import Path

DAY = date(2025, 3, 3)
RATIO_TARGET = 0.3  # ours / psql rows per second, at the smallest size
RSS_TARGET = 1.3  # peak RSS at the largest size / at the smallest


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--rows",
        type=int,
        nargs="+",
        default=[1_000_000, 5_000_000],
        metavar="N",
        help="source sizes to measure (default: 1000000 5000000)",
    )
    parser.add_argument(
        "--repeat",
        type=int,
        default=1,
        metavar="K",
        help="runs per size and method; the fastest counts, RSS is the highest (default 1)",
    )
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        return child()

    from {{ cookiecutter.project }}.config import SOURCE_KIND

    if SOURCE_KIND != "postgres":
        print(f"SKIP: this benchmark measures the postgres source; this project reads from {SOURCE_KIND}.")
        return 0
    if features().date_column is None:
        print("SKIP: the features dataset has no date_column (model/contract.py) to read one day by.")
        return 0
    sizes = sorted(set(args.rows))
    with bench_env() as env:
        results = [measure(env, n, max(args.repeat, 1)) for n in sizes]
    return report(results, env["EXTRACT_CHUNK_ROWS"])


class bench_env:
    """Environment for the benchmark's Settings: a warehouse, fresh schemas, a temp state folder."""

    def __enter__(self) -> dict[str, str]:
        self.tmp = Path(tempfile.mkdtemp(prefix="bench-extraction-"))
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
        }
        from {{ cookiecutter.project }}.warehouse import migrate

        migrate(settings(self.env))
        sql(
            self.env,
            "CREATE SCHEMA {src}; CREATE TABLE {wh}.psql_staging (LIKE {wh}.{staging} INCLUDING ALL)",
        )
        return self.env

    def __exit__(self, *exc) -> None:
        try:
            if self.server is None:
                sql(self.env, "DROP SCHEMA {src} CASCADE; DROP SCHEMA {wh} CASCADE")
            else:
                self.server.cleanup()
        finally:
            shutil.rmtree(self.tmp, ignore_errors=True)


def _import_pgserver():
    with warnings.catch_warnings():  # platformdirs warns about an unset XDG_RUNTIME_DIR
        warnings.simplefilter("ignore")
        import pgserver
    return pgserver


def settings(env: dict[str, str]):
    from {{ cookiecutter.project }}.config import Settings

    return Settings.from_env(env)


def features():
    from {{ cookiecutter.project }}.model.contract import CONTRACT

    return CONTRACT.features


def sql(env: dict[str, str], statement, autocommit: bool = False):
    """Run statement(s), with {wh}, {src}, {staging} and {source} standing for the benchmark's
    schemas and tables (psycopg2 `sql.Composed` statements run as they are); returns the last rows."""
    import psycopg2

    conn = psycopg2.connect(env["WAREHOUSE_URL"])
    conn.autocommit = autocommit
    try:
        with conn.cursor() as cur:
            if isinstance(statement, str):
                names = {"staging": features().table, "source": features().name}
                statement = statement.format(wh=env["WAREHOUSE_SCHEMA"], src=env["SOURCE_SCHEMA"], **names)
            cur.execute(statement)
            rows = cur.fetchall() if cur.description else None
        if not autocommit:
            conn.commit()
        return rows
    finally:
        conn.close()


def quiesce(env: dict[str, str]) -> None:
    """Empty both staging tables and flush dirty pages, so each timed run starts alike."""
    sql(env, "TRUNCATE {wh}.{staging}, {wh}.psql_staging, {wh}.staging_batches")
    try:
        sql(env, "CHECKPOINT", autocommit=True)
    except Exception:  # noqa: BLE001  (needs superuser or pg_checkpoint on a configured server)
        pass


def measure(env: dict[str, str], n: int, repeat: int) -> dict:
    print(f"-- {n:,} rows: building the source table", file=sys.stderr, flush=True)
    from {{ cookiecutter.project }}.synthetic import source_table_sql

    sql(env, source_table_sql(features(), env["SOURCE_SCHEMA"], DAY, n))
    sql(env, "VACUUM (FREEZE, ANALYZE) {src}.{source}", autocommit=True)
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


def find_psql() -> str:
    """The psql shipped with pgserver (matches the embedded server), else the one on PATH."""
    candidates = []
    try:
        candidates.append(Path(_import_pgserver().__file__).parent / "pginstall" / "bin" / "psql")
    except ImportError:
        pass
    candidates += [Path(p) for p in (shutil.which("psql"), "/usr/bin/psql", "/usr/local/bin/psql") if p]
    for path in candidates:
        if path.is_file() and os.access(path, os.X_OK):
            return str(path)
    raise SystemExit("psql not found: install the PostgreSQL client or pgserver")


def run_psql(env: dict[str, str], n: int) -> dict:
    psql = find_psql()
    src, wh = env["SOURCE_SCHEMA"], env["WAREHOUSE_SCHEMA"]
    data = Path(env["STATE_DIR"]).parent / "psql_copy.dat"
    dataset = features()
    columns = ", ".join(f'"{c}"' for c in dataset.names)
    date = f'"{dataset.date_column}"'
    where = f"{date} >= DATE '{DAY}' AND {date} < DATE '{DAY + timedelta(days=1)}'"
    select = f"SELECT DATE '{DAY}', {columns} FROM {src}.\"{dataset.name}\" WHERE {where}"  # noqa: S608
    copy_out = f"\\copy ({select}) TO '{data}'"
    copy_in = f"\\copy {wh}.psql_staging (data_date, {columns}) FROM '{data}'"
    quiesce(env)
    timings = {}
    for name, command in (("out", copy_out), ("in", copy_in)):
        started = time.perf_counter()
        subprocess.run(
            [psql, env["WAREHOUSE_URL"], "-X", "-q", "-v", "ON_ERROR_STOP=1", "-c", command], check=True
        )
        timings[name] = time.perf_counter() - started
    copied = sql(env, "SELECT count(*) FROM {wh}.psql_staging")[0][0]
    data.unlink()
    if copied != n:
        raise SystemExit(f"psql baseline copied {copied} rows, expected {n}")
    return timings


def run_ours(env: dict[str, str], n: int) -> dict:
    """extract() in a fresh interpreter, so each size's peak RSS is its own."""
    quiesce(env)
    child_env = {k: v for k, v in os.environ.items() if k not in ("SOURCE_URL", "SOURCE_QUERIES_DIR")}
    done = subprocess.run(
        [sys.executable, __file__, "--child"],
        env={**child_env, **env},
        check=True,
        stdout=subprocess.PIPE,
        text=True,
    )
    result = json.loads(done.stdout.strip().splitlines()[-1])
    staged = sql(env, "SELECT count(*) FROM {wh}.{staging}")[0][0]
    if result["rows"] != n or staged != n:
        raise SystemExit(f"extract staged {staged} rows (returned {result['rows']}), expected {n}")
    return result


def child() -> int:
    """Import everything extract() uses, note the RSS, extract one day, report time and peak RSS."""
    from {{ cookiecutter.project }}.extraction import extract
    from {{ cookiecutter.project }}.interval import Interval
    from {{ cookiecutter.project }}.sources import open_source

    config = settings(dict(os.environ))
    open_source(config)  # imports the adapter module and what it uses
    base = _status_kb("VmRSS")
    started = time.perf_counter()
    rows = extract(config, features(), Interval.day(DAY), "bench")
    seconds = time.perf_counter() - started
    peak = max(_status_kb("VmHWM"), resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
    print(json.dumps({"rows": rows, "seconds": seconds, "rss_base_kb": base, "rss_peak_kb": peak}))
    return 0


def _status_kb(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # no /proc: the peak is all we have


def report(results: list[dict], chunk_rows: str) -> int:
    print(
        f"\nExtraction benchmark: postgres source -> staging (EXTRACT_CHUNK_ROWS={chunk_rows}, "
        f"{os.cpu_count()} CPUs)\n"
    )
    header = (
        "rows",
        "psql out s",
        "psql in s",
        "psql rows/s",
        "ours s",
        "ours rows/s",
        "ratio",
        "peak RSS MB",
        "RSS +MB",
    )
    print("  ".join(f"{h:>12}" for h in header))
    for r in results:
        cells = (
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
        print("  ".join(f"{c:>12}" for c in cells))
    print(
        f"\n(ours: peak RSS of a fresh process running extract(); RSS +MB is the peak minus its RSS"
        f" after imports, {results[0]['rss_base_mb']:.0f} MB)\n"
    )

    small, large = results[0], results[-1]
    ratio = small["ours_rps"] / small["psql_rps"]
    checks = [
        (
            f"ours/psql rows/s at {small['rows']:,} rows = {ratio:.2f} (target >= {RATIO_TARGET})",
            ratio >= RATIO_TARGET,
        )
    ]
    if large is not small:
        growth = large["rss_peak_mb"] / small["rss_peak_mb"]
        sizes = f"{large['rss_peak_mb']:.0f} / {small['rss_peak_mb']:.0f} MB"
        checks.append(
            (
                f"peak RSS {large['rows']:,} / {small['rows']:,} rows = {growth:.2f}"
                f" ({sizes}, target <= {RSS_TARGET})",
                growth <= RSS_TARGET,
            )
        )
    else:
        print("(one size only: the RSS growth check needs two)")
    for text, ok in checks:
        print(f"{'PASS' if ok else 'FAIL'}  {text}")
    return 0 if all(ok for _, ok in checks) else 1


if __name__ == "__main__":
    sys.exit(main())
