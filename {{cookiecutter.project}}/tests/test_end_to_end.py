"""End to end through real Airflow (`dag.test`) on a real PostgreSQL, in schemas of its own.

The scenario (module-scoped, built once): seed the source with rows drawn from the
data contract, run the retrain DAG, then the daily DAG for DAYS days, some of which
carry DEFECTS.
The tests then check with SQL what an analyst would see, and finally break
things (a corrupt model, an unreachable warehouse) and check nothing good is lost.
Tests run in file order: the failure tests come last because they change state.
"""

from __future__ import annotations

import hashlib
import re
import socket
import uuid
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

import pytest
from conftest import FEATURES, KEY, LABELS, same_predictions, seed, training_plan

from {{ cookiecutter.project }} import pipeline
from {{ cookiecutter.project }}.config import Settings
from {{ cookiecutter.project }}.local_airflow import load_dags, run_once, scheduled_interval
from {{ cookiecutter.project }}.model import metrics
from {{ cookiecutter.project }}.warehouse import fetch_all, migrate

PROJECT = "{{ cookiecutter.project }}"
FIRST = date(2025, 3, 3)  # a Monday: the weekly retrain's interval ends here
DAYS = 5  # scored days FIRST .. FIRST+4
DEFECTS = {2: "duplicates", 4: "extra_column"}  # by offset from FIRST; any contract has these
WINDOW_DAYS, ENTITIES = training_plan(fit_days=4)  # a short window keeps the test fast
# What the validation gate must name for each defect: (expectation, column).
EXPECTED_FAILURE = {
    "duplicates": ("expect_column_values_to_be_unique", KEY),
    "extra_column": ("expect_table_columns_to_match_set", None),
}


def midnight(day: date) -> datetime:
    return datetime.combine(day, time(), tzinfo=UTC)


@dataclass
class Scenario:
    settings: Settings
    dags: dict
    env: dict
    retrain_run: object = None
    daily_runs: dict = field(default_factory=dict)  # day -> DagRun
    run_windows: dict = field(default_factory=dict)  # day -> (wall clock before, after) the run

    @property
    def daily(self):
        return self.dags[f"{PROJECT}_daily"]

    def sql(self, query: str, params=()):
        return fetch_all(self.settings, query, params)

    def run_daily(self, day: date, **kwargs):
        """The daily DAG for the data of `day`: run_once(dag, X) runs the interval ending at X."""
        return run_once(self.daily, scheduled_interval(self.daily, day).end, **kwargs)


def task_states(dag_run) -> dict:
    return {ti.task_id: (ti.state, ti.try_number) for ti in dag_run.get_task_instances()}


@pytest.fixture(scope="module")
def pipeline_env(warehouse_url, tmp_path_factory):
    """Settings in fresh schemas, and the environment that makes the DAG tasks use them.

    The tasks build their settings with `pipeline.settings()`, i.e. Settings.from_env()
    cached for the process: set the variables, then clear the cache (also afterwards,
    so no later test gets these settings).
    """
    suffix = uuid.uuid4().hex[:10]
    env = {
        "WAREHOUSE_URL": warehouse_url,
        "WAREHOUSE_SCHEMA": f"e2e_{suffix}",
        "SOURCE_SCHEMA": f"e2e_src_{suffix}",
        "STATE_DIR": str(tmp_path_factory.mktemp("e2e_state")),
        "TRAINING_WINDOW_DAYS": str(WINDOW_DAYS),
    }
    with pytest.MonkeyPatch.context() as mp:
        for key, value in env.items():
            mp.setenv(key, value)
        for key in ("ARTIFACTS_URI", "REPORTS_DIR", "SOURCE_URL", "SOURCE_DROP_DIR", "EXTRACT_CHUNK_ROWS"):
            mp.delenv(key, raising=False)
        pipeline.settings.cache_clear()
        settings = Settings.from_env()
        migrate(settings)
        yield settings, env
    pipeline.settings.cache_clear()


