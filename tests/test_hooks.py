"""Unit tests of the hooks' functions, imported from hooks/ without baking."""

from __future__ import annotations

import json
import subprocess
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
    ("project", "p" * 40),
    ("project_name", "Customer Lifetime Value Forecasting Pipe"),
    ("description", "Scores customers daily: \"churn\" (it's a 'test') \\ {{ 7*7 }}"),
    ("description", "x" * 200),
    ("author_name", "Ada Lovelace <ada@example.com>"),
    ("python_version", "3.11"),
    ("python_version", "3.12"),
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
    ("schedule", "@quarterly"),
    ("schedule", "0 0 29 2 *"),
    ("schedule", "0 0 31 2 1"),
    ("schedule", "0 0 30,31 1,2 *"),
    ("schedule", "0 0 31 */2 *"),
    ("retrain_schedule", "*/15 * * * *"),
    ("retrain_schedule", "0-59/5 0-23 1-31 1-12 0-7"),
    ("retrain_schedule", "30 2 * * SUN"),
    ("retrain_schedule", "@weekly"),
    ("retrain_schedule", "0 0 5/10 * *"),
    ("retrain_schedule", "0 0 * * 5-7"),
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
    ("warehouse_schema", "_w" + "x" * 53),
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
    ("project_name", "a/b c/d", "only letters"),
    ("project_name", "x" * 201, "at most 200 characters (has 201)"),
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
    ("project", "p" * 41, "at most 40 characters (has 41)"),
    ("description", "", "must not be empty"),
    ("description", "two\nlines", "single line"),
    ("description", "tab\there", "single line"),
    ("description", "x" * 201, "at most 200 characters (has 201)"),
    ("author_name", " ", "must not be empty"),
    ("author_name", "esc\x1b[31m", "single line"),
    ("python_version", "3.10", "one of 3.11, 3.12"),
    ("python_version", "3.13", "one of 3.11, 3.12"),
    ("python_version", "3.11 ", "one of 3.11, 3.12"),
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
    ("schedule", "0 0 31 2 *", "never fires: no month in '2' has a day '31'"),
    ("schedule", "0 0 30 2 *", "never fires"),
    ("schedule", "0 0 31 4,6,9,11 *", "never fires"),
    ("schedule", "0 0 31 2 *,1", "never fires"),
    ("retrain_schedule", "0 0 30-31 feb *", "never fires"),
    ("schedule", "0  0 * * *", "single spaces"),
    ("schedule", "0\u00a00 * * *", "five fields"),
    ("retrain_schedule", "0 0 * * fri-mon", "runs backwards"),
    ("retrain_schedule", "@midnight", "five fields"),
    ("retrain_schedule", "0 0 L * *", "day of month field 'L'"),
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
    ("warehouse_schema", "x" * 56, "at most 55 characters (has 56)"),
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
        ("s3", []),
        ("files", []),
    ],
)
def test_unused_source_support_is_what_no_chosen_adapter_uses(post_gen, kind, unused):
    assert post_gen.unused_source_support("churn", kind) == [Path(p) for p in unused]


@pytest.mark.parametrize("kind", ["postgres", "s3", "files"])
def test_remove_unused_source_support_keeps_what_the_adapter_uses(
    post_gen, tmp_path, kind
):
    shipped = ["src/churn/sources/__init__.py", "src/churn/sources/formats.py"]
    for name in shipped:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).touch()
    post_gen.remove_unused_source_support(tmp_path, "churn", kind)
    left = {str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*")}
    sources = {"src", "src/churn", "src/churn/sources", "src/churn/sources/__init__.py"}
    if kind == "postgres":
        assert left == sources
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


CLONED = {
    "_template": "gh:org/template",
    "_repo_dir": "/home/u/.cookiecutters/template",
}
LOCAL = {"_template": ".", "_repo_dir": "."}


def test_post_gen_main_removes_and_prints_next_steps(post_gen, tmp_path, capsys):
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "test_source_s3.py").touch()
    formats = tmp_path / "src" / "churn" / "sources" / "formats.py"
    formats.parent.mkdir(parents=True)
    formats.touch()
    (tmp_path / "t").mkdir()  # a template outside git: no .cruft.json, a note
    answers = {
        "project": "churn",
        "source_kind": "postgres",
        "executor": "local",
    } | LOCAL
    post_gen.main(answers, tmp_path, tmp_path / "t")
    assert not (tmp_path / "tests" / "test_source_s3.py").exists()
    assert not formats.exists()
    out = capsys.readouterr().out
    assert "No .cruft.json" in out
    assert f"cd {tmp_path} && make install && make demo" in out


