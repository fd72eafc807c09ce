"""Pre-generation hook: refuse bad answers before any project file is written.

Cookiecutter renders this file with Jinja, runs it with its own Python (so: stdlib
only) from the freshly created project directory, and on a non-zero exit deletes
that directory. Each validator is a pure function of one answer that returns the
broken rule, or None; `main` reports every broken rule at once.

The same validators already ran on each answer as it was given (`checked` in
local_extensions.py), before any directory existed; this hook is the check of
record for what skips the prompts: a replay file.
"""

from __future__ import annotations

import json
import keyword
import re
import sys
from calendar import monthrange
from datetime import date
from typing import NamedTuple


def load_answers() -> dict:
    # The only Jinja expression in this file. The answers are encoded as JSON twice:
    # the outer result is an ASCII JSON string whose only escapes are \" and \\, which
    # mean the same in a Python string literal, so any answer (quotes, backslashes,
    # newlines, braces) reaches json.loads as data and never as code.
    # Unrendered, the expression is still valid Python (a set inside a set) that is
    # only evaluated when called, so tests import this file as it stands.
    return json.loads({{cookiecutter | tojson | tojson}})  # noqa: F821


MAX_TEXT = 200
# The package name prefixes DAG ids, the default S3 bucket and AWS resource names,
# which infra/aws.py cuts at 40 characters: longer names would stop being unique.
MAX_PROJECT = 40
# Roles `<schema>_analyst` and `<schema>_writer` must fit PostgreSQL's 63 bytes,
# which it would otherwise truncate silently, to the same name for both.
MAX_SCHEMA = 63 - len("_analyst")

# Importing a package with one of these names would load the wrong module, either
# the project instead of the library or the reverse: the standard library of the
# running Python (plus its `test` package, which stdlib_module_names leaves out),
# what the generated project imports, and its importable root folders. Not all of PyPI.
SHADOWED_MODULES = sys.stdlib_module_names | {
    "test",
    "airflow", "boto3", "botocore", "great_expectations", "moto", "numpy", "pandas",
    "pgserver", "psycopg2", "pyarrow", "pytest", "sklearn", "alembic", "sqlalchemy",
    "dags", "src", "tests", "infra", "benchmarks",
}  # fmt: skip

# PostgreSQL keywords that cannot name a schema unquoted: pg_get_keywords() catcode
# R (reserved) and T (type/function names only), PostgreSQL 16. `user` and `order`
# would force analysts to quote the schema in every query.
_PG_RESERVED_WORDS = """
    all analyse analyze and any array as asc asymmetric authorization binary both case
    cast check collate collation column concurrently constraint create cross
    current_catalog current_date current_role current_schema current_time
    current_timestamp current_user default deferrable desc distinct do else end except
    false fetch for foreign freeze from full grant group having ilike in initially inner
    intersect into is isnull join lateral leading left like limit localtime
    localtimestamp natural not notnull null offset on only or order outer overlaps
    placing primary references returning right select session_user similar some
    symmetric system_user table tablesample then to trailing true union unique user
    using variadic verbose when where window with
"""
PG_RESERVED = frozenset(_PG_RESERVED_WORDS.split())

# Versions for which every pin in constraints.txt has a wheel: pgserver 0.1.4 has
# none for 3.13, and altair needs 3.11 (tests/test_python_versions.py checks both ways).
PYTHON_VERSIONS = ("3.11", "3.12")
MODEL_KINDS = ("classification", "regression")
SOURCE_KINDS = ("postgres", "s3", "files")
EXECUTORS = ("local", "celery")

# Airflow's presets (airflow.utils.dates.cron_presets) as the five fields they stand for.
CRON_PRESETS = {
    "@hourly": "0 * * * *",
    "@daily": "0 0 * * *",
    "@weekly": "0 0 * * 0",
    "@monthly": "0 0 1 * *",
    "@quarterly": "0 0 1 */3 *",
    "@yearly": "0 0 1 1 *",
}
MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")  # fmt: skip
DAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")


class CronField(NamedTuple):
    name: str
    allowed: str  # for the message
    value: str  # regex of one value
    low: int
    high: int
    names: tuple[str, ...] = ()  # spellings of low, low + 1, ...

    def number(self, text: str) -> int:
        text = text.lower()
        return self.low + self.names.index(text) if text in self.names else int(text)


