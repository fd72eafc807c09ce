"""Unit tests of the hooks' functions, imported from hooks/ without baking."""

from __future__ import annotations

from pathlib import Path

import pytest
from cookiecutter.utils import create_env_with_context

HOOKS_DIR = Path(__file__).resolve().parent.parent / "hooks"

GOOD = [
    ("project_name", "Churn Forecast"),
    ("project_name", "fraud-alerts_2"),
    ("project_name", "Prévisions"),
    ("project", "churn_forecast"),
    ("project", "_internal2"),
    ("description", "Scores customers daily: \"churn\" (it's a 'test') \\ {{ 7*7 }}"),
    ("description", "x" * 200),
    ("author_name", "Ada Lovelace <ada@example.com>"),
    ("python_version", "3.11"),
    ("python_version", "3.12"),
    ("python_version", "3.13"),
    ("model_kind", "classification"),
    ("model_kind", "regression"),
    ("source_kind", "postgres"),
    ("source_kind", "s3"),
    ("source_kind", "files"),
    ("schedule", "0 0 * * *"),
    ("schedule", "30 6 * * *"),
    ("schedule", "0 6 1-5,15 JAN-MAR mon-fri"),
    ("schedule", "59 23 1-31 1-12 0-7"),
    ("schedule", "@daily"),
    ("schedule", "@monthly"),
    ("retrain_schedule", "*/15 * * * *"),
    ("retrain_schedule", "0-59/5 0-23 1-31 1-12 0-7"),
    ("retrain_schedule", "30 2 * * SUN"),
    ("retrain_schedule", "@weekly"),
    ("start_date", "2025-01-01"),
    ("start_date", "2011-01-01"),
    ("executor", "local"),
    ("executor", "celery"),
    ("aws_region", "eu-west-1"),
    ("aws_region", "us-gov-west-1"),
    ("aws_region", "ap-southeast-2"),
    ("aws_region", "cn-northwest-1"),
    ("aws_region", "il-central-1"),
    ("aws_region", "us-isob-east-1"),
    ("warehouse_schema", "churn_forecast"),
    ("warehouse_schema", "_w" + "x" * 61),
]

# (field, value, part of the message the validator must give)
BAD = [
    ("project_name", "", "must not be empty"),
    ("project_name", "   ", "must not be empty"),
    (
        "project_name",
        "1st project!",
        "only letters, digits, spaces, hyphens and underscores",
    ),
    ("project_name", "a/b", "only letters"),
    ("project", "1st_project", "lowercase Python identifier"),
    ("project", "Churn", "lowercase Python identifier"),
    ("project", "churn-forecast", "lowercase Python identifier"),
    ("project", "", "lowercase Python identifier"),
    ("project", "class", "Python keyword"),
    ("project", "lambda", "Python keyword"),
    ("project", "match", "Python keyword"),
    ("project", "json", "standard-library module"),
    ("project", "test", "standard-library module"),
    ("project", "airflow", "a dependency"),
    ("project", "great_expectations", "a dependency"),
    ("project", "tests", "a project folder"),
    ("description", "", "must not be empty"),
    ("description", "two\nlines", "single line"),
    ("description", "tab\there", "single line"),
    ("description", "x" * 201, "at most 200 characters (has 201)"),
    ("author_name", " ", "must not be empty"),
    ("author_name", "esc\x1b[31m", "single line"),
    ("python_version", "3.10", "one of 3.11, 3.12, 3.13"),
    ("python_version", "3.11 ", "one of 3.11, 3.12, 3.13"),
    ("model_kind", "clustering", "one of classification, regression"),
    ("source_kind", "kafka", "one of postgres, s3, files"),
    ("schedule", "0 0 * *", "five fields"),
    ("schedule", "0 0 * * * *", "five fields"),
    ("schedule", "@once", "five fields"),
    ("schedule", "*/5 * * * *", "at most once a day"),
    ("schedule", "0 * * * *", "at most once a day"),
    ("schedule", "0 0,12 * * *", "at most once a day"),
    ("schedule", "0 6-8 * * *", "at most once a day"),
    ("schedule", "@hourly", "at most once a day"),
    ("start_date", "", "YYYY-MM-DD"),
    ("start_date", "2025-1-1", "YYYY-MM-DD"),
    ("start_date", "2025-02-30", "real date"),
    ("start_date", "1969-12-31", "between 1970-01-01 and today"),
    ("start_date", "2999-01-01", "between 1970-01-01 and today"),
    ("executor", "kubernetes", "one of local, celery"),
    ("schedule", "60 0 * * *", "minute field '60'"),
    ("schedule", "*/0 * * * *", "minute field '*/0'"),
    ("schedule", "0 24 * * *", "hour field '24'"),
    ("schedule", "0 0 0 * *", "day of month field '0'"),
    ("retrain_schedule", "0 0 * 13 *", "month field '13'"),
    ("retrain_schedule", "0 0 * * 8", "day of week field '8'"),
    ("retrain_schedule", "0 0 * * FUNDAY", "use 0-7 or SUN-SAT"),
    ("aws_region", "eu-west", "AWS region code"),
    ("aws_region", "EU-WEST-1", "AWS region code"),
    ("aws_region", "eu-west-1a", "AWS region code"),
    ("aws_region", "euwest1", "AWS region code"),
    ("warehouse_schema", "Churn", "lowercase SQL identifier"),
    ("warehouse_schema", "1st", "lowercase SQL identifier"),
    ("warehouse_schema", "x" * 64, "at most 63 characters"),
    ("warehouse_schema", "pg_stats", "system schema"),
    ("warehouse_schema", "information_schema", "system schema"),
    ("warehouse_schema", "public", "not public"),
    ("warehouse_schema", "user", "reserved SQL keyword"),
    ("warehouse_schema", "order", "reserved SQL keyword"),
]


