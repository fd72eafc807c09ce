"""The GX runner (validation/runner.py) against the data scientists' rules (expectations.py).

The first test pays for importing Great Expectations (a few seconds); each
validation after that takes well under a second.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
import tempfile

import numpy as np
import pandas as pd
import pytest

from {{ cookiecutter.project }} import expectations as rules
from {{ cookiecutter.project }}.datasets import CUSTOMER_SNAPSHOTS
from {{ cookiecutter.project }}.validation.runner import SuiteResult, describe, validate_frame


def good_frame(n: int = 500, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "entity_id": np.arange(1, n + 1, dtype="int64"),
            "tenure_months": rng.integers(0, 601, n, dtype="int64"),
            "monthly_spend": rng.uniform(0, 5_000, n),
            "support_tickets": rng.integers(0, 20, n, dtype="int64"),
            "plan": pd.array(rng.choice(["basic", "pro", "enterprise"], n), dtype="str"),
            "last_login_days": rng.integers(0, 3651, n, dtype="int64"),
        }
    )


@pytest.fixture
def private_tmp(tmp_path, monkeypatch):
    """Point Python's tempfile module at an empty folder and fail if anything is left in it.

    GX creates its temp folders through `tempfile`, so this catches leaks
    deterministically (a before/after listing of /tmp is racy when other
    processes share it).
    """
    tmp = tmp_path / "tempdir"
    tmp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(tmp))
    yield tmp
    assert sorted(p.name for p in tmp.iterdir()) == [], "temp files/folders left behind"


@pytest.fixture
def run(tmp_path, private_tmp):
    reports = tmp_path / "reports"

    def _run(df: pd.DataFrame, run_name: str = "test_run", exps: list | None = None) -> SuiteResult:
        exps = rules.expectations() if exps is None else exps
        result = validate_frame(
            df, exps, suite_name=CUSTOMER_SNAPSHOTS.name, run_name=run_name, reports_dir=reports
        )
        # Invariants of every result.
        json.dumps([dataclasses.asdict(f) for f in result.failures], allow_nan=False)
        assert result.evaluated == len(rules.expectations())
        assert result.failed == len(result.failures)
        assert result.success == (result.failed == 0)
        assert result.report_path is not None and result.report_path.is_file()
        assert reports in result.report_path.parents
        assert "validations" in result.report_path.parts and result.report_path.name != "index.html"
        return result

    return _run


def failure(result: SuiteResult, expectation: str, column: str | None):
    matches = [f for f in result.failures if f.expectation == expectation and f.column == column]
    assert matches, f"no {expectation} failure on {column!r} in:\n{describe(result)}"
    return matches[0]


def assert_reported(result: SuiteResult, expectation: str, column: str | None) -> None:
    """Named in describe() and in this run's HTML report."""
    text = describe(result)
    assert "FAILED" in text and expectation in text
    page = result.report_path.read_text(encoding="utf-8")
    assert expectation in page
    if column is not None:
        assert f"column '{column}'" in text
        assert column in page


# --------------------------------------------------------------------------- scenarios


def test_good_batch_passes(run):
    result = run(good_frame())
    assert result.success and result.failures == [] and result.failed == 0
    assert "passed" in describe(result)


def test_nulls_in_required_column(run):
    df = good_frame()
    df.loc[[3, 7], "monthly_spend"] = np.nan
    result = run(df)
    f = failure(result, "expect_column_values_to_not_be_null", "monthly_spend")
    assert f.unexpected_count == 2
    assert f.sample_values == [None]  # NaN is reported as JSON null
    assert_reported(result, "expect_column_values_to_not_be_null", "monthly_spend")


def test_out_of_range(run):
    df = good_frame()
    df.loc[0, "tenure_months"] = -1
    df.loc[1, "tenure_months"] = 601
    df.loc[2, "monthly_spend"] = 250_000.0
    result = run(df)
    tenure = failure(result, "expect_column_values_to_be_between", "tenure_months")
    assert tenure.unexpected_count == 2 and sorted(tenure.sample_values) == [-1, 601]
    spend = failure(result, "expect_column_values_to_be_between", "monthly_spend")
    assert spend.sample_values == [250_000.0]
    assert result.failed == 2
    assert_reported(result, "expect_column_values_to_be_between", "tenure_months")


