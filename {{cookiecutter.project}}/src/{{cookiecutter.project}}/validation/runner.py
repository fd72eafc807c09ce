"""Validate data with Great Expectations (GX 1.x) and render its report.

`validate_query` validates the rows of a SQL query where they are, with GX's SQL
execution engine: the gate (gate.py) runs it on a staged partition, which then
never has to fit in memory. `validate_frame` validates a pandas DataFrame (a
notebook's, a test's). Both give a SuiteResult and one HTML page.

Every call builds its own in-memory GX context: nothing is shared between
calls, nothing is written outside ``reports_dir`` (no temp folders), and GX's
process-wide "current context" is restored afterwards. The one HTML page of
this validation run is written to
``reports_dir/data_docs/validations/<suite>/<run_name>/<run_time>/<batch>.html``
and returned as ``SuiteResult.report_path``. No index.html is built (see
``_render_run_page`` for why).

GX is imported inside the functions, not at module level: importing it takes
several seconds, and Airflow imports DAG files (and their imports) often.
"""

from __future__ import annotations

import copy
import datetime as _dt
import html
import logging
import math
import re
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlparse

if TYPE_CHECKING:
    import pandas as pd

SITE_NAME = "local_site"
DATA_DOCS_SUBDIR = "data_docs"
MAX_SAMPLES = 5
# Unexpected values GX collects per failed expectation; we keep MAX_SAMPLES
# distinct ones.
_PARTIAL_UNEXPECTED_COUNT = 20
_TYPE_EXPECTATIONS = {"expect_column_values_to_be_of_type", "expect_column_values_to_be_in_type_list"}


@dataclass(frozen=True)
class Failure:
    expectation: str  # GX type name, e.g. "expect_column_values_to_be_unique"
    column: str | None  # None for table-level expectations
    kwargs: dict  # the expectation's parameters, JSON-serialisable
    unexpected_count: int | None  # None when GX reports no count (table-level, errors)
    sample_values: list  # <= 5 distinct offending (or observed) values, JSON-serialisable
    message: str = ""  # what is wrong, in words, e.g. "column not in the data: 'plan'"


@dataclass(frozen=True)
class SuiteResult:
    suite: str
    success: bool
    evaluated: int
    failed: int
    failures: list[Failure]
    report_path: Path | None  # HTML page of this run; None if GX could not render it


def quiet_gx_logging(level: int = logging.WARNING) -> None:
    """Silence GX's INFO chatter (about 200 lines on import). Call before importing GX."""
    logging.getLogger("great_expectations").setLevel(level)


def validate_frame(
    df: pd.DataFrame,
    expectations: list,
    *,
    suite_name: str,
    run_name: str,
    reports_dir: Path,
) -> SuiteResult:
    """Validate ``df`` against ``expectations``; render this run's Data Docs page.

    Bad data (missing columns, wrong types, empty frame, ...) never raises: it
    comes back as failures. Programming errors raise (no expectations, an
    invalid expectation, ``df`` not being a DataFrame).
    """
    with _context(expectations, reports_dir) as context:
        batch_definition = (
            context.data_sources.add_pandas(name="runtime")
            .add_dataframe_asset(name=suite_name)
            .add_batch_definition_whole_dataframe(name="whole_frame")
        )
        columns = {str(c): str(t) for c, t in df.dtypes.items()}
        return _validate(
            context, batch_definition, {"dataframe": df}, expectations, suite_name, run_name, columns
        )