@pytest.fixture(scope="module")
def scenario(airflow_home, pipeline_env, fake_s3) -> Scenario:
    settings, env = pipeline_env
    # A week more history than the window: a retrain schedule other than Mondays ends its window
    # earlier. Data up to the next Monday: the approval test retrains on the following week.
    days = [FIRST + timedelta(days=n) for n in range(-WINDOW_DAYS - 7, 7)]
    seed(
        replace(settings, chunk_rows=1000),
        days,
        ENTITIES,
        {FIRST + timedelta(days=n): d for n, d in DEFECTS.items()},
    )
    s = Scenario(settings, load_dags(), env)
    s.retrain_run = run_once(s.dags[f"{PROJECT}_retrain"], midnight(FIRST))
    assert s.retrain_run.state == "success", task_states(s.retrain_run)
    for offset in range(DAYS):
        day = FIRST + timedelta(days=offset)
        before = datetime.now(UTC)
        s.daily_runs[day] = s.run_daily(day)
        s.run_windows[day] = (before, datetime.now(UTC))
    return s


def clean_days() -> list[date]:
    return [FIRST + timedelta(days=n) for n in range(DAYS) if n not in DEFECTS]


def defect_days() -> list[date]:
    return [FIRST + timedelta(days=n) for n in range(DAYS) if n in DEFECTS]


def test_scenario_covers_clean_and_defect_days():
    assert len(clean_days()) >= 2 and len(defect_days()) >= 1


def test_retrain_registered_and_promoted_a_champion(scenario):
    rows = scenario.sql("""SELECT version, status, jsonb_typeof(metrics), metrics, sha256, artifact_uri,
                                  train_start, train_end, train_rows, run_id FROM model_versions""")
    assert len(rows) == 1
    version, status, metrics_type, scores, sha, uri, train_start, train_end, train_rows, run_id = rows[0]
    assert status == "champion"
    assert metrics_type == "object"
    assert scores[metrics.PRIMARY] >= metrics.MINIMUM
    assert re.fullmatch(r"[0-9a-f]{64}", sha)
    artifact = Path(uri)
    assert artifact.is_file() and Path(scenario.settings.artifacts_uri) in artifact.parents
    assert hashlib.sha256(artifact.read_bytes()).hexdigest() == sha
    window_end = scenario.retrain_run.data_interval_end.date()  # FIRST with the default Monday schedule
    assert FIRST - timedelta(days=7) < window_end <= FIRST
    assert (train_start, train_end) == (window_end - timedelta(days=WINDOW_DAYS), window_end)
    assert train_rows > 0
    assert run_id == scenario.retrain_run.run_id

    promotions = scenario.sql("SELECT version, previous, action, reason, run_id FROM model_promotions")
    assert len(promotions) == 1
    promoted, previous, action, reason, promo_run = promotions[0]
    assert (promoted, previous, action, promo_run) == (version, None, "promote", scenario.retrain_run.run_id)
    assert metrics.PRIMARY in reason


def test_daily_runs_succeed_on_clean_days_and_fail_on_defect_days(scenario):
    for day in clean_days():
        dag_run = scenario.daily_runs[day]
        assert dag_run.state == "success", (day, task_states(dag_run))
        # dag.test ran the interval the scheduler (or a backfill) would give partition `day`.
        scheduled = scheduled_interval(scenario.daily, day)
        assert (dag_run.data_interval_start, dag_run.data_interval_end) == (scheduled.start, scheduled.end)
        assert dag_run.data_interval_start.date() == day
    for day in defect_days():
        dag_run = scenario.daily_runs[day]
        states = task_states(dag_run)
        assert dag_run.state == "failed", (day, states)
        assert states["validate_features"] == ("failed", 1), (day, states)
        for later in ("check_batch", "predict", "monitor_drift", "track_performance", "request_retrain"):
            assert states[later][0] == "upstream_failed", (day, states)
        assert states["extract_labels"][0] == "success", (day, states)  # independent of the gate


def test_retrain_rendered_its_report_offline_and_recorded_it(scenario):
    (version,) = scenario.sql("SELECT version FROM model_versions WHERE status = 'champion'")[0]
    ((path, run_id),) = scenario.sql(
        "SELECT report_path, run_id FROM training_reports WHERE version = %s", (version,)
    )
    page = Path(path).read_text(encoding="utf-8")
    assert run_id == scenario.retrain_run.run_id and Path(scenario.settings.reports_dir) in Path(path).parents
    assert version in page and metrics.PRIMARY in page
    assert page.count('src="data:image/png;base64,') >= 2  # the curves and the importance, inline
    assert re.findall(r'(?:src|href)="(?:https?:)?//', page) == []  # nothing fetched: it opens offline


