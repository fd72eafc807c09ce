"""DAG integrity: the DAG files load, are wired the way operators rely on, and stay cheap to parse.

Airflow's home is the session's temporary one (conftest.py), never ~/airflow.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from conftest import capped, seed

from {{ cookiecutter.project }}.config import PROJECT_ROOT, SOURCE_KIND, start_date
from {{ cookiecutter.project }}.interval import Interval
from {{ cookiecutter.project }}.local_airflow import RunRefused, run_once

PROJECT = "{{ cookiecutter.project }}"
DAGS_DIR = PROJECT_ROOT / "dags"
DAILY, RETRAIN = f"{PROJECT}_daily", f"{PROJECT}_retrain"
SCHEDULES = {DAILY: "{{ cookiecutter.schedule }}", RETRAIN: "{{ cookiecutter.retrain_schedule }}"}
# Imported inside tasks only: at the top of a DAG file they would cost every parse seconds.
HEAVY_MODULES = ("pandas", "sklearn", "great_expectations", "psycopg2", "pyarrow", "boto3")
MAX_PARSE_SECONDS = 5.0  # catches gross regressions (a heavy import costs 1-2 s); not a benchmark
DAG_FILES = sorted(DAGS_DIR.glob("*.py"))


@pytest.fixture(scope="module")
def dagbag(airflow_home):
    """A DagBag of its own: tests elsewhere change task attributes (retries) of the DAGs they run."""
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(str(DAGS_DIR))


def test_dag_files_import_without_errors(dagbag):
    assert DAG_FILES, f"no DAG files in {DAGS_DIR}"
    assert dagbag.import_errors == {}


def test_exactly_the_expected_dags(dagbag):
    assert sorted(dagbag.dag_ids) == sorted([DAILY, RETRAIN])


def test_every_task_retries_at_least_twice(dagbag):
    too_few = {
        (dag_id, t.task_id): t.retries
        for dag_id, dag in dagbag.dags.items()
        for t in dag.tasks
        if t.retries < 2
    }
    assert too_few == {}
    assert sum(len(dag.tasks) for dag in dagbag.dags.values()) >= 5


def test_every_dag_is_tagged_with_the_project(dagbag):
    for dag_id, dag in dagbag.dags.items():
        assert PROJECT in dag.tags, f"{dag_id}: tags {sorted(dag.tags)} lack the project tag {PROJECT!r}"
        assert len(dag.tags) >= 2, f"{dag_id}: add a tag saying what the DAG does"


@pytest.mark.parametrize("dag_id", [DAILY, RETRAIN])
def test_schedule_is_a_data_interval_timetable(dagbag, dag_id):
    """Airflow 3 turns plain cron strings into trigger timetables whose interval is empty."""
    from airflow.serialization.encoders import coerce_to_core_timetable
    from airflow.timetables.interval import CronDataIntervalTimetable
    from airflow.timetables.trigger import CronTriggerTimetable

    dag = dagbag.dags[dag_id]
    timetable = coerce_to_core_timetable(dag.timetable)
    timetable = getattr(timetable, "timetable", timetable)  # the retrain DAG's runs on time, or on an asset
    assert isinstance(timetable, CronDataIntervalTimetable), type(timetable).__name__
    assert not isinstance(timetable, CronTriggerTimetable)
    assert timetable.serialize()["expression"] == SCHEDULES[dag_id]
    interval = timetable.infer_manual_data_interval(run_after=_utc(2025, 3, 10))
    assert interval.start < interval.end, "empty data interval: partitions would have no rows"
    assert dag.catchup is False  # backfills are deliberate (UI / `airflow backfill create`)


def test_backfill_and_dag_test_agree_on_partitions(dagbag):
    """The scheduler/backfill path and `dag.test(logical_date=...)` give the same intervals.

    Backfill asks the scheduler's (serialized) DAG for the runs between two dates;
    `dag.test(logical_date=X)` asks the timetable for the interval that ends at X.
    For every day D: the scheduled run covers [D, D+1), the test run whose logical
    date is D+1 covers the same interval, and both land in partition D.
    """
    from airflow.serialization.encoders import coerce_to_core_timetable
    from airflow.serialization.serialized_objects import DagSerialization

    dag = dagbag.dags[DAILY]
    scheduler_dag = DagSerialization.deserialize_dag(DagSerialization.serialize_dag(dag))
    days = 5
    first = _utc(2025, 3, 3)
    infos = list(scheduler_dag.iter_dagrun_infos_between(first, first + timedelta(days=days, seconds=-1)))

    intervals = [(i.data_interval.start, i.data_interval.end) for i in infos]
    partitions = [Interval(start, end).partition for start, end in intervals]
    assert len(infos) == days
    assert len(set(partitions)) == days, f"backfill of {days} days wrote {partitions}"
    for (_, end), (next_start, _) in zip(intervals, intervals[1:], strict=False):
        assert end == next_start, "consecutive runs must tile time without gaps or overlaps"
    for info, (start, end) in zip(infos, intervals, strict=True):
        assert end - start == timedelta(days=1)
        assert info.logical_date == start  # scheduled runs: logical date = interval start

    timetable = coerce_to_core_timetable(dag.timetable)
    for start, end in intervals:
        manual = timetable.infer_manual_data_interval(run_after=end)  # what dag.test(logical_date=end) runs
        assert (manual.start, manual.end) == (start, end)
        assert Interval(manual.start, manual.end).partition == start.date()
    if SCHEDULES[DAILY] == "0 0 * * *":
        assert partitions == [first.date() + timedelta(days=n) for n in range(days)]


def test_parse_time_per_dag_file(dagbag):
    stats = {Path(s.file).name: s for s in dagbag.dagbag_stats}
    assert sorted(stats) == sorted(p.name for p in DAG_FILES)
    for name, stat in sorted(stats.items()):
        seconds = stat.duration.total_seconds()
        print(f"parse {name}: {seconds:.3f} s, {stat.dag_num} DAG(s), {stat.task_num} task(s)")
        assert stat.dag_num == 1, name
        assert seconds < MAX_PARSE_SECONDS, f"{name} took {seconds:.2f} s to parse"


_PROBE = """
import json, runpy, sys
heavy, report = sys.argv[1].split(","), {}
for path in sys.argv[2:]:
    before = set(sys.modules)
    runpy.run_path(path, run_name="dag_file")
    report[path] = {"heavy": sorted(m for m in heavy if m in sys.modules and m not in before),
                    "airflow_sdk": "airflow.sdk" in sys.modules}