def validate_query(
    connect: Callable[[], Any],
    query: str,
    columns: dict[str, str],
    expectations: list,
    *,
    suite_name: str,
    run_name: str,
    reports_dir: Path,
) -> SuiteResult:
    """Validate the rows of ``query`` in the database, through GX's SQL execution engine.

    ``connect`` opens a psycopg2 connection (the warehouse's, with its schema);
    ``columns`` are the query's columns and their PostgreSQL types, for messages.
    GX copies the rows into a temporary table first, so that it reads the column
    types there and every expectation sees the same rows; the database computes
    each metric, so memory does not grow with the row count. The connections are
    closed before returning, which drops the table and every lock.
    """
    with _context(expectations, reports_dir) as context, warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "a PostgresDatasource may be more appropriate": it wants a URL
        source = context.data_sources.add_sql(
            name="warehouse",
            connection_string="postgresql+psycopg2://",
            create_temp_table=True,
            kwargs={"creator": connect},
        )
        try:
            batch_definition = source.add_query_asset(
                name=suite_name, query=query
            ).add_batch_definition_whole_table(name="whole_table")
            return _validate(context, batch_definition, {}, expectations, suite_name, run_name, columns)
        finally:
            source.get_execution_engine().close()
            source.get_engine().dispose()


def describe(result: SuiteResult) -> str:
    """Multi-line, human-readable summary; used as the Airflow task failure message."""
    verdict = "passed" if result.success else "FAILED"
    lines = [
        f"Data validation {verdict} for suite '{result.suite}': "
        f"{result.failed} of {result.evaluated} expectations failed."
    ]
    for i, f in enumerate(result.failures, 1):
        where = f" on column '{f.column}'" if f.column is not None else ""
        lines.append(f"  {i}. {f.expectation}{where}")
        params = {k: v for k, v in f.kwargs.items() if k != "column"}
        if params:
            lines.append(f"     rule: {_short(params)}")
        if f.message:
            lines.append(f"     problem: {f.message}")
        if f.sample_values:
            lines.append(f"     sample values: {_short(f.sample_values)}")
    lines.append(f"Report: {result.report_path or 'not rendered (see the task log)'}")
    return "\n".join(lines)


# --------------------------------------------------------------------------- validation


@contextmanager
def _context(expectations: list, reports_dir: Path) -> Iterator:
    """A new in-memory GX context with its Data Docs site under ``reports_dir``."""
    quiet_gx_logging()
    import great_expectations as gx
    from great_expectations.data_context import set_context

    if not expectations:
        raise ValueError("expectations is empty: nothing to validate")
    docs_dir = Path(reports_dir).resolve() / DATA_DOCS_SUBDIR
    # get_context() also makes the new context GX's process-wide "current" one.
    # Restoring the previous one leaves no global state behind and lets our
    # context (and the data it references) be freed right away.
    previous = _current_gx_context()
    try:
        yield gx.get_context(mode="ephemeral", project_config=_context_config(docs_dir))
    finally:
        set_context(previous)


def _validate(
    context,
    batch_definition,
    batch_parameters: dict,
    expectations: list,
    suite_name: str,
    run_name: str,
    columns: dict[str, str],
) -> SuiteResult:
    import great_expectations as gx
    from great_expectations.core.run_identifier import RunIdentifier

    # Copies: GX binds an expectation object to the first suite it joins, and the
    # caller may pass the same objects again (copy.copy is GX's supported way).
    suite = context.suites.add(
        gx.ExpectationSuite(name=suite_name, expectations=[copy.copy(e) for e in expectations])
    )
    if len(suite.expectations) != len(expectations):
        # ExpectationSuite() only logs and drops invalid entries: never run a partial suite.
        raise ValueError(f"only {len(suite.expectations)} of {len(expectations)} expectations are valid")
    validation = context.validation_definitions.add(
        gx.ValidationDefinition(name=suite_name, data=batch_definition, suite=suite)
    )

    run_id = RunIdentifier(run_name=_safe_run_name(run_name), run_time=_dt.datetime.now(_dt.UTC))
    result = validation.run(
        batch_parameters=batch_parameters,
        # SUMMARY: counts plus a few unexpected values, without collecting every
        # unexpected row (COMPLETE) -- cheap even on millions of rows.
        result_format={"result_format": "SUMMARY", "partial_unexpected_count": _PARTIAL_UNEXPECTED_COUNT},
        run_id=run_id,
    )

    # Failures in suite order (GX returns results grouped by domain).
    position = {e.id: i for i, e in enumerate(suite.expectations)}
    failed = sorted(
        (r for r in result.results if not r.success),
        key=lambda r: position.get(r.expectation_config.id, len(position)),
    )
    failures = [_to_failure(r, columns) for r in failed]

    report_path = _render_run_page(context, result, run_id)
    if report_path is not None and failures:
        _add_failure_summary(report_path, failures)

    stats = result.statistics
    return SuiteResult(
        suite=suite_name,
        success=bool(result.success),
        evaluated=int(stats.get("evaluated_expectations", len(result.results))),
        failed=int(stats.get("unsuccessful_expectations", len(failures))),
        failures=failures,
        report_path=report_path,
    )


