"""The GX runner (validation/runner.py) on the contract's base rules and the business rules.

Frames come from the data contract (synthetic.py), and each scenario breaks a column
chosen by its role, so the tests hold for any contract; a scenario the contract
gives no column for is skipped. The first test pays for importing Great
Expectations (a few seconds); each validation after that takes well under a second.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
import tempfile

import pandas as pd
import pytest
from conftest import FEATURES, KEY, capped, column_of, plain_columns

from {{ cookiecutter.project }}.model import expectations
from {{ cookiecutter.project }}.synthetic import business_rules, column_for, features
from {{ cookiecutter.project }}.validation.rules import base_rules
from {{ cookiecutter.project }}.validation.runner import SuiteResult, describe, validate_frame


def rules() -> list:
    return base_rules(FEATURES, KEY) + expectations.expectations()


def good_frame(n: int = 500, seed: int = 0) -> pd.DataFrame:
    return features(pd.Timestamp("2025-03-03").date(), entities=capped(n), seed=seed)


def required_column() -> str:
    found = [c for c in plain_columns() if not FEATURES.column(c).nullable]
    if not found:
        pytest.skip("the data contract has no required column besides the key and the date")
    return found[0]


def ranged_column() -> str:
    column = column_for("out_of_range")
    if column is None:
        pytest.skip("the business rules give no numeric column a range")
    return column


def valued_column() -> str:
    found = [c for c in plain_columns() if "in" in business_rules().get(c, {})]
    if not found:
        pytest.skip("the business rules give no column a set of allowed values")
    return found[0]


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
        exps = rules() if exps is None else exps
        result = validate_frame(df, exps, suite_name=FEATURES.name, run_name=run_name, reports_dir=reports)
        # Invariants of every result.
        json.dumps([dataclasses.asdict(f) for f in result.failures], allow_nan=False)
        assert result.evaluated == len(exps)
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
    column = required_column()
    df = good_frame()
    df.loc[[3, 7], column] = None
    result = run(df)
    f = failure(result, "expect_column_values_to_not_be_null", column)
    assert f.unexpected_count == 2
    assert f.sample_values == [None]  # NA is reported as JSON null
    assert_reported(result, "expect_column_values_to_not_be_null", column)


def test_out_of_range(run):
    column = ranged_column()
    rule = business_rules()[column]
    bad = [rule["min"] - 1] if rule.get("min") is not None else []
    bad += [rule["max"] + 1] if rule.get("max") is not None else []
    df = good_frame()
    df[column] = df[column].astype(object)
    df.loc[list(range(len(bad))), column] = bad
    df[column] = df[column].astype(FEATURES.dtypes[column])
    result = run(df)
    f = failure(result, "expect_column_values_to_be_between", column)
    assert f.unexpected_count == len(bad) and sorted(f.sample_values) == sorted(bad)
    assert result.failed == 1
    assert_reported(result, "expect_column_values_to_be_between", column)


def test_duplicate_keys_show_the_duplicated_key(run):
    df = good_frame()
    df.loc[1, KEY] = df.loc[len(df) - 1, KEY]  # the last key now appears twice
    result = run(df)
    f = failure(result, "expect_column_values_to_be_unique", KEY)
    assert f.unexpected_count == 2  # both rows carrying it
    assert f.sample_values == [df.loc[len(df) - 1, KEY]]
    assert type(f.sample_values[0]) in (int, str)  # plain JSON values, not numpy scalars
    assert repr(f.sample_values) in describe(result)
    assert_reported(result, "expect_column_values_to_be_unique", KEY)


def test_renamed_column_is_a_clean_failure(run):
    column = column_of()
    df = good_frame().rename(columns={column: "renamed"})
    result = run(df)
    schema = failure(result, "expect_table_columns_to_match_set", None)
    assert schema.sample_values == [column, "renamed"]
    assert f"missing columns [{column!r}]" in schema.message
    assert "unexpected columns ['renamed']" in schema.message
    # Every rule on the missing column fails and says why.
    on_missing = [f for f in result.failures if f.column == column]
    ruled = {e.expectation_type for e in rules() if getattr(e, "column", None) == column}
    assert {f.expectation for f in on_missing} == ruled and ruled
    assert all(f.message == f"column not in the data: {column!r}" for f in on_missing)
    assert_reported(result, "expect_table_columns_to_match_set", None)
    assert column in result.report_path.read_text(encoding="utf-8")


def test_an_extra_column_is_named(run):
    result = run(good_frame().assign(surprise=1))
    schema = failure(result, "expect_table_columns_to_match_set", None)
    assert schema.message == "unexpected columns ['surprise']" and schema.sample_values == ["surprise"]


def test_empty_batch_fails_on_row_count(run):
    result = run(good_frame().iloc[0:0])
    assert [f.expectation for f in result.failures] == ["expect_table_row_count_to_be_between"]
    assert result.failures[0].sample_values == [0]
    assert_reported(result, "expect_table_row_count_to_be_between", None)


def test_whole_numbers_in_a_float_column_pass(run):
    column = column_of("Float64")
    df = good_frame()
    df[column] = df[column].round(0)
    assert run(df).success


def test_wrong_type_strings_instead_of_floats(run):
    column = column_of("Float64")
    df = good_frame()
    df[column] = df[column].astype(str)
    result = run(df)
    f = failure(result, "expect_column_values_to_be_of_type", column)
    assert "expected float64" in f.message
    if "min" in business_rules().get(column, {}):  # a range rule cannot compare text with numbers
        between = failure(result, "expect_column_values_to_be_between", column)
        assert between.message.startswith("could not be evaluated")
    assert_reported(result, "expect_column_values_to_be_of_type", column)


def test_a_value_outside_the_allowed_set(run):
    column = valued_column()
    df = good_frame()
    df.loc[[0, 1, 2], column] = "gold-plated"
    result = run(df)
    f = failure(result, "expect_column_values_to_be_in_set", column)
    assert f.unexpected_count == 3 and f.sample_values == ["gold-plated"]
    assert_reported(result, "expect_column_values_to_be_in_set", column)


# --------------------------------------------------------------------------- runner behaviour


def test_repeated_calls_are_independent_and_keep_earlier_reports(run):
    exps = rules()  # the same expectation objects, reused on purpose
    bad = good_frame()
    bad.loc[5, KEY] = bad.loc[0, KEY]
    pages = []
    for i in range(6):
        result = run(bad if i % 2 else good_frame(), run_name=f"run_{i}", exps=exps)
        assert result.success is (i % 2 == 0)
        if not result.success:
            assert [f.sample_values for f in result.failures] == [[bad.loc[0, KEY]]]
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