def test_clean_days_are_monitored_and_no_breach_asks_for_a_retrain(scenario):
    checked = scenario.sql("SELECT data_date, breaches FROM batch_health ORDER BY 1")
    assert checked == [(day, []) for day in clean_days()]
    drift = scenario.sql("SELECT DISTINCT data_date FROM feature_drift ORDER BY 1")
    assert drift == [(day,) for day in clean_days()]
    measured = scenario.sql(
        "SELECT DISTINCT data_date FROM model_performance WHERE metric = %s ORDER BY 1", (metrics.PRIMARY,)
    )
    assert measured == [(day,) for day in clean_days()]  # labels of a day arrive with it here
    for day in clean_days():
        assert task_states(scenario.daily_runs[day])["request_retrain"][0] == "skipped"


def test_clean_days_have_one_prediction_per_entity(scenario):
    (champion,) = scenario.sql("SELECT version FROM model_versions WHERE status = 'champion'")[0]
    by_day = {
        row[0]: row[1:]
        for row in scenario.sql("""
            SELECT data_date, count(*), count(DISTINCT entity_id), min(model_version), max(model_version),
                   count(predicted_at), min(predicted_at), max(predicted_at), min(run_id), max(run_id),
                   count(*) FILTER (WHERE score = 'NaN' OR score IN ('Infinity', '-Infinity'))
            FROM predictions GROUP BY data_date""")
    }
    assert sorted(by_day) == clean_days()
    for day in clean_days():
        rows, distinct, v_min, v_max, stamped, first_at, last_at, r_min, r_max, not_finite = by_day[day]
        assert rows == distinct == stamped == ENTITIES
        assert v_min == v_max == champion
        assert r_min == r_max == scenario.daily_runs[day].run_id
        before, after = scenario.run_windows[day]
        assert first_at == last_at and before <= first_at <= after
        assert first_at.tzinfo is not None
        assert not_finite == 0
    assert scenario.sql(
        """SELECT data_type FROM information_schema.columns
                           WHERE table_schema = %s AND table_name = 'predictions'
                             AND column_name = 'predicted_at'""",
        (scenario.settings.schema,),
    ) == [("timestamp with time zone",)]


def test_defect_days_are_stopped_by_the_gate_with_the_rule_named(scenario):
    for day in defect_days():
        defect = DEFECTS[(day - FIRST).days]
        expectation, column = EXPECTED_FAILURE[defect]
        assert scenario.sql("SELECT count(*) FROM predictions WHERE data_date = %s", (day,)) == [(0,)]
        runs = scenario.sql(
            """SELECT success, failed, failures, run_id FROM validation_runs
                               WHERE data_date = %s AND suite = %s""",
            (day, FEATURES.name),
        )
        assert len(runs) == 1, (defect, runs)
        success, failed, failures, run_id = runs[0]
        assert success is False and failed >= 1 and run_id == scenario.daily_runs[day].run_id
        named = {(f["expectation"], f["column"]) for f in failures}
        assert (expectation, column) in named, (defect, named)


def test_rerun_of_a_day_replaces_its_rows(scenario):
    day = clean_days()[0]
    count_staged = f'SELECT count(*) FROM "{FEATURES.table}" WHERE data_date = %s'  # noqa: S608
    assert scenario.sql(count_staged, (day,)) == [(ENTITIES,)]
    first_run = scenario.daily_runs[day].run_id

    rerun = scenario.run_daily(day)

    assert rerun.state == "success", task_states(rerun)
    assert rerun.run_id != first_run
    assert scenario.sql(count_staged, (day,)) == [(ENTITIES,)]
    assert scenario.sql(
        "SELECT run_id FROM staging_batches WHERE dataset = %s AND data_date = %s",
        (FEATURES.name, day),
    ) == [(rerun.run_id,)]
    assert scenario.sql(
        "SELECT count(*), min(run_id), max(run_id) FROM predictions WHERE data_date = %s", (day,)
    ) == [(ENTITIES, rerun.run_id, rerun.run_id)]
    scenario.daily_runs[day] = rerun
    # The other days are untouched.
    assert scenario.sql("SELECT count(*) FROM predictions") == [(ENTITIES * len(clean_days()),)]


