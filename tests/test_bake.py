"""Bake the template through pytest-cookies and the real CLI; check what is (not) left."""

from __future__ import annotations

import ast
import itertools
import json
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from binaryornot.check import is_binary
from cookiecutter.exceptions import FailedHookException
from cookiecutter.utils import create_env_with_context

TEMPLATE_DIR = Path(__file__).resolve().parent.parent
SLUG = "churn_forecast"  # from the default project_name


def combination(model_kind: str, source_kind: str, executor: str = "local"):
    answers = {
        "model_kind": model_kind,
        "source_kind": source_kind,
        "executor": executor,
    }
    return pytest.param(answers, id=f"{model_kind}-{source_kind}-{executor}")


SUPPORTED_COMBINATIONS = [
    combination("classification", "postgres"),
    combination("classification", "s3"),
    combination("classification", "files"),
    combination("regression", "postgres"),
    combination("regression", "s3"),
    combination("regression", "files"),
    combination("regression", "files", "celery"),
]

# The generated project's files for the default answers, apart from the source
# adapters. Update both lists whenever a file is added to or removed from
# {{cookiecutter.project}}/ (this is the point: the file set changes on purpose only).
EXPECTED_COMMON = {
    ".cruft.json",
    ".github/workflows/ci.yml",
    ".gitignore",
    ".pre-commit-config.yaml",
    "Makefile",
    "README.md",
    "benchmarks/extraction.py",
    "benchmarks/harness.py",
    "benchmarks/retraining.py",
    "benchmarks/scoring.py",
    "benchmarks/validation.py",
    "constraints.txt",
    "dags/daily_predictions.py",
    "dags/retrain.py",
    "infra/__init__.py",
    "infra/airflow.env.example",
    "infra/airflow_api.py",
    "infra/airflow_server.py",
    "infra/aws.py",
    "infra/backfill.py",
    "infra/broker.py",
    "infra/compute.py",
    "infra/credentials.py",
    "infra/database.py",
    "infra/db_env.py",
    "infra/deploy.sh",
    "infra/identity.py",
    "infra/local_databases.py",
    "infra/local_warehouse.py",
    "infra/logins.py",
    "infra/network.py",
    "infra/plan.py",
    "infra/ports.py",
    "infra/prod_local.py",
    "infra/release.py",
    "infra/run.sh",
    "infra/steps.py",
    "infra/storage.py",
    "infra/supervisor.py",
    "infra/systemd/airflow-api-server.service",
    "infra/systemd/airflow-dag-processor.service",
    "infra/systemd/airflow-scheduler.service",
    "infra/systemd/airflow-triggerer.service",
    "infra/units.py",
    "notebooks/explore.ipynb",
    "pyproject.toml",
    "sql/analyst_queries.sql",
    "src/churn_forecast/__init__.py",
    "src/churn_forecast/artifacts.py",
    "src/churn_forecast/config.py",
    "src/churn_forecast/data.py",
    "src/churn_forecast/datasets.py",
    "src/churn_forecast/demo.py",
    "src/churn_forecast/demo_data.py",
    "src/churn_forecast/evaluation.py",
    "src/churn_forecast/extraction.py",
    "src/churn_forecast/failures.py",
    "src/churn_forecast/interval.py",
    "src/churn_forecast/jupyter.py",
    "src/churn_forecast/local_airflow.py",
    "src/churn_forecast/model/__init__.py",
    "src/churn_forecast/model/contract.py",
    "src/churn_forecast/model/estimator.py",
    "src/churn_forecast/model/evaluation_baseline.json",
    "src/churn_forecast/model/expectations.py",
    "src/churn_forecast/model/features.py",
    "src/churn_forecast/model/metrics.py",
    "src/churn_forecast/model/monitoring.py",
    "src/churn_forecast/model/window.py",
    "src/churn_forecast/monitoring.py",
    "src/churn_forecast/pipeline.py",
    "src/churn_forecast/promotion.py",
    "src/churn_forecast/registry.py",
    "src/churn_forecast/reports/__init__.py",
    "src/churn_forecast/reports/training.ipynb",
    "src/churn_forecast/retention.py",
    "src/churn_forecast/runs.py",
    "src/churn_forecast/scoring.py",
    "src/churn_forecast/sources/__init__.py",
    "src/churn_forecast/staging.py",
    "src/churn_forecast/synthetic.py",
    "src/churn_forecast/training.py",
    "src/churn_forecast/validation/__init__.py",
    "src/churn_forecast/validation/gate.py",
    "src/churn_forecast/validation/rules.py",
    "src/churn_forecast/validation/runner.py",
    "src/churn_forecast/warehouse/__init__.py",
    "src/churn_forecast/warehouse/autogenerate.py",
    "src/churn_forecast/warehouse/bulk.py",
    "src/churn_forecast/warehouse/connection.py",
    "src/churn_forecast/warehouse/embedded.py",
    "src/churn_forecast/warehouse/migrate.py",
    "src/churn_forecast/warehouse/migrations/env.py",
    "src/churn_forecast/warehouse/migrations/script.py.mako",
    "src/churn_forecast/warehouse/migrations/versions/0001_warehouse.py",
    "src/churn_forecast/warehouse/migrations/versions/0002_roles.py",
    "src/churn_forecast/warehouse/migrations/versions/0003_data_contract_staging_tables.py",
    "src/churn_forecast/warehouse/migrations/versions/0004_append_only.py",
    "src/churn_forecast/warehouse/migrations/versions/0005_partitions.py",
    "src/churn_forecast/warehouse/migrations/versions/0010_monitoring.py",
    "src/churn_forecast/warehouse/migrations/versions/0020_airflow_runs.py",
    "src/churn_forecast/warehouse/partitions.py",
    "src/churn_forecast/warehouse/pgbinary.py",
    "tests/conftest.py",
    "tests/test_airflow_server.py",
    "tests/test_bulk.py",
    "tests/test_contract.py",
    "tests/test_dag_integrity.py",
    "tests/test_data_api.py",
    "tests/test_end_to_end.py",
    "tests/test_evaluation.py",
    "tests/test_extraction.py",
    "tests/test_history.py",
    "tests/infra_moto.py",
    "tests/test_infra_cli.py",
    "tests/test_infra_compute.py",
    "tests/test_infra_host.py",
    "tests/test_infra_identity.py",
    "tests/test_infra_storage.py",
    "tests/test_least_privilege.py",
    "tests/test_local_airflow.py",
    "tests/test_local_warehouse.py",
    "tests/test_migrations.py",
    "tests/test_model_contract.py",
    "tests/test_monitoring.py",
    "tests/test_notebooks.py",
    "tests/test_partitions.py",
    "tests/test_prod_local.py",
    "tests/test_promotion.py",
    "tests/test_redaction.py",
    "tests/test_registry.py",
    "tests/test_rollback.py",
    "tests/test_scoring.py",
    "tests/test_smoke_stages.py",
    "tests/test_source_contract.py",
    "tests/test_supervisor.py",
    "tests/test_units.py",
    "tests/test_validation_gate.py",
    "tests/test_validation_runner.py",
}
# What each source_kind adds; the post-gen hook deletes the other kinds' files.
EXPECTED_BY_SOURCE = {
    "postgres": {
        "src/churn_forecast/sources/postgres.py",
        "tests/test_source_postgres.py",
    },
    "s3": {
        "src/churn_forecast/sources/s3.py",
        "src/churn_forecast/sources/formats.py",
        "tests/test_source_s3.py",
    },
    "files": {
        "src/churn_forecast/sources/files.py",
        "src/churn_forecast/sources/formats.py",
        "tests/test_source_files.py",
    },
}