print(json.dumps(report))
"""


@pytest.fixture(scope="module")
def top_level_imports(airflow_home):
    """Import the DAG files one after another in a fresh interpreter, noting what each pulled in.

    One interpreter for all files pays Airflow's import once; a heavy module that
    an earlier file already imported would hide behind it, but that file fails.
    """
    proc = subprocess.run(
        [sys.executable, "-c", _PROBE, ",".join(HEAVY_MODULES), *map(str, DAG_FILES)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, f"importing the DAG files failed:\n{proc.stderr[-3000:]}"
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    return {Path(path).name: result for path, result in report.items()}


@pytest.mark.parametrize("dag_file", [p.name for p in DAG_FILES])
def test_no_heavy_imports_at_dag_top_level(top_level_imports, dag_file):
    result = top_level_imports[dag_file]
    assert result["airflow_sdk"], "the probe did not import the DAG file"
    assert result["heavy"] == [], (
        f"{dag_file} imports {result['heavy']} when parsed: import them inside tasks"
    )


def test_monitoring_can_ask_the_retrain_dag_for_a_run(dagbag):
    """The daily DAG's request_retrain task updates the asset the retrain DAG is scheduled on."""
    from airflow.serialization.encoders import coerce_to_core_timetable

    outlets = {asset.name for asset in dagbag.dags[DAILY].get_task("request_retrain").outlets}
    retrain = coerce_to_core_timetable(dagbag.dags[RETRAIN].timetable)
    assert outlets == {f"{PROJECT}_retrain_requests"}
    assert {asset.name for _, asset in retrain.asset_condition.iter_assets()} == outlets


def test_approval_before_promotion_is_off_by_default_and_wired_when_on(dagbag, tmp_path, monkeypatch):
    from airflow.dag_processing.dagbag import DagBag

    assert "approve_promotion" not in dagbag.dags[RETRAIN].task_ids
    monkeypatch.setenv("PROMOTION_APPROVAL", "on")
    approving = DagBag(str(DAGS_DIR)).dags[RETRAIN]
    assert approving.get_task("approve_promotion").downstream_task_ids == {"promote"}
    assert approving.get_task("render_report").downstream_task_ids == {"approve_promotion"}


