"""The validation gate on staged partitions: each bad batch is stopped before scoring.

One warehouse schema serves the whole module: a champion is trained once and a
good date is scored; every bad date then goes through extract -> validate ->
predict, and SQL taken before and after shows that nothing but that date's
validation row changed -- other dates' staging rows and predictions included.
"""

from __future__ import annotations

import json
import tempfile
import threading
import uuid
from dataclasses import replace
from datetime import date, timedelta
from html.parser import HTMLParser
from pathlib import Path

import pytest
from conftest import FEATURES, KEY, as_text, column_of, plain_columns, seed, training_plan

from {{ cookiecutter.project }} import extraction
from {{ cookiecutter.project }}.config import SOURCE_KIND, Settings
from {{ cookiecutter.project }}.extraction import ExtractError, extract
from {{ cookiecutter.project }}.interval import Interval
from {{ cookiecutter.project }}.model import expectations
from {{ cookiecutter.project }}.scoring import PartitionNotValidated, predict
from {{ cookiecutter.project }}.sources import open_source
from {{ cookiecutter.project }}.synthetic import (
    DEFECTS,
    EXTRA_COLUMN,
    business_rules,
    column_for,
    features,
    with_defect,
)
from {{ cookiecutter.project }}.training import promote, stage_window, train
from {{ cookiecutter.project }}.validation import ValidationFailed, gate, validate
from {{ cookiecutter.project }}.validation.rules import base_rules
from {{ cookiecutter.project }}.warehouse import fetch_all, migrate

FIRST = date(2025, 3, 3)  # scored during setup; its predictions must never change
WINDOW_DAYS, ENTITIES = training_plan()
SUITE = FEATURES.name
TABLE = f'"{FEATURES.table}"'
# Bad batches are published to and extracted from the PostgreSQL source (the default).
pytestmark = pytest.mark.skipif(
    SOURCE_KIND != "postgres", reason=f"needs the postgres source adapter; this project reads {SOURCE_KIND}"
)


def expected(defect: str) -> tuple[str, str | None, list | None]:
    """The failure the gate must report for a defect: (expectation, its column, sample values).

    Published into a source table, a renamed column leaves the old one NULL that day and
    the new one carrying the values (the true rename, column gone, is tested below).
    """
    column = column_for(defect)
    if defect == "out_of_range":
        rule = business_rules()[column]
        return (
            "expect_column_values_to_be_between",
            column,
            [rule["min"] - 1 if rule.get("min") is not None else rule["max"] + 1],
        )
    return {
        "nulls": ("expect_column_values_to_not_be_null", column, [None]),
        "duplicates": ("expect_column_values_to_be_unique", KEY, None),  # 5 of the first 15 keys
        "renamed_column": ("expect_table_columns_to_match_set", None, [f"{column}_renamed"]),
        "extra_column": ("expect_table_columns_to_match_set", None, [EXTRA_COLUMN]),
        "empty": ("expect_table_row_count_to_be_between", None, [0]),
    }[defect]


def applicable(defect: str) -> bool:
    return defect != "out_of_range" or column_for(defect) is not None


@pytest.fixture(scope="module")
def env(warehouse_url, tmp_path_factory) -> Settings:
    """A champion model, and FIRST extracted, validated and scored."""
    suffix = uuid.uuid4().hex[:10]
    state = tmp_path_factory.mktemp("gate")
    settings = replace(
        Settings.from_env({"STATE_DIR": str(state), "WAREHOUSE_URL": warehouse_url}),
        schema=f"t_{suffix}",
        source_schema=f"src_{suffix}",
        chunk_rows=1000,
        training_window_days=WINDOW_DAYS,
    )
    migrate(settings)
    seed(settings, [FIRST + timedelta(days=n) for n in range(-WINDOW_DAYS, 2)], ENTITIES)
    retrain = Interval.day(FIRST - timedelta(days=1))
    stage_window(settings, retrain, "retrain")
    assert promote(settings, train(settings, retrain, "retrain"), "retrain")["promoted"]
    first = Interval.day(FIRST)
    assert extract(settings, FEATURES, first, "setup") == ENTITIES
    assert validate(settings, first, "setup").success
    assert predict(settings, first, "setup") == ENTITIES
    return settings