def test_a_drift_breach_asks_the_retrain_dag_for_a_run_through_its_asset(scenario, monkeypatch):
    from airflow.models.asset import AssetEvent, AssetModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    from {{ cookiecutter.project }}.model import monitoring as policy

    monkeypatch.setattr(policy, "PSI_BREACH", -1.0)  # every input counts as drifted
    monkeypatch.setattr(policy, "ON_MODEL_BREACH", "retrain")
    day = clean_days()[0]
    rerun = scenario.run_daily(day)
    assert task_states(rerun)["request_retrain"][0] == "success", task_states(rerun)
    scenario.daily_runs[day] = rerun
    with create_session() as session:
        events = session.scalars(
            select(AssetEvent)
            .join(AssetModel, AssetModel.id == AssetEvent.asset_id)
            .where(AssetModel.name == f"{PROJECT}_retrain_requests", AssetEvent.source_run_id == rerun.run_id)
        ).all()
    assert len(events) == 1


def test_with_approval_on_a_person_decides_before_the_gate(scenario, monkeypatch):
    """PROMOTION_APPROVAL=on: the run waits for a person (the HITL REST API's own handler
    answers here, as the UI would); a rejection keeps the champion and is on record."""
    import threading

    from airflow.api_fastapi.auth.managers.simple.user import SimpleAuthManagerUser
    from airflow.api_fastapi.core_api.datamodels.hitl import UpdateHITLDetailPayload
    from airflow.api_fastapi.core_api.routes.public.hitl import update_hitl_detail
    from airflow.models.hitl import HITLDetail
    from airflow.models.taskinstance import TaskInstance
    from airflow.utils.session import create_session
    from sqlalchemy import select

    monkeypatch.setenv("PROMOTION_APPROVAL", "on")
    monkeypatch.setattr(metrics, "gate", lambda candidate, champion: (True, "the gate would promote"))
    retrain = load_dags()[f"{PROJECT}_retrain"]
    assert "approve_promotion" in retrain.task_ids
    champion_before = scenario.sql("SELECT version FROM model_versions WHERE status = 'champion'")
    # The next weekly run, with a window reaching back over the first one: other rows, a new candidate.
    later = midnight(FIRST + timedelta(days=7))
    monkeypatch.setenv("TRAINING_WINDOW_DAYS", str(WINDOW_DAYS + 7))
    pipeline.settings.cache_clear()
    answered = []

    def reviewer() -> None:  # Airflow runs tasks in the main thread: the person answers from this one
        for _ in range(1200):
            threading.Event().wait(0.5)
            with create_session() as session:
                waiting = session.execute(
                    select(TaskInstance.run_id)
                    .join(HITLDetail, HITLDetail.ti_id == TaskInstance.id)
                    .where(TaskInstance.dag_id == retrain.dag_id, TaskInstance.state == "awaiting_input")
                ).scalar()
                if waiting:
                    update_hitl_detail(
                        dag_id=retrain.dag_id,
                        dag_run_id=waiting,
                        task_id="approve_promotion",
                        update_hitl_detail_payload=UpdateHITLDetailPayload(chosen_options=["Reject"]),
                        user=SimpleAuthManagerUser(username="reviewer", role="admin"),
                        session=session,
                    )
                    answered.append(waiting)
                    return

    person = threading.Thread(target=reviewer, daemon=True)
    person.start()
    try:
        run = run_once(retrain, later)
    finally:
        monkeypatch.undo()
        pipeline.settings.cache_clear()
    person.join(timeout=5)
    assert answered == [run.run_id], ("the approval task never waited for input", task_states(run))
    assert run.state == "success", task_states(run)
    assert task_states(run)["approve_promotion"][0] == "success"
    ((action, reason),) = scenario.sql(
        "SELECT action, reason FROM model_promotions WHERE run_id = %s", (run.run_id,)
    )
    assert (action, reason) == ("reject", "rejected by reviewer; the gate said: the gate would promote")
    assert scenario.sql("SELECT version FROM model_versions WHERE status = 'champion'") == champion_before