# What each executor adds; the post-gen hook deletes the Celery worker's unit for local.
EXPECTED_BY_EXECUTOR = {
    "local": set(),
    "celery": {"infra/systemd/airflow-celery-worker@.service"},
}


def project_files(root: Path) -> set[str]:
    return {
        path.relative_to(root).as_posix()
        for path in root.rglob("*")
        if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc"
    }


def leftovers(tmp_path: Path) -> list[Path]:
    """Anything inside pytest-cookies' per-bake output directories under tmp_path."""
    return sorted((tmp_path / "cookies").glob("*/*"))


def test_supported_combinations_cover_every_choice(cookiecutter_json):
    every = itertools.product(
        cookiecutter_json["model_kind"], cookiecutter_json["source_kind"]
    )
    covered = {
        (p.values[0]["model_kind"], p.values[0]["source_kind"])
        for p in SUPPORTED_COMBINATIONS
    }
    assert covered == set(every)
    executors = {p.values[0]["executor"] for p in SUPPORTED_COMBINATIONS}
    assert executors == set(cookiecutter_json["executor"]) == set(EXPECTED_BY_EXECUTOR)


@pytest.mark.parametrize("answers", SUPPORTED_COMBINATIONS)
def test_bake(cookies, answers):
    result = cookies.bake(extra_context=answers)
    assert result.exception is None, result.exception
    assert result.exit_code == 0
    assert result.project_path.name == SLUG
    files = project_files(result.project_path)

    chosen = answers["source_kind"]
    assert EXPECTED_BY_SOURCE[chosen] <= files
    for other in EXPECTED_BY_SOURCE.keys() - {chosen}:
        assert not files & (EXPECTED_BY_SOURCE[other] - EXPECTED_BY_SOURCE[chosen])

    # Binary files are skipped the way cookiecutter decides what to render.
    paths = {name: result.project_path / name for name in sorted(files)}
    texts = {
        name: path.read_text(encoding="utf-8")
        for name, path in paths.items()
        if not is_binary(str(path))
    }
    assert [name for name, text in texts.items() if "{{" in text or "{%" in text] == []
    for name, text in texts.items():
        if name.endswith(".py"):
            compile(text, name, "exec")