def _current_gx_context():
    from great_expectations.data_context.data_context.context_factory import project_manager
    from great_expectations.exceptions import DataContextRequiredError

    try:
        return project_manager.get_current_project()
    except DataContextRequiredError:
        return None


def _context_config(docs_dir: Path):
    from great_expectations.data_context.types.base import (
        DataContextConfig,
        InMemoryStoreBackendDefaults,
        ProgressBarsConfig,
    )

    # get_context(mode="ephemeral") with no config points Data Docs at a fresh
    # tempfile directory that nobody removes; we give it our own site instead.
    return DataContextConfig(
        store_backend_defaults=InMemoryStoreBackendDefaults(init_temp_docs_sites=False),
        data_docs_sites={
            SITE_NAME: {
                "class_name": "SiteBuilder",
                "show_how_to_buttons": False,
                "store_backend": {
                    "class_name": "TupleFilesystemStoreBackend",
                    "base_directory": str(docs_dir),
                },
                "site_section_builders": {
                    # By default run names containing "profiling" are silently not rendered.
                    "validations": {"run_name_filter": {"matches_regex": ".*"}},
                    "profiling": "None",
                },
            }
        },
        analytics_enabled=False,
        progress_bars=ProgressBarsConfig(globally=False),
    )


def _safe_run_name(run_name: str) -> str:
    # The run name becomes a directory of the report path. Airflow run ids
    # ("scheduled__2025-03-02T00:00:00+00:00") are kept as they are.
    return re.sub(r"[^A-Za-z0-9_.:+=@-]+", "_", str(run_name)).strip("._") or "run"


# --------------------------------------------------------------------------- Data Docs


def _render_run_page(context, result, run_id) -> Path | None:
    """Render only this run's validation page: no index, no suite page."""
    from great_expectations.data_context.types.resource_identifiers import (
        ExpectationSuiteIdentifier,
        ValidationResultIdentifier,
    )

    result_id = ValidationResultIdentifier(
        expectation_suite_identifier=ExpectationSuiteIdentifier(name=result.suite_name),
        run_id=run_id,
        batch_identifier=result.batch_id,
    )
    _escape_unexpected_values(context, result_id)
    # build_index=False is needed for correctness, not just speed: the index
    # builder deletes every page whose result is not in the context's store --
    # here an in-memory store holding only this run, so it would delete every
    # earlier run's page in reports_dir. (UpdateDataDocsAction always builds
    # the index, which is why no Checkpoint action is used.)
    context.build_data_docs(site_names=[SITE_NAME], resource_identifiers=[result_id], build_index=False)
    # GX logs rendering errors instead of raising: check that the page exists.
    urls = context.get_docs_sites_urls(
        resource_identifier=result_id, site_names=[SITE_NAME], only_if_exists=True
    )
    url = urls[0]["site_url"] if urls else None
    if not url:
        return None
    path = Path(unquote(urlparse(url).path))
    return path if path.is_file() else None


