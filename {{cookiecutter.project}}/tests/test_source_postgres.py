"""The PostgreSQL source: an unreachable source, bound parameters.

What every adapter does (chunked reads, reruns, bad input, hostile strings) is tested
in tests/test_source_contract.py. Each failure case compares the warehouse before and
after with SQL: a failed extraction leaves it exactly as it was. The source is a
schema of the test's own in the test PostgreSQL.
"""

from __future__ import annotations

import socket
from dataclasses import replace

import pytest
from conftest import DAY, FEATURES, warehouse_state

from {{ cookiecutter.project }}.config import ConfigError
from {{ cookiecutter.project }}.extraction import extract
from {{ cookiecutter.project }}.interval import Interval
from {{ cookiecutter.project }}.sources import SourceError, open_source


def test_unreachable_source_is_a_source_error_and_writes_nothing(settings, sql, staged_days):
    with socket.socket() as probe:  # a local port nothing listens on: refused at once
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    unreachable = replace(settings, source_url=f"postgresql://pipeline@127.0.0.1:{port}/upstream")

    with pytest.raises(SourceError, match="source database unreachable"):
        extract(unreachable, FEATURES, Interval.day(DAY), "bad")
    assert warehouse_state(sql) == staged_days


def test_hostile_parameters_are_bound_not_spliced(settings, sql, staged_days):
    sql("CREATE TABLE x (id int)")
    # An interval whose bounds are SQL text, past Interval's own checks: bound as a
    # parameter it is just a malformed date; spliced into the query it would drop x.
    hostile = object.__new__(Interval)
    object.__setattr__(hostile, "start", f"2025-03-04'::date; DROP TABLE {settings.schema}.x; --")
    object.__setattr__(hostile, "end", "2025-03-05")

    with pytest.raises(SourceError, match="invalid input syntax for type date"):
        list(open_source(settings).read(FEATURES, hostile))

    assert sql("SELECT count(*) FROM x") == [(0,)]
    assert warehouse_state(sql) == staged_days
    with pytest.raises(ConfigError, match="lowercase SQL identifier"):  # and the schema is an identifier
        replace(settings, source_schema="src; DROP TABLE x")


def test_the_source_connection_is_read_only(settings, sql, staged_days, tmp_path):
    """A query file that writes (here: advances a sequence upstream) is refused by PostgreSQL."""
    sql(f"CREATE SEQUENCE {settings.source_schema}.counter")
    (tmp_path / f"{FEATURES.name}.sql").write_text(
        "SELECT *, nextval('{source_schema}.counter') AS n FROM {source_schema}." + FEATURES.name  # noqa: S608
    )
    writing = replace(settings, source_queries_dir=tmp_path)

    with pytest.raises(SourceError, match="read-only transaction"):
        extract(writing, FEATURES, Interval.day(DAY), "write")
    assert sql(f"SELECT last_value, is_called FROM {settings.source_schema}.counter") == [(1, False)]  # noqa: S608
    assert warehouse_state(sql) == staged_days