@pytest.fixture(autouse=True)
def private_tmp(tmp_path, monkeypatch):
    """Python's temp folder, emptied for each test: GX must leave nothing in it."""
    tmp = tmp_path / "tempdir"
    tmp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(tmp))
    yield tmp
    assert sorted(p.name for p in tmp.iterdir()) == [], "temp files/folders left behind"


def everything_but(settings: Settings, day: date) -> dict:
    """Every row the pipeline writes, except `day`'s staging and validation rows."""
    q = lambda query: fetch_all(settings, query, (day,))  # noqa: E731
    every = ", ".join(str(i + 1) for i in range(len(FEATURES.names) + 1))
    return {
        "features": q(f"SELECT * FROM {TABLE} WHERE data_date <> %s ORDER BY {every}"),  # noqa: S608
        "batches": q("SELECT * FROM staging_batches WHERE data_date <> %s ORDER BY 1, 2"),
        "validations": q("SELECT * FROM validation_runs WHERE data_date <> %s ORDER BY 1, 2, 3"),
        "predictions": fetch_all(settings, "SELECT * FROM predictions ORDER BY 1, 2"),
        "models": fetch_all(settings, "SELECT version, status FROM model_versions ORDER BY 1"),
    }


def status(settings: Settings, day: date):
    rows = fetch_all(
        settings,
        "SELECT success FROM partition_status WHERE dataset = %s AND data_date = %s",
        (SUITE, day),
    )
    assert len(rows) == 1
    return rows[0][0]


class SummaryTable(HTMLParser):
    """The cells of the failed-expectations table at the top of a report page."""

    def __init__(self):
        super().__init__()
        self.rows, self._depth, self._cell = [], 0, None

    def handle_starttag(self, tag, attrs):
        if self._depth:
            self._depth += tag != "br"
        elif tag == "div" and ("id", "failed-expectations-summary") in attrs:
            self._depth = 1
        if self._depth and tag == "tr":
            self.rows.append([])
        if self._depth and tag == "td":
            self._cell = ""

    def handle_endtag(self, tag):
        if self._depth:
            self._depth -= 1
            if tag == "td":
                self.rows[-1].append(self._cell)
                self._cell = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell += data


def summary_rows(page: str) -> list[list[str]]:
    parser = SummaryTable()
    parser.feed(page)
    return [row for row in parser.rows if row]


def assert_stopped(
    settings: Settings, day: date, run_id: str, expectation: str, column, samples, error: ValidationFailed
) -> dict:
    """The gate's record of a failed run, checked end to end; returns the failure from the jsonb."""
    message = str(error)
    assert message.startswith(f"{SUITE} for {day}: Data validation FAILED")
    where = f" on column '{column}'" if column else ""
    assert f"{expectation}{where}" in message

    rows = fetch_all(
        settings,
        """SELECT run_id, success, evaluated, failed, failures, report_path, row_count
                                FROM validation_runs WHERE data_date = %s AND suite = %s""",
        (day, SUITE),
    )
    assert len(rows) == 1, rows
    got_run_id, success, evaluated, failed, failures, report_path, _ = rows[0]
    assert (got_run_id, success) == (run_id, False)
    assert evaluated == len(base_rules(FEATURES, KEY, sql=True) + expectations.expectations())
    assert 1 <= failed == len(failures)
    assert f"{failed} of {evaluated} expectations failed" in message
    for i, f in enumerate(failures, 1):  # every failed expectation is named in the message
        assert f"  {i}. {f['expectation']}" in message
    matches = [f for f in failures if f["expectation"] == expectation and f["column"] == column]
    assert len(matches) == 1, json.dumps(failures, indent=1)
    failure = matches[0]
    if samples is not None:
        assert failure["sample_values"] == samples
    assert failure["sample_values"], "no sample values recorded"
    assert f"sample values: {failure['sample_values']!r}" in message

    # The HTML report of this run: under reports_dir, named in the message, showing the failure.
    assert report_path and f"Report: {report_path}" in message
    page_path = Path(report_path)
    assert settings.reports_dir.resolve() in page_path.parents
    assert page_path.is_file() and page_path.suffix == ".html"
    page = page_path.read_text(encoding="utf-8")
    assert page.lstrip().lower().startswith("<!doctype html") and page.rstrip().endswith("</html>")
    rows = [row for row in summary_rows(page) if row[:2] == [expectation, column or "(table)"]]
    assert len(rows) == 1, summary_rows(page)
    shown = repr(failure["sample_values"])  # the cell holds it cut to 200 characters
    assert rows[0][3] == shown if len(shown) <= 200 else rows[0][3] == shown[:197] + "..."

    assert status(settings, day) is False
    return failure