def test_unpausing_runs_the_latest_interval_only(dagbag):
    """Not one run per interval since start_date: history is backfilled on purpose."""
    assert {dag.catchup for dag in dagbag.dags.values()} == {False}


_TASKS = """
import json, sys
from datetime import datetime
from types import SimpleNamespace
from airflow.dag_processing.dagbag import DagBag
from airflow.sdk.execution_time.context import set_current_context
dags, dag_id, start, end, *task_ids = sys.argv[1:]
dag = DagBag(dags).dags[dag_id]
interval = {"data_interval_start": datetime.fromisoformat(start), "data_interval_end": datetime.fromisoformat(end)}
# What a worker's context holds of the run, which each stage records (runs.py)
run = SimpleNamespace(dag_id=dag_id, run_id="probe", run_type="manual", logical_date=interval["data_interval_end"],
                      data_interval_start=interval["data_interval_start"], data_interval_end=interval["data_interval_end"])
report = {}
for task_id in task_ids:
    with set_current_context({"dag_run": run}):
        report[task_id] = dag.get_task(task_id).python_callable(**interval, run_id="probe")
    report[task_id + ":sklearn"] = "sklearn" in sys.modules
import {project}.model.estimator  # what `train` imports: the probe sees scikit-learn when it is there
report["control:sklearn"] = "sklearn" in sys.modules
print(json.dumps(report))
"""


@pytest.mark.skipif(SOURCE_KIND == "s3", reason="the s3 source is mocked inside the test process only")
def test_extract_and_validate_tasks_never_import_scikit_learn(airflow_home, settings):
    """Run as a worker runs them, in a process of their own: the DAG file parsed, then the task."""
    day, rows = datetime(2025, 3, 3, tzinfo=UTC), capped(50)
    seed(settings, [day.date()], rows)
    env = {
        **os.environ,
        "WAREHOUSE_URL": settings.warehouse_url,
        "WAREHOUSE_SCHEMA": settings.schema,
        "SOURCE_SCHEMA": settings.source_schema,
        "STATE_DIR": str(settings.state_dir),
    }
    tasks = ["extract_features", "validate_features", "check_batch", "extract_labels"]
    interval = [day.isoformat(), (day + timedelta(days=1)).isoformat()]
    proc = subprocess.run(
        [sys.executable, "-c", _TASKS.replace("{project}", PROJECT), str(DAGS_DIR), DAILY, *interval, *tasks],
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    assert report.pop("check_batch")["rows"] == rows  # the batch check, before scoring, is light too
    assert report == {
        "extract_features": rows,
        "extract_features:sklearn": False,
        "validate_features": True,
        "validate_features:sklearn": False,
        "check_batch:sklearn": False,
        "extract_labels": rows,
        "extract_labels:sklearn": False,
        "control:sklearn": True,
    }


def test_sharded_scoring_is_mapped_tasks_and_one_publish(airflow_home, monkeypatch):
    from airflow.dag_processing.dagbag import DagBag

    monkeypatch.setenv("SCORING_SHARDS", "4")
    dag = DagBag(str(DAGS_DIR)).dags[DAILY]
    assert "predict" not in dag.task_ids
    shards, publish = dag.get_task("score_shard"), dag.get_task("publish_predictions")
    assert shards.op_kwargs_expand_input.value == {"shard": [0, 1, 2, 3]}
    assert shards.upstream_task_ids == {"check_batch"}
    assert publish.upstream_task_ids == {"score_shard"}
    assert publish.downstream_task_ids == {"monitor_drift", "track_performance"}


def test_start_date_is_the_setting_not_a_literal(dagbag):
    for dag in dagbag.dags.values():
        assert dag.start_date == start_date()
    assert start_date({"START_DATE": "2011-01-01"}) == _utc(2011, 1, 1)


def test_a_run_before_start_date_fails_loudly_instead_of_green_with_no_rows(dagbag):
    dag = dagbag.dags[DAILY]
    with pytest.raises(RunRefused, match="starts before the DAG's start_date .*: set START_DATE"):
        run_once(dag, dag.start_date - timedelta(days=30))


def _utc(year: int, month: int, day: int) -> datetime:
    return datetime(year, month, day, tzinfo=UTC)