def test_duplicate_entity_ids_show_the_duplicated_id(run):
    df = good_frame()
    df.loc[10, "entity_id"] = 42  # 42 now appears twice
    result = run(df)
    f = failure(result, "expect_column_values_to_be_unique", "entity_id")
    assert f.unexpected_count == 2  # both rows carrying 42
    assert f.sample_values == [42]
    assert isinstance(f.sample_values[0], int)  # plain int, not numpy.int64
    assert "[42]" in describe(result)
    assert_reported(result, "expect_column_values_to_be_unique", "entity_id")


def test_renamed_column_is_a_clean_failure(run):
    df = good_frame().rename(columns={"monthly_spend": "spend"})
    result = run(df)
    schema = failure(result, "expect_table_columns_to_match_set", None)
    assert schema.sample_values == ["monthly_spend", "spend"]
    assert "missing columns ['monthly_spend']" in schema.message
    assert "unexpected columns ['spend']" in schema.message
    # Every rule on the missing column fails and says why.
    on_missing = [f for f in result.failures if f.column == "monthly_spend"]
    assert {f.expectation for f in on_missing} == {
        "expect_column_values_to_be_of_type",
        "expect_column_values_to_not_be_null",
        "expect_column_values_to_be_between",
    }
    assert all(f.message == "column not in the data: 'monthly_spend'" for f in on_missing)
    assert_reported(result, "expect_table_columns_to_match_set", None)
    assert "monthly_spend" in result.report_path.read_text(encoding="utf-8")


def test_empty_batch_fails_on_row_count(run):
    result = run(good_frame().iloc[0:0])
    assert [f.expectation for f in result.failures] == ["expect_table_row_count_to_be_between"]
    assert result.failures[0].sample_values == [0]
    assert_reported(result, "expect_table_row_count_to_be_between", None)


def test_wrong_type_strings_instead_of_floats(run):
    df = good_frame()
    df["monthly_spend"] = df["monthly_spend"].astype(str)
    result = run(df)
    f = failure(result, "expect_column_values_to_be_of_type", "monthly_spend")
    assert "expected float64" in f.message
    # The range rule cannot compare text with numbers: reported, not raised.
    between = failure(result, "expect_column_values_to_be_between", "monthly_spend")
    assert between.message.startswith("could not be evaluated")
    assert_reported(result, "expect_column_values_to_be_of_type", "monthly_spend")


def test_plan_outside_the_allowed_set(run):
    df = good_frame()
    df.loc[[0, 1, 2], "plan"] = "gold"
    result = run(df)
    f = failure(result, "expect_column_values_to_be_in_set", "plan")
    assert f.unexpected_count == 3 and f.sample_values == ["gold"]
    assert_reported(result, "expect_column_values_to_be_in_set", "plan")


# --------------------------------------------------------------------------- runner behaviour


def test_repeated_calls_are_independent_and_keep_earlier_reports(run):
    exps = rules.expectations()  # the same expectation objects, reused on purpose
    bad = good_frame()
    bad.loc[5, "entity_id"] = 1
    pages = []
    for i in range(6):
        result = run(bad if i % 2 else good_frame(), run_name=f"run_{i}", exps=exps)
        assert result.success is (i % 2 == 0)
        if not result.success:
            assert [f.sample_values for f in result.failures] == [[1]]
        pages.append(result.report_path)
    assert len(set(pages)) == 6
    assert all(p.is_file() for p in pages)  # later runs did not delete earlier pages


def test_gx_current_context_is_restored(run):
    import great_expectations as gx
    from great_expectations.data_context.data_context.context_factory import project_manager

    mine = gx.get_context(mode="ephemeral")  # e.g. other GX code in the same process
    run(good_frame())
    assert project_manager.get_current_project() is mine


def test_leak_detector_catches_gx_default_ephemeral_context(private_tmp):
    """Sanity check of the private_tmp fixture: GX's default ephemeral context leaks a folder."""
    import great_expectations as gx

    context = gx.get_context(mode="ephemeral")
    context.build_data_docs()
    leaked = list(private_tmp.iterdir())
    assert leaked, "expected GX's default ephemeral Data Docs folder in the temp dir"
    for p in leaked:  # clean up so the fixture's own check passes
        shutil.rmtree(p)