CRON_FIELDS = (
    CronField("minute", "0-59", r"[0-5]?\d", 0, 59),
    CronField("hour", "0-23", r"[01]?\d|2[0-3]", 0, 23),
    CronField("day of month", "1-31", r"0?[1-9]|[12]\d|3[01]", 1, 31),
    CronField("month", "1-12 or JAN-DEC", "0?[1-9]|1[0-2]|" + "|".join(MONTHS), 1, 12, MONTHS),
    CronField("day of week", "0-7 or SUN-SAT", "[0-7]|" + "|".join(DAYS), 0, 7, DAYS),
)  # fmt: skip
DAY_OF_MONTH, MONTH = CRON_FIELDS[2:4]


def _cron_field_regex(value: str) -> re.Pattern[str]:
    """A comma list of `*`, a value or a range, each with an optional /step."""
    item = rf"(?:\*|(?:{value})(?:-(?:{value}))?)(?:/[1-9]\d*)?"
    return re.compile(rf"{item}(?:,{item})*", re.IGNORECASE)


CRON_FIELD_REGEXES = tuple(_cron_field_regex(field.value) for field in CRON_FIELDS)

# Commercial, GovCloud, China, ISO and sovereign partitions: eu-west-1,
# us-gov-west-1, ap-southeast-2, cn-northwest-1, us-isob-east-1, eusc-de-east-1.
AWS_REGION = re.compile(
    r"[a-z]{2,4}(?:-[a-z]{2,4})?-(?:central|north|south|(?:north|south)?(?:east|west))-[1-9]\d?"
)


def validate_project_name(value: str) -> str | None:
    if not value.strip():
        return "must not be empty"
    if not re.fullmatch(r"[\w -]+", value):
        return "must contain only letters, digits, spaces, hyphens and underscores"
    if len(value) > MAX_TEXT:
        return f"must be at most {MAX_TEXT} characters (has {len(value)})"
    return None


def validate_project(value: str) -> str | None:
    if not re.fullmatch(r"[a-z_][a-z0-9_]*", value):
        return (
            "must be a lowercase Python identifier: a-z, 0-9 and _, not starting with a digit"
            " (it is derived from project_name unless given)"
        )
    if keyword.iskeyword(value) or keyword.issoftkeyword(value):
        return "must not be a Python keyword"
    if value in SHADOWED_MODULES:
        return "must not reuse the name of a standard-library module, a dependency or a project folder"
    if len(value) > MAX_PROJECT:
        return (
            f"must be at most {MAX_PROJECT} characters (has {len(value)}): it prefixes DAG ids"
            f" and AWS resource names, which are cut at {MAX_PROJECT}"
        )
    return None


def validate_warehouse_schema(value: str) -> str | None:
    if not re.fullmatch(r"[a-z_][a-z0-9_]*", value):
        return "must be a lowercase SQL identifier: a-z, 0-9 and _, not starting with a digit"
    if len(value) > MAX_SCHEMA:
        return (
            f"must be at most {MAX_SCHEMA} characters (has {len(value)}): the roles"
            " <schema>_analyst and <schema>_writer must fit PostgreSQL's 63-character names"
        )
    if value.startswith("pg_") or value == "information_schema":
        return (
            "must not be a PostgreSQL system schema name (pg_* or information_schema)"
        )
    # Per-project schema: grants to the analyst role and any reset that drops the
    # project schema must never touch the shared default schema.
    if value == "public":
        return "must be the project's own schema, not public"
    if value in PG_RESERVED:
        return "must not be a reserved SQL keyword"
    return None


def validate_python_version(value: str) -> str | None:
    if value not in PYTHON_VERSIONS:
        return f"must be one of {', '.join(PYTHON_VERSIONS)}"
    return None


# Cookiecutter refuses unknown choices given as extra context, but a replay file
# is loaded as it is, so choices are checked here too.
def validate_model_kind(value: str) -> str | None:
    if value not in MODEL_KINDS:
        return f"must be one of {', '.join(MODEL_KINDS)}"
    return None


def validate_source_kind(value: str) -> str | None:
    if value not in SOURCE_KINDS:
        return f"must be one of {', '.join(SOURCE_KINDS)}"
    return None


def cron_spans(text: str) -> list[tuple[str, str, str]]:
    """(start, end, step) of each comma item of a field: `1-5/2` -> ('1', '5', '2')."""
    spans = []
    for item in text.split(","):
        span, _, step = item.partition("/")
        start, _, end = span.partition("-")
        spans.append((start, end, step))
    return spans


def cron_values(text: str, field: CronField) -> set[int]:
    """The values a syntactically valid field stands for."""
    values = set()
    for start, end, step in cron_spans(text):
        if start == "*":
            first, last = field.low, field.high
        else:
            first = field.number(start)
            # `a/n` runs from a to the highest value, as croniter reads it.
            last = field.number(end) if end else (field.high if step else first)
        values.update(range(first, last + 1, int(step or 1)))
    return values