def _escape_unexpected_values(context, result_id) -> None:
    """HTML-escape the data values GX puts raw into its "unexpected values" tables.

    GX escapes template parameters but not those table cells, so a value such as
    "<script>...</script>" in the batch would run in the browser of whoever opens the
    report. Only the stored copy that Data Docs renders is changed.
    """
    store = context.validation_results_store
    stored = store.get(result_id)
    for r in stored.results:
        res = r.result or {}
        if res.get("partial_unexpected_list"):
            res["partial_unexpected_list"] = [
                html.escape(v) if isinstance(v, str) else v for v in res["partial_unexpected_list"]
            ]
        for count in res.get("partial_unexpected_counts") or []:
            if isinstance(count.get("value"), str):
                count["value"] = html.escape(count["value"])
    store.set(result_id, stored)


def _add_failure_summary(page: Path, failures: list[Failure]) -> None:
    """Put a table of the failed expectations, by GX type name, at the top of the page.

    GX renders expectations only as prose ("values must be unique"); its
    built-in way to add a column (meta_properties_to_render) breaks page
    rendering in GX 1.24, so the summary is added here.
    """
    e = html.escape
    rows = "".join(
        f"<tr><td><code>{e(f.expectation)}</code></td><td>{e(f.column or '(table)')}</td>"
        f"<td>{e(f.message)}</td><td><code>{e(_short(f.sample_values))}</code></td></tr>"
        for f in failures
    )
    block = (
        "\n<!-- failed-expectations summary added by runner.py -->\n"
        '<div id="failed-expectations-summary" class="ge-section container-fluid mb-1 pb-1 pl-sm-3 px-0">'
        '<div class="alert alert-danger"><strong>Failed expectations</strong></div>'
        '<table class="table table-sm table-bordered"><thead><tr><th>Expectation</th><th>Column</th>'
        f"<th>Problem</th><th>Sample values</th></tr></thead><tbody>{rows}</tbody></table></div>\n"
    )
    text = page.read_text(encoding="utf-8")
    anchor = text.find('<div id="section-1"')  # GX's first section ("Overview")
    if anchor == -1:
        anchor = text.rfind("</body>")
    text = text + block if anchor == -1 else text[:anchor] + block + text[anchor:]
    page.write_text(text, encoding="utf-8")


# --------------------------------------------------------------------------- result -> Failure


def _to_failure(r, columns: dict[str, str]) -> Failure:
    config = r.expectation_config
    kwargs = {k: _jsonable(v) for k, v in config.kwargs.items() if k != "batch_id"}
    column = kwargs.get("column") if isinstance(kwargs.get("column"), str) else None
    res = r.result or {}
    return Failure(
        expectation=config.type,
        column=column,
        kwargs=kwargs,
        unexpected_count=_int_or_none(res.get("unexpected_count")),
        sample_values=_samples(res),
        message=_message(config.type, kwargs, res, r.exception_info, columns),
    )


def _message(etype: str, kwargs: dict, res: dict, exception_info: Any, columns: dict[str, str]) -> str:
    named = [
        kwargs.get("column"),
        kwargs.get("column_A"),
        kwargs.get("column_B"),
        *(kwargs.get("column_list") or []),
    ]
    missing = [c for c in named if isinstance(c, str) and c not in columns]
    if missing:
        return "column not in the data: " + ", ".join(repr(c) for c in missing)
    if _raised(exception_info):
        return "could not be evaluated: " + _exception_message(exception_info)
    mismatched = _mismatched_columns(res)
    if mismatched is not None:
        parts = []
        if mismatched.get("missing"):
            parts.append(f"missing columns {sorted(mismatched['missing'])}")
        if mismatched.get("unexpected"):
            parts.append(f"unexpected columns {sorted(mismatched['unexpected'])}")
        return "; ".join(parts) or "columns differ"
    column_type = columns.get(kwargs.get("column")) if etype in _TYPE_EXPECTATIONS else None
    if res.get("unexpected_count") is not None:
        msg = f"{res['unexpected_count']} of {res.get('element_count', '?')} values unexpected"
        pct = res.get("unexpected_percent")
        if isinstance(pct, (int, float)) and math.isfinite(pct):
            msg += f" ({pct:.3g}%)"
        if column_type:
            msg += f"; column type is {column_type}"
        return msg
    if column_type:
        expected = kwargs.get("type_") or kwargs.get("type_list")
        return f"column type is {column_type}, expected {expected}"
    if "observed_value" in res:
        return f"observed {_short(_jsonable(res['observed_value']))}"
    return "failed"