@pytest.mark.parametrize(("field", "value"), GOOD)
def test_validator_accepts(pre_gen, field, value):
    assert pre_gen.VALIDATORS[field](value) is None


@pytest.mark.parametrize(("field", "value", "message"), BAD)
def test_validator_refuses_with_clear_rule(pre_gen, field, value, message):
    assert message in (pre_gen.VALIDATORS[field](value) or "")


def test_every_prompt_has_a_validator_with_cases(pre_gen, cookiecutter_json):
    prompts = {name for name in cookiecutter_json if not name.startswith("_")}
    assert set(pre_gen.VALIDATORS) == prompts
    assert {field for field, _ in GOOD} == prompts
    assert {field for field, _, _ in BAD} == prompts


def test_cron_validator_agrees_with_airflows_parser(pre_gen):
    """Airflow parses cron with croniter: accept only what it accepts, refuse what it refuses."""
    from croniter import croniter

    for field, value in GOOD:
        if field.endswith("schedule"):
            assert croniter.is_valid(value), value
    for field, value, message in BAD:
        # "at most once a day" refuses valid crons on purpose: partitions are days.
        if (
            field.endswith("schedule")
            and len(value.split()) == 5
            and "once a day" not in message
        ):
            assert not croniter.is_valid(value), value


def test_choices_match_cookiecutter_json(pre_gen, post_gen, cookiecutter_json):
    assert list(pre_gen.MODEL_KINDS) == cookiecutter_json["model_kind"]
    assert list(pre_gen.SOURCE_KINDS) == cookiecutter_json["source_kind"]
    assert list(post_gen.SOURCE_KINDS) == cookiecutter_json["source_kind"]
    assert list(pre_gen.EXECUTORS) == cookiecutter_json["executor"]


def test_default_answers_are_valid(pre_gen, default_answers):
    assert pre_gen.find_errors(default_answers) == []
    assert pre_gen.main(default_answers) == 0


def test_main_reports_every_error_on_stderr(pre_gen, default_answers, capsys):
    answers = default_answers | {
        "project_name": "1st project!",
        "project": "class",
        "python_version": 3.11,
    }
    assert pre_gen.main(answers) == 1
    out, err = capsys.readouterr()
    assert out == ""
    assert err.splitlines() == [
        (
            "ERROR: project_name: must contain only letters, digits, spaces, hyphens"
            " and underscores (got '1st project!')"
        ),
        "ERROR: project: must not be a Python keyword (got 'class')",
        "ERROR: python_version: must be given as text (got 3.11)",
    ]


def test_error_shows_long_or_hostile_values_on_one_short_line(pre_gen):
    assert pre_gen.shown("x" * 100) == "'" + "x" * 56 + "..."
    assert pre_gen.shown("a\nb\x1b[2J") == "'a\\nb\\x1b[2J'"


# Strings that break naive ways of putting text into Python source: quotes of every
# kind, backslashes, line breaks (also Unicode ones), escape codes, a lone surrogate
# (what Python makes of non-UTF-8 bytes in argv), Jinja, HTML and shell syntax.
HOSTILE = [
    '"""', "'''", '"', "'", "\\", '\\"', "\\u0041", "\n", "\r\n\t\x00\x1b[31m",
    "\u2028\u2029", "😀", "\udcff", "{{ 7*7 }}", "{% raw %}", "</script>", "$(id) `id`",
]  # fmt: skip


@pytest.mark.parametrize("hook", ["pre_gen_project", "post_gen_project"])
def test_rendered_hook_hands_over_answers_as_data(hook, default_answers):
    """Render the hook as cookiecutter does; load_answers() must give back exactly the answers."""
    answers = default_answers | {f"field{i}": text for i, text in enumerate(HOSTILE)}
    answers["every"] = "".join(HOSTILE)
    context = {"cookiecutter": answers}
    source = (HOOKS_DIR / f"{hook}.py").read_text(encoding="utf-8")
    rendered = create_env_with_context(context).from_string(source).render(**context)
    namespace = {"__name__": "rendered_hook"}
    exec(compile(rendered, hook, "exec"), namespace)  # noqa: S102 (running the rendered hook is the point)
    assert namespace["load_answers"]() == answers