def validate_cron(value: str) -> str | None:
    texts = CRON_PRESETS.get(value, value).split(" ")
    if len(texts) != 5:
        return (
            "must be a cron expression of five fields (minute hour day-of-month month"
            " day-of-week) separated by single spaces, e.g. '0 0 * * *', or one of"
            f" {', '.join(CRON_PRESETS)}"
        )
    for text, field, regex in zip(texts, CRON_FIELDS, CRON_FIELD_REGEXES):
        if not regex.fullmatch(text):
            return (
                f"{field.name} field {text!r} is not valid: use {field.allowed}, '*',"
                " ranges (a-b), steps (/n) or comma lists"
            )
        # croniter wraps `fri-mon` around the week; cron(5) calls it an error.
        if any(
            end and field.number(start) > field.number(end)
            for start, end, _ in cron_spans(text)
        ):
            return f"{field.name} field {text!r} has a range that runs backwards: write it low-high"
    return never_fires(*texts[2:])


def never_fires(day: str, month: str, weekday: str) -> str | None:
    # Airflow (croniter) ORs day of month and day of week unless one holds a `*`:
    # only with a `*` day of week do the days of month alone decide.
    if "*" not in weekday.split(","):
        return None
    first_day = min(cron_values(day, DAY_OF_MONTH))
    # 29 February exists in leap years, so `0 0 29 2 *` fires every four years.
    if any(monthrange(2024, m)[1] >= first_day for m in cron_values(month, MONTH)):
        return None
    return (
        f"never fires: no month in {month!r} has a day {day!r}, so Airflow would"
        " refuse the DAG; choose days that exist in those months"
    )


def validate_daily_cron(value: str) -> str | None:
    """A cron that fires at most once per calendar day: partitions are days, keyed by date."""
    once_a_day = (
        "must fire at most once a day (a single minute and hour, e.g. '30 2 * * *', or"
        " @daily, @weekly, @monthly, @quarterly, @yearly): partitions are days, each"
        " keyed by the start date of its run's data interval"
    )
    if value == "@hourly":
        return once_a_day
    rule = validate_cron(value)
    if rule or value in CRON_PRESETS:
        return rule
    minute, hour = value.split()[:2]
    if not (minute.isdigit() and hour.isdigit()):
        return once_a_day
    return None


def validate_start_date(value: str) -> str | None:
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        return "must be a date written YYYY-MM-DD, e.g. 2025-01-01"
    try:
        day = date.fromisoformat(value)
    except ValueError as exc:
        return f"must be a real date ({exc})"
    if not date(1970, 1, 1) <= day <= date.today():
        return "must lie between 1970-01-01 and today"
    return None


def validate_executor(value: str) -> str | None:
    if value not in EXECUTORS:
        return f"must be one of {', '.join(EXECUTORS)}"
    return None


def validate_aws_region(value: str) -> str | None:
    if not AWS_REGION.fullmatch(value):
        return "must be an AWS region code such as eu-west-1, us-gov-west-1 or ap-southeast-2"
    return None


def validate_one_line(value: str) -> str | None:
    if not value.strip():
        return "must not be empty"
    if not value.isprintable():
        return "must be a single line of printable text (no newline, tab or control character)"
    if len(value) > MAX_TEXT:
        return f"must be at most {MAX_TEXT} characters (has {len(value)})"
    return None


VALIDATORS = {
    "project_name": validate_project_name,
    "project": validate_project,
    "description": validate_one_line,
    "author_name": validate_one_line,
    "python_version": validate_python_version,
    "model_kind": validate_model_kind,
    "source_kind": validate_source_kind,
    "schedule": validate_daily_cron,
    "retrain_schedule": validate_cron,
    "start_date": validate_start_date,
    "executor": validate_executor,
    "aws_region": validate_aws_region,
    "warehouse_schema": validate_warehouse_schema,
}


def shown(value: object, limit: int = 60) -> str:
    """repr keeps hostile input on one line and free of terminal escape codes."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def check(field: str, value: object) -> str | None:
    """The error line for one answer, or None."""
    # A replay file can hold any JSON type; the validators only take text.
    rule = (
        VALIDATORS[field](value) if isinstance(value, str) else "must be given as text"
    )
    return f"ERROR: {field}: {rule} (got {shown(value)})" if rule else None


def find_errors(answers: dict) -> list[str]:
    errors = (check(field, answers.get(field)) for field in VALIDATORS)
    return [error for error in errors if error]


def main(answers: dict) -> int:
    errors = find_errors(answers)
    for error in errors:
        print(error, file=sys.stderr)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main(load_answers()))