def publish(settings: Settings, day: date, frame) -> None:
    open_source(settings).publish(FEATURES, Interval.day(day), frame)


# --------------------------------------------------------------------------- each defect


@pytest.mark.parametrize("defect", DEFECTS)
def test_defect_fails_validation_and_predict_does_not_run(env, defect):
    if not applicable(defect):
        pytest.skip("the business rules give no numeric column a range to break")
    day = FIRST + timedelta(days=2 + DEFECTS.index(defect))
    interval = Interval.day(day)
    expectation, column, samples = expected(defect)
    publish(env, day, with_defect(features(day, entities=ENTITIES), defect))
    before = everything_but(env, day)
    predictions_before = before["predictions"]
    assert predictions_before and {r[0] for r in predictions_before} == {FIRST}

    extract(env, FEATURES, interval, f"extract-{defect}")
    assert status(env, day) is None  # extracted, not yet validated
    with pytest.raises(ValidationFailed) as error:
        validate(env, interval, f"validate-{defect}")
    failure = assert_stopped(env, day, f"validate-{defect}", expectation, column, samples, error.value)
    if defect == "duplicates":
        keys = features(day, entities=ENTITIES)[KEY].head(15).tolist()
        assert len(failure["sample_values"]) == 5 and set(failure["sample_values"]) <= set(keys)
        assert failure["unexpected_count"] == 30  # the 15 keys, each twice
    if defect == "nulls":
        assert failure["unexpected_count"] == -(-ENTITIES // 20)
    if defect == "renamed_column":  # the old name stays in the table, NULL that day
        ((columns,),) = fetch_all(
            env, "SELECT source_columns FROM staging_batches WHERE data_date = %s", (day,)
        )
        assert f"{column_for(defect)}_renamed" in columns

    with pytest.raises(PartitionNotValidated, match=f"{SUITE} for {day} has not passed validation"):
        predict(env, interval, f"predict-{defect}")
    assert fetch_all(env, "SELECT count(*) FROM predictions WHERE data_date = %s", (day,)) == [(0,)]
    assert everything_but(env, day) == before
    assert status(env, FIRST) is True


# --------------------------------------------------------------------------- other bad input


def test_column_renamed_upstream_fails_the_schema_rule(env):
    """The source table has the new name and never had the old: a schema failure, not nulls."""
    day = FIRST + timedelta(days=19)
    column = column_for("renamed_column")
    renamed = replace(env, source_schema=f"{env.source_schema}_renamed")
    publish(renamed, day, with_defect(features(day, entities=ENTITIES), "renamed_column", column))
    before = everything_but(env, day)
    extract(renamed, FEATURES, Interval.day(day), "x")
    with pytest.raises(ValidationFailed) as error:
        validate(env, Interval.day(day), "v")
    failure = assert_stopped(
        env, day, "v", "expect_table_columns_to_match_set", None, [column, f"{column}_renamed"], error.value
    )
    assert failure["message"] == f"missing columns [{column!r}]; unexpected columns ['{column}_renamed']"
    ((failures,),) = fetch_all(env, "SELECT failures FROM validation_runs WHERE data_date = %s", (day,))
    on_missing = {f["expectation"]: f["message"] for f in failures if f["column"] == column}
    ruled = {
        e.expectation_type
        for e in base_rules(FEATURES, KEY, sql=True) + expectations.expectations()
        if getattr(e, "column", None) == column
    }
    assert on_missing == dict.fromkeys(ruled, f"column not in the data: {column!r}")
    with pytest.raises(PartitionNotValidated):
        predict(env, Interval.day(day), "p")
    assert everything_but(env, day) == before


def test_hostile_values_are_reported_exactly_and_escaped_in_the_report(env):
    valued = [c for c in plain_columns("string") if "in" in business_rules().get(c, {})]
    if not valued:
        pytest.skip("the business rules give no text column a set of allowed values")
    column = valued[0]
    day = FIRST + timedelta(days=20)
    hostile = ["<script>alert('pwned')</script>", "'; DROP TABLE predictions; --", "Zürich 🙂"]
    frame = features(day, entities=ENTITIES)
    frame.loc[[0, 1, 2], column] = hostile
    publish(env, day, frame)
    before = everything_but(env, day)
    extract(env, FEATURES, Interval.day(day), "x")
    with pytest.raises(ValidationFailed) as error:
        validate(env, Interval.day(day), "'; DROP TABLE validation_runs; --")
    failure = assert_stopped(
        env,
        day,
        "'; DROP TABLE validation_runs; --",
        "expect_column_values_to_be_in_set",
        column,
        None,
        error.value,
    )
    assert sorted(failure["sample_values"]) == sorted(hostile)  # byte-exact through jsonb
    page = open(
        fetch_all(env, "SELECT report_path FROM validation_runs WHERE data_date = %s", (day,))[0][0],
        encoding="utf-8",
    ).read()
    assert "<script>alert" not in page  # data is shown, never run
    assert everything_but(env, day) == before


def test_wrong_types_stop_at_extraction_and_nothing_is_staged(env):
    """A numeric column arrives as text with 'abc' in it: ExtractError, and no row anywhere for that date."""
    day = FIRST + timedelta(days=21)
    column = column_of("Float64", "Int64")
    text_source = replace(env, source_schema=f"{env.source_schema}_text")  # a source table with text types
    frame = as_text(features(day, entities=ENTITIES), column)
    frame.loc[[7, len(frame) - 1], column] = ["abc", "n/a"]
    publish(text_source, day, frame)
    before = everything_but(env, day)

    with pytest.raises(ExtractError, match=rf"{SUITE}\.{column}: 2 value\(s\) are not a number"):
        extract(text_source, FEATURES, Interval.day(day), "x")
    for table in (TABLE, "staging_batches", "validation_runs", "predictions"):
        query = f"SELECT count(*) FROM {table} WHERE data_date = %s"  # noqa: S608
        assert fetch_all(env, query, (day,)) == [(0,)], table
    with pytest.raises(ValidationFailed, match="has not been extracted"):
        validate(env, Interval.day(day), "x")
    with pytest.raises(PartitionNotValidated):
        predict(env, Interval.day(day), "x")
    assert fetch_all(env, "SELECT count(*) FROM validation_runs WHERE data_date = %s", (day,)) == [(0,)]
    assert everything_but(env, day) == before


def test_whole_numbers_in_a_float_column_pass(env):
    """Read back with the contract's types, never inferred: whole numbers stay a float column."""
    column = column_of("Float64")
    day = FIRST + timedelta(days=24)
    frame = features(day, entities=ENTITIES)
    frame[column] = frame[column].round(0)
    publish(env, day, frame)
    extract(env, FEATURES, Interval.day(day), "e")
    assert validate(env, Interval.day(day), "v").success


# --------------------------------------------------------------------------- the clean path


def test_clean_date_passes_and_a_reextract_needs_validating_again(env):
    day = FIRST + timedelta(days=1)  # published by seed, clean
    interval = Interval.day(day)
    extract(env, FEATURES, interval, "e1")
    assert status(env, day) is None
    with pytest.raises(PartitionNotValidated):
        predict(env, interval, "p0")

    result = validate(env, interval, "v1")
    assert result.success and result.failed == 0 and result.report_path.is_file()
    assert env.reports_dir.resolve() in result.report_path.parents
    assert fetch_all(
        env,
        "SELECT run_id, success, failed, failures, row_count FROM validation_runs WHERE data_date = %s",
        (day,),
    ) == [("v1", True, 0, [], ENTITIES)]
    assert status(env, day) is True
    assert predict(env, interval, "p1") == ENTITIES
    scored = fetch_all(env, "SELECT * FROM predictions WHERE data_date = %s ORDER BY entity_id", (day,))
    others = everything_but(env, day)

    extract(env, FEATURES, interval, "e2")  # a rerun of extract: same rows, unvalidated again
    assert status(env, day) is None
    with pytest.raises(PartitionNotValidated):
        predict(env, interval, "p2")
    assert fetch_all(env, "SELECT * FROM predictions WHERE data_date = %s ORDER BY entity_id", (day,)) == (
        scored
    )
    assert everything_but(env, day) == others

    assert validate(env, interval, "v2").success
    assert status(env, day) is True
    assert predict(env, interval, "p3") == ENTITIES
    assert fetch_all(
        env, "SELECT count(*), min(run_id), max(run_id) FROM predictions WHERE data_date = %s", (day,)
    ) == [(ENTITIES, "p3", "p3")]
    assert fetch_all(
        env,
        "SELECT run_id, success FROM validation_runs WHERE data_date = %s ORDER BY validated_at",
        (day,),
    ) == [("v1", True), ("v2", True)]


# --------------------------------------------------------------------------- reruns racing the gate


def test_a_reextract_committed_during_validation_is_not_marked_validated(env, monkeypatch):
    """Validation read the clean rows; a rerun of extract replaced them with bad ones before it recorded."""
    day = FIRST + timedelta(days=22)
    publish(env, day, features(day, entities=ENTITIES))
    extract(env, FEATURES, Interval.day(day), "e1")
    real = gate.validate_query

    def rerun_meanwhile(*args, **kwargs):
        publish(env, day, with_defect(features(day, entities=ENTITIES), "duplicates"))
        extract(env, FEATURES, Interval.day(day), "e2")
        return real(*args, **kwargs)

    monkeypatch.setattr(gate, "validate_query", rerun_meanwhile)
    with pytest.raises(ValidationFailed, match="extracted again while it was being validated"):
        validate(env, Interval.day(day), "v1")
    monkeypatch.undo()
    assert fetch_all(env, "SELECT count(*) FROM validation_runs WHERE data_date = %s", (day,)) == [(0,)]
    assert status(env, day) is None
    with pytest.raises(PartitionNotValidated):
        predict(env, Interval.day(day), "p")
    with pytest.raises(ValidationFailed, match=f"expect_column_values_to_be_unique on column '{KEY}'"):
        validate(env, Interval.day(day), "v2")


def test_a_validation_recorded_while_a_reextract_is_copying_does_not_cover_it(env, monkeypatch):
    """The rerun's transaction started before the validation was recorded and committed after it."""
    day = FIRST + timedelta(days=23)
    publish(env, day, features(day, entities=ENTITIES))
    extract(env, FEATURES, Interval.day(day), "e1")
    publish(env, day, with_defect(features(day, entities=ENTITIES), "duplicates"))
    copying, release = threading.Event(), threading.Event()
    real_source = extraction.open_source(env)

    class Paused:
        description = real_source.description

        def read(self, dataset, interval):
            copying.set()  # the rerun has deleted the old rows, uncommitted
            assert release.wait(30)
            yield from real_source.read(dataset, interval)

        def commit(self, dataset, interval):
            pass

    monkeypatch.setattr(extraction, "open_source", lambda settings: Paused())
    outcome = []
    rerun = threading.Thread(target=lambda: outcome.append(extract(env, FEATURES, Interval.day(day), "e2")))
    rerun.start()
    try:
        assert copying.wait(30)
        assert validate(env, Interval.day(day), "v1").success  # the clean rows, still the committed ones
    finally:
        release.set()
        rerun.join(30)
    assert outcome == [ENTITIES + 15]  # the duplicated rows, now staged
    assert status(env, day) is None  # the bad rows now staged have not been validated
    with pytest.raises(PartitionNotValidated):
        predict(env, Interval.day(day), "p")


def test_reports_land_under_reports_dir_only(env):
    pages = sorted(env.reports_dir.rglob("*.html"))
    runs = fetch_all(env, "SELECT report_path FROM validation_runs ORDER BY validated_at")
    assert runs and all(path is not None for (path,) in runs)
    assert {str(p.resolve()) for p in pages} >= {path for (path,) in runs}
    assert not [p for p in env.state_dir.rglob("*.html") if env.reports_dir not in p.parents]