def _mismatched_columns(res: dict) -> dict | None:
    details = res.get("details")
    mismatched = details.get("mismatched") if isinstance(details, dict) else None
    return mismatched if isinstance(mismatched, dict) else None


def _samples(res: dict) -> list:
    mismatched = _mismatched_columns(res)
    if mismatched is not None:  # expect_table_columns_to_match_set: the odd columns
        values = sorted(mismatched.get("missing") or []) + sorted(mismatched.get("unexpected") or [])
    elif res.get("partial_unexpected_counts"):  # distinct values, most frequent first
        values = [d.get("value") for d in res["partial_unexpected_counts"]]
    elif res.get("partial_unexpected_list") is not None:
        values = list(res["partial_unexpected_list"])
    elif "observed_value" in res:  # aggregate expectations: row count, dtype, ...
        observed = res["observed_value"]
        values = list(observed) if isinstance(observed, (list, tuple)) else [observed]
    else:
        values = []
    out: list = []
    for v in values:
        j = _jsonable(v)
        if j not in out:
            out.append(j)
        if len(out) == MAX_SAMPLES:
            break
    return out


def _raised(info: Any) -> bool:
    if not isinstance(info, dict):
        return False
    if "raised_exception" in info:
        return bool(info["raised_exception"])
    # When a metric failed, GX keys exception_info by metric id.
    return any(isinstance(v, dict) and v.get("raised_exception") for v in info.values())


def _exception_message(info: dict) -> str:
    if "exception_message" in info:
        return str(info["exception_message"])
    msgs = [
        str(v.get("exception_message"))
        for v in info.values()
        if isinstance(v, dict) and v.get("raised_exception")
    ]
    return "; ".join(dict.fromkeys(msgs)) or "unknown error"


def _int_or_none(v: Any) -> int | None:
    try:
        return None if v is None else int(v)
    except (TypeError, ValueError):
        return None


def _jsonable(v: Any) -> Any:
    """numpy/pandas values -> plain JSON types. NaN/NA/NaT -> None, +-inf -> "inf"/"-inf"."""
    if v is None or isinstance(v, bool):
        return v
    if isinstance(v, str):
        return str(v)  # np.str_ -> str
    if isinstance(v, dict):
        return {str(k): _jsonable(x) for k, x in v.items()}
    if isinstance(v, (list, tuple, set, frozenset)):
        return [_jsonable(x) for x in v]
    if type(v).__module__ == "numpy" and getattr(v, "ndim", None) == 0:
        v = v.item()  # numpy scalar -> Python scalar
        if v is None or isinstance(v, (bool, str)):
            return v
    if isinstance(v, int):
        return int(v)
    if isinstance(v, float):
        if math.isnan(v):
            return None
        return float(v) if math.isfinite(v) else ("inf" if v > 0 else "-inf")
    if type(v).__name__ in {"NAType", "NaTType"}:
        return None
    if isinstance(v, (_dt.datetime, _dt.date, _dt.time)):
        return v.isoformat()
    if isinstance(v, bytes):
        return v.decode("utf-8", "replace")
    if hasattr(v, "tolist"):  # numpy arrays
        return _jsonable(v.tolist())
    try:
        return _jsonable(float(v))  # Decimal and other number types
    except (TypeError, ValueError):
        return str(v)


def _short(v: Any, limit: int = 200) -> str:
    s = repr(v)
    return s if len(s) <= limit else s[: limit - 3] + "..."