def test_corrupt_model_fails_predict_at_once_and_keeps_earlier_predictions(scenario, capfd):
    day = clean_days()[1]
    version, uri = scenario.sql("SELECT version, artifact_uri FROM model_versions WHERE status = 'champion'")[
        0
    ]
    before = scenario.sql("SELECT data_date, run_id, count(*) FROM predictions GROUP BY 1, 2 ORDER BY 1")
    artifact = Path(uri)
    good = artifact.read_bytes()
    artifact.write_bytes(b"not a model" + good[11:])
    capfd.readouterr()
    try:
        dag_run = scenario.run_daily(day, retries=2)  # retries as in production, minus the delay
    finally:
        artifact.write_bytes(good)
    task_log = "".join(capfd.readouterr())  # dag.test runs tasks in-process, logging to stdout

    states = task_states(dag_run)
    assert dag_run.state == "failed", states
    # AirflowFailException: failed on the first try although two retries were allowed.
    assert states["predict"] == ("failed", 1), states
    assert states["extract_features"][0] == states["validate_features"][0] == "success", states
    assert (
        scenario.sql("SELECT data_date, run_id, count(*) FROM predictions GROUP BY 1, 2 ORDER BY 1") == before
    )
    assert (day, scenario.daily_runs[day].run_id, ENTITIES) in before
    assert re.search(rf"AirflowFailException: ModelUnavailable: model {version}: .* is corrupt", task_log)


def test_unreachable_warehouse_fails_extract_and_writes_nothing(scenario, monkeypatch, capfd):
    day = clean_days()[-1]
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    tables = ("staging_batches", FEATURES.table, LABELS.table, "validation_runs", "predictions")
    counts = "SELECT " + ", ".join(f'(SELECT count(*) FROM "{t}")' for t in tables)  # noqa: S608
    before = scenario.sql(counts)

    monkeypatch.setenv("WAREHOUSE_URL", f"postgresql://nobody@127.0.0.1:{port}/warehouse?connect_timeout=2")
    pipeline.settings.cache_clear()
    capfd.readouterr()
    try:
        dag_run = scenario.run_daily(day, retries=2)
    finally:
        monkeypatch.setenv("WAREHOUSE_URL", scenario.env["WAREHOUSE_URL"])
        pipeline.settings.cache_clear()
    task_log = "".join(capfd.readouterr())

    states = task_states(dag_run)
    assert dag_run.state == "failed", states
    # Not a permanent failure: a lost warehouse is left to the task's retries.
    assert states["extract_features"] == ("failed", 3), states
    assert states["predict"][0] == "upstream_failed", states
    assert scenario.sql(counts) == before
    raised = re.findall(r"^([\w.]+(?:Error|Exception|Unavailable)): ", task_log, re.M)
    assert raised and raised[-1] == f"{PROJECT}.warehouse.connection.WarehouseUnavailable", raised


# Last: the daily DAG changes shape, which Airflow records as a new version of it.
def test_sharded_scoring_through_airflow_gives_the_same_rows(scenario, monkeypatch):
    """SCORING_SHARDS=4: the daily DAG maps four shard tasks, then publishes them as the day's rows."""
    day = clean_days()[0]
    rows = "SELECT entity_id, model_version, score FROM predictions WHERE data_date = %s ORDER BY 1"
    unsharded = scenario.sql(rows, (day,))
    monkeypatch.setenv("SCORING_SHARDS", "4")
    sharded = load_dags()[f"{PROJECT}_daily"]

    dag_run = run_once(sharded, scheduled_interval(sharded, day).end)

    assert dag_run.state == "success", task_states(dag_run)
    shards = [ti for ti in dag_run.get_task_instances() if ti.task_id == "score_shard"]
    assert sorted((ti.map_index, ti.state) for ti in shards) == [(n, "success") for n in range(4)]
    assert same_predictions(scenario.sql(rows, (day,)), unsharded)
    assert scenario.sql("SELECT DISTINCT run_id FROM predictions WHERE data_date = %s", (day,)) == [
        (dag_run.run_id,)
    ]
    scenario.daily_runs[day] = dag_run