def test_post_gen_main_under_cruft_removes_quietly(post_gen, tmp_path, capsys):
    """cruft renders into temporary folders and writes .cruft.json itself."""
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "test_source_s3.py").touch()
    answers = {
        "project": "churn",
        "source_kind": "files",
        "executor": "local",
        "_commit": "c0ffee",
    }
    post_gen.main(answers, tmp_path, tmp_path)
    assert not (tmp_path / "tests" / "test_source_s3.py").exists()
    assert not (tmp_path / ".cruft.json").exists()
    assert capsys.readouterr().out == ""


def git_template(folder: Path, origin: str | None = None) -> str:
    """A one-commit git repository standing in for the template; returns its commit."""
    env = {"GIT_CONFIG_GLOBAL": "/dev/null", "GIT_CONFIG_SYSTEM": "/dev/null"}

    def git(*args: str) -> str:
        return subprocess.run(
            ["git", "-C", str(folder), "-c", "user.name=t", "-c", "user.email=t@t", *args],
            capture_output=True, text=True, check=True, env=env,
        ).stdout.strip()  # fmt: skip

    folder.mkdir()
    git("init", "-q")
    (folder / "cookiecutter.json").write_text("{}")
    git("add", ".")
    git("commit", "-q", "-m", "template")
    if origin:
        git("remote", "add", "origin", origin)
    return git("rev-parse", "HEAD")


CLONED = {
    "_template": "gh:org/template",
    "_repo_dir": "/home/u/.cookiecutters/template",
}
LOCAL = {"_template": ".", "_repo_dir": "."}


def test_template_source_is_the_folder_for_a_local_template(post_gen, tmp_path):
    git_template(tmp_path / "t")
    assert post_gen.template_source(LOCAL, tmp_path / "t") == str(tmp_path / "t")


def test_template_source_is_the_url_cookiecutter_cloned(post_gen, tmp_path):
    url = "https://github.com/org/template.git"
    git_template(tmp_path / "t", origin=url)
    assert post_gen.template_source(CLONED, tmp_path / "t") == url


def test_cruft_state_holds_template_commit_and_answers_only(post_gen):
    answers = {"project": "churn", "_output_dir": "/home/u/out", "__x_checked": ""}
    state = post_gen.cruft_state(answers | {"_checkout": "v0.1.0"}, "/t", "c0ffee")
    assert state == {
        "template": "/t",
        "commit": "c0ffee",
        "checkout": "v0.1.0",
        "context": {
            "cookiecutter": {"project": "churn", "_template": "/t", "_commit": "c0ffee"}
        },
        "directory": None,
    }


def test_record_template_writes_cruft_json(post_gen, tmp_path):
    commit = git_template(tmp_path / "t")
    (tmp_path / "p").mkdir()
    note = post_gen.record_template(
        LOCAL | {"project": "churn"}, tmp_path / "p", tmp_path / "t"
    )
    assert note == ""
    state = json.loads((tmp_path / "p" / ".cruft.json").read_text())
    assert (state["template"], state["commit"]) == (str(tmp_path / "t"), commit)
    assert state["context"]["cookiecutter"]["project"] == "churn"


def test_record_template_explains_a_template_outside_git(post_gen, tmp_path):
    (tmp_path / "t").mkdir()
    note = post_gen.record_template(LOCAL | {"project": "c"}, tmp_path, tmp_path / "t")
    assert "No .cruft.json" in note and "cruft link" in note
    assert not (tmp_path / ".cruft.json").exists()


def test_record_template_warns_of_uncommitted_template_changes(post_gen, tmp_path):
    git_template(tmp_path / "t")
    (tmp_path / "t" / "cookiecutter.json").write_text('{"changed": 1}')
    (tmp_path / "p").mkdir()
    note = post_gen.record_template(LOCAL, tmp_path / "p", tmp_path / "t")
    assert "uncommitted changes" in note


def test_every_typed_prompt_is_checked_as_soon_as_given(cookiecutter_json):
    """Each text prompt is followed by the private key whose rendering checks it."""
    keys = list(cookiecutter_json)
    for key, value in cookiecutter_json.items():
        if isinstance(value, str) and not key.startswith("_"):
            check = f"__{key}_checked"
            assert keys[keys.index(key) + 1] == check, key
            assert cookiecutter_json[check] == (
                f"{{{{ cookiecutter.{key} | checked('{key}') }}}}"
            )


def test_checked_filter_refuses_with_the_hooks_message(cookiecutter_json):
    from cookiecutter.exceptions import FailedHookException

    import local_extensions

    context = {"cookiecutter": {"_extensions": cookiecutter_json["_extensions"]}}
    env = create_env_with_context(context)
    check = env.from_string("{{ value | checked('schedule') }}")
    assert check.render(value="0 0 * * *") == ""
    with pytest.raises(local_extensions.AnswerRefused) as refused:
        check.render(value="0 0 31 2 *")
    assert isinstance(refused.value, FailedHookException)  # the CLI prints it alone
    assert str(refused.value).startswith("ERROR: schedule: never fires")