@pytest.mark.parametrize("answers", SUPPORTED_COMBINATIONS)
def test_exact_file_set(cookies, answers):
    result = cookies.bake(extra_context=answers)
    assert result.exception is None, result.exception
    expected = (
        EXPECTED_COMMON
        | EXPECTED_BY_SOURCE[answers["source_kind"]]
        | EXPECTED_BY_EXECUTOR[answers["executor"]]
    )
    assert project_files(result.project_path) == expected


@pytest.mark.parametrize(
    ("name", "slug"),
    [
        ("Fraud Alerts", "fraud_alerts"),
        ("Ads Bidding", "ads_bidding"),
    ],  # after and before "boto3"
)
def test_project_name_gives_the_slug(cookies, name, slug):
    result = cookies.bake(extra_context={"project_name": name})
    assert result.exception is None, result.exception
    assert result.project_path.name == slug
    assert (result.project_path / "src" / slug).is_dir()
    assert result.context["warehouse_schema"] == slug


def test_bad_project_name_fails_and_leaves_nothing(cookies, tmp_path):
    result = cookies.bake(extra_context={"project_name": "1st project!"})
    assert result.exit_code != 0
    assert isinstance(result.exception, FailedHookException)
    assert leftovers(tmp_path) == []
    assert str(result.exception).startswith(
        "ERROR: project_name: must contain only letters"
    )


@pytest.mark.parametrize("slug", ["class", "lambda"])
def test_keyword_slug_is_refused(cookies, tmp_path, slug):
    result = cookies.bake(extra_context={"project": slug})
    assert isinstance(result.exception, FailedHookException)
    assert leftovers(tmp_path) == []
    assert str(result.exception) == (
        f"ERROR: project: must not be a Python keyword (got '{slug}')"
    )


