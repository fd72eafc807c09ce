"""Scoring on a real PostgreSQL: a date's predictions are replaced by one partition swap, two
runs of a date are serialised, shards give the unsharded rows, and a failure changes nothing.

Each test scores DAY, extracted and validated, with a champion fitted on synthetic rows;
chunks are small, so that every run streams several of them.
"""

from __future__ import annotations

import threading
from dataclasses import replace
from datetime import date

import psycopg2
import pytest
from conftest import FEATURES, KEY, capped, champion, same_predictions, seed

from {{ cookiecutter.project }} import scoring
from {{ cookiecutter.project }}.extraction import extract
from {{ cookiecutter.project }}.interval import Interval
from {{ cookiecutter.project }}.registry import ModelUnavailable
from {{ cookiecutter.project }}.scoring import predict, publish_shards, score_shard
from {{ cookiecutter.project }}.validation import validate
from {{ cookiecutter.project }}.warehouse import partitions, transaction, warehouse_url

DAY = date(2025, 3, 3)
ENTITIES = capped(300)
SHARDS = 4
ROWS = "SELECT data_date, entity_id, score, model_version FROM predictions WHERE data_date = %s ORDER BY 2"
# Tables a run leaves behind if it fails to clean up: staged partitions, shards' areas.
STAGED = """SELECT relname FROM pg_class WHERE relnamespace = current_schema()::regnamespace
            AND relkind = 'r' AND NOT relispartition AND relname ~ '_[0-9]{8}_'"""


@pytest.fixture
def day(settings):
    """Settings in which DAY is extracted and validated and a champion is registered; chunks of
    a third of the day."""
    settings = replace(settings, chunk_rows=-(-ENTITIES // 3))
    seed(settings, [DAY], ENTITIES)
    extract(settings, FEATURES, Interval.day(DAY), "extract")
    validate(settings, Interval.day(DAY), "validate")
    champion(settings, DAY)
    return settings


def test_sharded_scoring_gives_the_unsharded_rows(day, sql):
    interval = Interval.day(DAY)
    assert predict(day, interval, "whole") == ENTITIES
    whole = sql(ROWS, (DAY,))

    scored = [score_shard(day, interval, "sharded", shard, SHARDS) for shard in range(SHARDS)]

    assert sum(scored) == ENTITIES and min(scored) > 0
    assert sql("SELECT DISTINCT run_id FROM predictions") == [("whole",)]  # nothing published yet
    assert publish_shards(day, interval, "sharded", SHARDS) == ENTITIES
    assert same_predictions(sql(ROWS, (DAY,)), whole)
    assert sql("SELECT DISTINCT run_id FROM predictions") == [("sharded",)]
    assert sql("SELECT count(*) FROM prediction_shards") == [(0,)]
    assert sql(STAGED) == []


def test_publishing_waits_for_every_shard(day, sql):
    interval = Interval.day(DAY)
    predict(day, interval, "whole")
    before = sql(ROWS, (DAY,))
    for shard in range(SHARDS - 1):
        score_shard(day, interval, "sharded", shard, SHARDS)
    with pytest.raises(RuntimeError, match=f"{SHARDS - 1} of {SHARDS} shards of run sharded are scored"):
        publish_shards(day, interval, "sharded", SHARDS)
    assert sql(ROWS, (DAY,)) == before


def test_a_second_run_of_a_date_waits_for_the_first_then_replaces(day, sql):
    """The first run is stood for by a transaction holding the date's lock."""
    holder = psycopg2.connect(warehouse_url(day), options=f"-c search_path={day.schema}")
    partitions.lock(holder, "predictions", DAY)
    second = threading.Thread(target=predict, args=(day, Interval.day(DAY), "second"))
    second.start()
    try:
        waiting = "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
        assert wait_for(lambda: sql(waiting) == [(1,)]), "the second run did not wait for the date's lock"
        assert second.is_alive() and sql(ROWS, (DAY,)) == []
    finally:
        holder.rollback()
        holder.close()
        second.join(60)
    assert sql("SELECT count(*), min(run_id), max(run_id) FROM predictions") == [
        (ENTITIES, "second", "second")
    ]


def test_two_runs_of_a_date_at_once_both_succeed_and_one_set_of_rows_remains(day, sql):
    """Without the lock, the second run failed on the primary key (UniqueViolation)."""
    outcomes = {}
    runs = [
        threading.Thread(target=lambda r=run: outcomes.update({r: predict(day, Interval.day(DAY), r)}))
        for run in ("a", "b")
    ]
    for run in runs:
        run.start()
    for run in runs:
        run.join(60)
    assert outcomes == {"a": ENTITIES, "b": ENTITIES}
    ((rows, keys, runs_left),) = sql(
        "SELECT count(*), count(DISTINCT entity_id), count(DISTINCT run_id) FROM predictions"
    )  # noqa: S608
    assert (rows, keys, runs_left) == (ENTITIES, ENTITIES, 1)


def test_a_failure_while_scoring_keeps_the_previous_predictions(day, sql, monkeypatch):
    predict(day, Interval.day(DAY), "good")
    before = sql("SELECT * FROM predictions ORDER BY 2")
    real, calls = scoring.model.predict, []

    def fails_on_the_second_chunk(estimator, X):
        calls.append(len(X))
        if len(calls) == 2:
            raise MemoryError("the model ran out of memory")
        return real(estimator, X)

    monkeypatch.setattr(scoring.model, "predict", fails_on_the_second_chunk)
    with pytest.raises(MemoryError):
        predict(day, Interval.day(DAY), "bad")
    assert len(calls) == 2  # the first chunk was on its way to the server
    assert sql("SELECT * FROM predictions ORDER BY 2") == before
    assert sql(STAGED) == []


def test_rows_name_a_registered_version_checked_once_per_run(day):
    """No foreign key checks each row: the run checks its version once, and holds it."""
    with transaction(day) as conn, pytest.raises(ModelUnavailable, match="not-a-version is not registered"):
        scoring.pin(conn, "not-a-version")


def test_shards_split_the_rows_by_key(day, sql):
    interval = Interval.day(DAY)
    for shard in range(SHARDS):
        score_shard(day, interval, "sharded", shard, SHARDS)
    tables = sql("SELECT shard, staged_table FROM prediction_shards ORDER BY 1")
    keys = [
        {row[0] for row in sql(f'SELECT entity_id FROM "{table}"')}  # noqa: S608
        for _, table in tables
    ]
    assert [shard for shard, _ in tables] == list(range(SHARDS))
    assert sum(map(len, keys)) == len(set().union(*keys)) == ENTITIES  # each key in exactly one shard
    assert set().union(*keys) == {row[0] for row in sql(f'SELECT "{KEY}" FROM "{FEATURES.table}"')}  # noqa: S608


def wait_for(condition, seconds: float = 30) -> bool:
    done = threading.Event()
    for _ in range(int(seconds * 10)):
        if condition():
            return True
        done.wait(0.1)
    return False