@pytest.mark.parametrize("kind", ["postgres", "s3", "files"])
def test_source_files_are_the_adapter_and_its_test(post_gen, kind):
    assert post_gen.source_files("churn", kind) == [
        Path(f"src/churn/sources/{kind}.py"),
        Path(f"tests/test_source_{kind}.py"),
    ]


def test_unused_source_files_are_the_other_kinds(post_gen):
    assert post_gen.unused_source_files("churn", "s3") == [
        Path("src/churn/sources/postgres.py"),
        Path("tests/test_source_postgres.py"),
        Path("src/churn/sources/files.py"),
        Path("tests/test_source_files.py"),
    ]


@pytest.mark.parametrize("kind", ["postgres", "s3", "files"])
def test_remove_unused_sources_keeps_only_the_chosen_pair(post_gen, tmp_path, kind):
    kept = [
        "src/churn/__init__.py",
        "src/churn/sources/__init__.py",
        "tests/test_config.py",
    ]
    adapters = [
        str(p) for k in post_gen.SOURCE_KINDS for p in post_gen.source_files("churn", k)
    ]
    for name in kept + adapters:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).touch()
    post_gen.remove_unused_sources(tmp_path, "churn", kind)
    left = {str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*") if p.is_file()}
    assert left == set(kept) | {
        f"src/churn/sources/{kind}.py",
        f"tests/test_source_{kind}.py",
    }


def test_remove_unused_sources_ignores_files_not_shipped(post_gen, tmp_path):
    post_gen.remove_unused_sources(tmp_path, "churn", "postgres")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("kind", "unused"),
    [
        ("postgres", ["src/churn/sources/formats.py"]),
        ("s3", ["src/churn/sources/queries"]),
        ("files", ["src/churn/sources/queries"]),
    ],
)
def test_unused_source_support_is_what_no_chosen_adapter_uses(post_gen, kind, unused):
    assert post_gen.unused_source_support("churn", kind) == [Path(p) for p in unused]


@pytest.mark.parametrize("kind", ["postgres", "s3", "files"])
def test_remove_unused_source_support_keeps_what_the_adapter_uses(
    post_gen, tmp_path, kind
):
    shipped = [
        "src/churn/sources/__init__.py",
        "src/churn/sources/formats.py",
        "src/churn/sources/queries/customer_snapshots.sql",
        "src/churn/sources/queries/outcomes.sql",
    ]
    for name in shipped:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).touch()
    post_gen.remove_unused_source_support(tmp_path, "churn", kind)
    left = {str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*")}
    sources = {"src", "src/churn", "src/churn/sources", "src/churn/sources/__init__.py"}
    if kind == "postgres":
        assert left == sources | {"src/churn/sources/queries", *shipped[2:]}
    else:
        assert left == sources | {"src/churn/sources/formats.py"}


def test_remove_unused_source_support_ignores_files_not_shipped(post_gen, tmp_path):
    for kind in post_gen.SOURCE_KINDS:
        post_gen.remove_unused_source_support(tmp_path, "churn", kind)
    assert list(tmp_path.iterdir()) == []


def test_every_source_kind_uses_shared_support_only_of_known_kinds(post_gen):
    for kinds in post_gen.SOURCE_SUPPORT.values():
        assert set(kinds) <= set(post_gen.SOURCE_KINDS)


def test_next_steps_give_a_pasteable_command(post_gen):
    plain = post_gen.next_steps(Path("/tmp/out/churn"))
    assert "cd /tmp/out/churn && make install && make demo" in plain
    spaced = post_gen.next_steps(Path("/tmp/my out/churn"))
    assert "cd '/tmp/my out/churn' && make install && make demo" in spaced


@pytest.mark.parametrize(("executor", "kept"), [("celery", True), ("local", False)])
def test_remove_celery_files_keeps_them_for_celery_only(
    post_gen, tmp_path, executor, kept
):
    worker = tmp_path / "infra/systemd/airflow-celery-worker@.service"
    scheduler = tmp_path / "infra/systemd/airflow-scheduler.service"
    for unit in (worker, scheduler):
        unit.parent.mkdir(parents=True, exist_ok=True)
        unit.touch()
    post_gen.remove_celery_files(tmp_path, executor)
    assert worker.exists() is kept
    assert scheduler.exists()


def test_post_gen_main_removes_and_prints_next_steps(post_gen, tmp_path, capsys):
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "test_source_s3.py").touch()
    queries = tmp_path / "src" / "churn" / "sources" / "queries"
    queries.mkdir(parents=True)
    (queries / "outcomes.sql").touch()
    post_gen.main(
        {"project": "churn", "source_kind": "files", "executor": "local"}, tmp_path
    )
    assert not (tmp_path / "tests" / "test_source_s3.py").exists()
    assert not queries.exists()
    assert f"cd {tmp_path} && make install && make demo" in capsys.readouterr().out