def run_cli(
    tmp_path: Path, *answers: str, stdin: str | None = None, template=TEMPLATE_DIR
):
    """The cookiecutter command as a user runs it, from tmp_path, into tmp_path/out."""
    out = tmp_path / "out"
    out.mkdir(exist_ok=True)
    config = tmp_path / "config.yaml"  # keeps the replay file out of the home directory
    config.write_text(
        f"cookiecutters_dir: {tmp_path / 'cc'}\nreplay_dir: {tmp_path / 'replay'}\n"
    )
    args = ["--config-file", config, "-o", out, template]
    return subprocess.run(
        [sys.executable, "-m", "cookiecutter", *args, *answers],
        cwd=tmp_path,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        ("project_name=1st project!", "ERROR: project_name: must contain only letters"),
        ("project_name=a/b c/d", "ERROR: project_name: must contain only letters"),
        ("project=../escape", "ERROR: project: must be a lowercase Python identifier"),
        ("schedule=0 0 31 2 *", "ERROR: schedule: never fires"),
        ("retrain_schedule=0 0 30 2 *", "ERROR: retrain_schedule: never fires"),
    ],
)
def test_cli_refuses_bad_answer_and_creates_nothing(tmp_path, answer, message):
    proc = run_cli(tmp_path, "--no-input", answer)
    assert proc.returncode == 1
    assert message in proc.stdout  # cookiecutter's CLI prints refusals on stdout
    assert "Traceback" not in proc.stdout + proc.stderr
    assert list((tmp_path / "out").iterdir()) == []
    assert not (tmp_path / "escape").exists()


def test_typed_answer_is_refused_before_the_next_prompt(tmp_path):
    proc = run_cli(tmp_path, stdin="Churn Forecast\n1st_project\n")
    assert proc.returncode == 1
    assert "ERROR: project: must be a lowercase Python identifier" in proc.stdout
    assert "[3/13]" not in proc.stdout  # the description prompt never came
    assert list((tmp_path / "out").iterdir()) == []


def test_pre_gen_hook_refuses_a_bad_replay_file(tmp_path, default_answers):
    """A replay file skips the prompts and their checks: the hook is the check of record."""
    replay = tmp_path / "replay.json"
    answers = default_answers | {"schedule": "0 0 30 2 *"}
    replay.write_text(json.dumps({"cookiecutter": answers}))
    proc = run_cli(tmp_path, "--replay-file", str(replay))
    assert proc.returncode == 1
    assert "ERROR: schedule: never fires" in proc.stderr
    assert list((tmp_path / "out").iterdir()) == []


# Hostile answers. Each payload breaks out of one naive way of putting an answer into
# a hook, and creates the directory $HOOK_MARKER if it ever runs as code;
# test_payloads_are_live proves they do run against those naive hooks.
MKDIR = "__import__('os').mkdir(__import__('os').environ['HOOK_MARKER'])"
JINJA_MKDIR = "cycler.__init__.__globals__.os.mkdir(cycler.__init__.__globals__.os.environ.HOOK_MARKER)"
PAYLOADS = {  # id: (answer, naive hook, language of the naive hook)
    "triple-double-quote": (
        f'"""; {MKDIR}; """',
        'x = """{{ cookiecutter.v }}"""',
        "python",
    ),
    "triple-single-quote": (
        f"'''; {MKDIR}; '''",
        "x = '''{{ cookiecutter.v }}'''",
        "python",
    ),
    "double-quote": (f'"; {MKDIR}; "', 'x = "{{ cookiecutter.v }}"', "python"),
    "single-quote": (f"'; {MKDIR}; '", "x = '{{ cookiecutter.v }}'", "python"),
    "newline": (f"\n{MKDIR}\n", "# {{ cookiecutter.v }}", "python"),
    "backslash-quote": (
        f'\\"; {MKDIR}; #',
        "x = \"{{ cookiecutter.v | replace('\"', '\\\\\"') }}\"",
        "python",
    ),
    "shell": ('$(mkdir "$HOOK_MARKER")', 'echo "{{ cookiecutter.v }}"', "sh"),
    # Cookiecutter renders answers given as extra context once, which turns this
    # into a live Jinja expression; a hook that rendered it again would run it.
    "jinja": (
        "{% raw %}{{ " + JINJA_MKDIR + " }}{% endraw %}",
        "{{ cookiecutter.v }}",
        "jinja",
    ),
}


