"""Staged history: retraining reads only its window's partitions, and retention drops the
partitions that neither the next retraining nor the champion's own window needs.

Ten days are staged once for the module: each day's features, and labels observed that
day for the features LAG days earlier. The retention test runs last: it drops partitions.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import replace
from datetime import date, timedelta

import pytest
from conftest import FEATURES, LABELS, capped, champion

from {{ cookiecutter.project }}.config import Settings
from {{ cookiecutter.project }}.extraction import extract
from {{ cookiecutter.project }}.interval import Interval
from {{ cookiecutter.project }}.retention import prune
from {{ cookiecutter.project }}.synthetic import features, labels, seed_source
from {{ cookiecutter.project }}.training import window_query
from {{ cookiecutter.project }}.warehouse import fetch_all, migrate, transaction

FIRST, DAYS, LAG = date(2025, 3, 3), 10, 2
ENTITIES = capped(30)
PARTITIONS = """SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
                WHERE i.inhparent = %s::regclass AND c.relkind = 'r' ORDER BY 1"""


def day(n: int) -> date:
    return FIRST + timedelta(days=n)


def partition(dataset, n: int) -> str:
    return f"{dataset.table}_{day(n):%Y%m%d}"


@pytest.fixture(scope="module")
def history(warehouse_url, tmp_path_factory, fake_s3) -> Settings:
    suffix = uuid.uuid4().hex[:10]
    settings = replace(
        Settings.from_env(
            {"STATE_DIR": str(tmp_path_factory.mktemp("history")), "WAREHOUSE_URL": warehouse_url}
        ),
        schema=f"t_{suffix}",
        source_schema=f"src_{suffix}",
    )
    migrate(settings)
    days = [day(n) for n in range(DAYS)]
    seed_source(
        settings,
        days,
        lambda d: features(d, ENTITIES),
        lambda d: labels(d, d - timedelta(days=LAG), ENTITIES),
    )
    for d in days:
        for dataset in (FEATURES, LABELS):
            extract(settings, dataset, Interval.day(d), "history")
    return settings


def scanned(settings: Settings, query, params) -> set[str]:
    """The tables PostgreSQL's plan for a query reads."""
    with transaction(settings) as conn, conn.cursor() as cur:
        cur.execute(b"EXPLAIN (FORMAT JSON) " + cur.mogrify(query, params))
        plan = cur.fetchone()[0]

    def relations(node: dict):
        if "Relation Name" in node:
            yield node["Relation Name"]
        for child in node.get("Plans", []):
            yield from relations(child)

    return set(relations(plan[0]["Plan"]))


def test_retraining_reads_only_the_partitions_of_its_window(history):
    start, end = day(7), day(10)  # labels observed on days 7-9, labelling days 5-7
    labelled = [day(n - LAG) for n in range(7, 10)]
    query, params = window_query(start, end, labelled)
    expected = {partition(LABELS, n) for n in range(7, 10)} | {
        partition(FEATURES, n - LAG) for n in range(7, 10)
    }
    assert scanned(history, query, params) == expected
    rows = fetch_all(history, query, params)
    assert len(rows) == 3 * ENTITIES


def test_retention_keeps_what_retraining_and_the_champion_need(history):
    """Retention 3 days, window 2, from the run of day 9: the cutoff is day 7. The champion was
    trained on the labels of days 2-4, which label the features of days 0-2."""
    champion(history, day(5))
    settings = replace(history, staging_retention_days=3, training_window_days=2)
    assert prune(replace(settings, staging_retention_days=None), Interval.day(day(9)), "r") == {}

    dropped = prune(settings, Interval.day(day(9)), "r")

    labels_dropped, features_dropped = [0, 1, 5, 6], [3, 4]
    assert dropped == {
        LABELS.name: [day(n).isoformat() for n in labels_dropped],
        FEATURES.name: [day(n).isoformat() for n in features_dropped],
    }
    for dataset, gone in ((LABELS, labels_dropped), (FEATURES, features_dropped)):
        kept = [partition(dataset, n) for n in range(DAYS) if n not in gone]
        assert [name for (name,) in fetch_all(history, PARTITIONS, (dataset.table,))] == kept
        assert fetch_all(
            history,
            "SELECT data_date FROM staging_batches WHERE dataset = %s AND pruned_at IS NOT NULL ORDER BY 1",
            (dataset.name,),
        ) == [(day(n),) for n in gone]
        staged = fetch_all(
            history, "SELECT data_date FROM partition_status WHERE dataset = %s", (dataset.name,)
        )
        assert sorted(d for (d,) in staged) == [day(n) for n in range(DAYS) if n not in gone]
    assert prune(settings, Interval.day(day(9)), "r") == {LABELS.name: [], FEATURES.name: []}
    json.dumps(dropped)  # the task's return value goes to XCom