def run_naive_hook(template: str, language: str, answer: str) -> None:
    context = {"cookiecutter": {"v": answer}}
    source = create_env_with_context(context).from_string(template).render(**context)
    if language == "python":
        exec(source, {})  # noqa: S102 (proving the payload runs is the point)
    elif language == "sh":
        subprocess.run(["sh", "-c", source], check=True, capture_output=True)
    else:
        create_env_with_context(context).from_string(source).render()


@pytest.mark.parametrize("payload", PAYLOADS)
def test_payloads_are_live(tmp_path, monkeypatch, payload):
    answer, naive_hook, language = PAYLOADS[payload]
    monkeypatch.setenv("HOOK_MARKER", str(tmp_path / "marker"))
    if language == "jinja":  # first rendering, as cookiecutter does to extra context
        context = {"cookiecutter": {}}
        answer = create_env_with_context(context).from_string(answer).render(**context)
    run_naive_hook(naive_hook, language, answer)
    assert (tmp_path / "marker").exists()


@pytest.mark.parametrize("field", ["project_name", "description", "author_name"])
@pytest.mark.parametrize("payload", PAYLOADS)
def test_hostile_answers_never_run_in_hooks(
    cookies, tmp_path, monkeypatch, field, payload
):
    marker = tmp_path / "marker"
    monkeypatch.setenv("HOOK_MARKER", str(marker))
    result = cookies.bake(extra_context={field: PAYLOADS[payload][0]})
    assert not marker.exists()
    # Every payload is an invalid project_name; the newline one is invalid anywhere.
    if field == "project_name" or payload == "newline":
        assert isinstance(result.exception, FailedHookException)
        assert leftovers(tmp_path) == []
    else:  # valid: both hooks ran with it
        assert result.exception is None, result.exception


def test_cookiecutter_itself_renders_jinja_in_extra_context(cookies):
    """Characterisation, not a hook property.

    Answers given as extra context (or `key=value` on the command line) are Jinja
    templates to cookiecutter, rendered unsandboxed before any hook runs; answers
    typed at the prompt are not. Only the person running cookiecutter can supply
    either, with that person's rights, so the hooks' duty is to add no second
    evaluation, which test_hostile_answers_never_run_in_hooks checks.
    """
    result = cookies.bake(extra_context={"description": "{{ 7*7 }}"})
    assert result.context["description"] == "49"


def test_free_text_answers_stay_data_in_generated_files(cookies):
    """A description or author with quotes or backslashes must not become code or break TOML."""
    text = (
        PAYLOADS["triple-double-quote"][0] + " it's \\ " + PAYLOADS["single-quote"][0]
    )
    result = cookies.bake(extra_context={"description": text, "author_name": text})
    assert result.exception is None, result.exception
    for path in result.project_path.rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        calls = {
            node.func.id
            for node in ast.walk(tree)
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
        }
        assert "__import__" not in calls, path
    pyproject = (result.project_path / "pyproject.toml").read_text(encoding="utf-8")
    assert tomllib.loads(pyproject)["project"]["description"] == text


def test_project_records_where_it_came_from(cookies):
    result = cookies.bake()
    state = json.loads((result.project_path / ".cruft.json").read_text())
    head = subprocess.run(
        ["git", "rev-parse", "HEAD"],
        cwd=TEMPLATE_DIR,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert (state["template"], state["commit"]) == (str(TEMPLATE_DIR), head)
    assert state["context"]["cookiecutter"]["project"] == SLUG


def test_project_from_a_cloned_template_records_the_url(tmp_path):
    """`cookiecutter gh:org/template` clones: .cruft.json gets the URL, not the clone."""
    url = f"file://{TEMPLATE_DIR}"
    proc = run_cli(tmp_path, "--no-input", template=f"git+{url}")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    state = json.loads((tmp_path / "out" / SLUG / ".cruft.json").read_text())
    assert state["template"] == url
