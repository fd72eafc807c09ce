"""The drop-folder source: Parquet files, the archive, rejected files, a missing folder.

What every adapter does (chunked reads, reruns, bad input, hostile strings) is tested
in tests/test_source_contract.py. Each failure case compares the warehouse before and
after with SQL: a failed extraction leaves it exactly as it was.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import replace

import pandas as pd
import psycopg2
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from conftest import DAY, EARLIER, FEATURES, KEY, as_text, column_of, publish, warehouse_state

from {{ cookiecutter.project }} import extraction
from {{ cookiecutter.project }}.extraction import ExtractError, extract
from {{ cookiecutter.project }}.interval import Interval
from {{ cookiecutter.project }}.sources import SourceError, open_source
from {{ cookiecutter.project }}.sources.formats import csv_bytes
from {{ cookiecutter.project }}.staging import conform
from {{ cookiecutter.project }}.synthetic import features
from {{ cookiecutter.project }}.warehouse import WarehouseUnavailable


def incoming(settings, day: dt.date, suffix: str = ".csv"):
    return settings.drop_dir / FEATURES.name / f"{day}{suffix}"


def archived(settings) -> list[str]:
    folder = settings.drop_dir / "archive" / FEATURES.name
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


@pytest.fixture
def staged_days(staged_days, settings) -> dict:
    """conftest's: EARLIER and DAY extracted from clean files, which are now archived."""
    assert archived(settings) == [f"{EARLIER}.csv", f"{DAY}.csv"]
    return staged_days


def test_reads_parquet_in_chunks_exactly_the_rows_written(settings):
    frame = features(DAY, entities=50)
    column = column_of("Int64", "Float64")
    frame.loc[[3, 40], column] = None  # NULLs in one chunk, not in the others
    incoming(settings, DAY).parent.mkdir(parents=True)
    pq.write_table(pa.Table.from_pandas(frame), incoming(settings, DAY, ".parquet"), row_group_size=10)
    source = open_source(replace(settings, chunk_rows=7))

    chunks = list(source.read(FEATURES, Interval.day(DAY)))

    assert len(chunks) >= 8 and max(map(len, chunks)) <= 7
    assert all(chunk.dtypes.equals(chunks[0].dtypes) for chunk in chunks)
    got = conform(pd.concat(chunks, ignore_index=True), FEATURES, DAY)
    pd.testing.assert_frame_equal(got, conform(frame, FEATURES, DAY))


def test_a_rerun_reads_the_archived_file(settings, sql):
    publish(settings, DAY, features(DAY, entities=30))
    assert extract(settings, FEATURES, Interval.day(DAY), "r1") == 30
    assert not incoming(settings, DAY).exists() and archived(settings) == [f"{DAY}.csv"]

    assert extract(settings, FEATURES, Interval.day(DAY), "r2") == 30

    counts = f'SELECT count(*), count(DISTINCT "{KEY}") FROM "{FEATURES.table}"'  # noqa: S608
    assert sql(counts) == [(30, 30)]
    assert archived(settings) == [f"{DAY}.csv"]


def test_a_new_upload_is_archived_beside_the_earlier_version(settings, sql):
    publish(settings, DAY, features(DAY, entities=10))
    extract(settings, FEATURES, Interval.day(DAY), "r1")
    first = (settings.drop_dir / "archive" / FEATURES.name / f"{DAY}.csv").read_bytes()
    publish(settings, DAY, features(DAY, entities=12))
    second = incoming(settings, DAY).read_bytes()

    assert extract(settings, FEATURES, Interval.day(DAY), "r2") == 12

    folder = settings.drop_dir / "archive" / FEATURES.name
    [earlier] = set(archived(settings)) - {f"{DAY}.csv"}
    assert re.fullmatch(re.escape(f"{DAY}.") + r"\d+T\d+Z\.csv", earlier)  # <day>.<replaced at>.csv
    assert (folder / f"{DAY}.csv").read_bytes() == second  # the latest keeps the name reruns read
    assert (folder / earlier).read_bytes() == first
    assert extract(settings, FEATURES, Interval.day(DAY), "r3") == 12


def test_a_file_replaced_while_it_was_read_is_left_for_the_next_run(settings):
    source = open_source(settings)
    publish(settings, DAY, features(DAY, entities=10))
    assert sum(map(len, source.read(FEATURES, Interval.day(DAY)))) == 10
    publish(settings, DAY, features(DAY, entities=15))  # a new upload before the commit

    source.commit(FEATURES, Interval.day(DAY))

    assert archived(settings) == []
    assert incoming(settings, DAY).read_bytes() == csv_bytes(features(DAY, entities=15))


def test_a_value_that_is_not_a_number_leaves_the_file_in_place(settings, staged_days):
    column = column_of("Int64", "Float64")
    frame = as_text(features(DAY, entities=10), column)
    frame.loc[9, column] = "twelve"
    publish(settings, DAY, frame)
    upload = incoming(settings, DAY).read_bytes()

    with pytest.raises(ExtractError, match=column):
        extract(settings, FEATURES, Interval.day(DAY), "bad")

    # Not a parse error: neither rejected nor archived, left where it is for a fixed upload.
    assert incoming(settings, DAY).read_bytes() == upload
    assert not (settings.drop_dir / "rejected").exists()
    assert archived(settings) == [f"{EARLIER}.csv", f"{DAY}.csv"]


def test_missing_folder_or_file_is_a_source_error_and_writes_nothing(settings, sql, staged_days, tmp_path):
    gone = replace(settings, drop_dir=tmp_path / "not-mounted")
    with pytest.raises(SourceError, match=re.escape(f"drop folder {gone.drop_dir} does not exist")):
        extract(gone, FEATURES, Interval.day(DAY), "bad")
    later = DAY + dt.timedelta(days=1)
    expected = f"no file for {FEATURES.name} {later} in {settings.drop_dir / FEATURES.name}"
    with pytest.raises(SourceError, match=re.escape(expected)):
        extract(settings, FEATURES, Interval.day(later), "bad")
    assert warehouse_state(sql) == staged_days


def test_a_symbolic_link_in_the_drop_folder_is_refused(settings, sql, staged_days, tmp_path):
    secret = tmp_path / "elsewhere.csv"
    secret.write_bytes(csv_bytes(features(DAY, entities=3)))
    later = DAY + dt.timedelta(days=1)
    link = settings.drop_dir / FEATURES.name / f"{later}.csv"
    link.parent.mkdir(parents=True, exist_ok=True)
    link.symlink_to(secret)

    with pytest.raises(SourceError, match="is a symbolic link"):
        extract(settings, FEATURES, Interval.day(later), "link")
    assert warehouse_state(sql) == staged_days


# The valid part spans more than one of pyarrow's 1 MiB blocks, so that a ragged row
# fails after chunks were copied: the rollback, not an early failure, keeps them out.
VALID = csv_bytes(features(DAY, entities=45_000))
WIDTH = len(FEATURES.names)
INVALID_CSV = {
    "binary": b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 4,
    "unbalanced_quotes": VALID + b'"45001,' + b"1," * (WIDTH - 1) + b"\n45002\n",  # open to the end of file
    "short_row": VALID + b",".join([b"1"] * (WIDTH - 1)) + b"\n",
    "long_row": VALID + b",".join([b"1"] * (WIDTH + 1)) + b"\n",
}


@pytest.mark.parametrize("defect", INVALID_CSV)
def test_invalid_csv_is_moved_to_rejected_and_nothing_is_staged(settings, sql, staged_days, defect):
    path = incoming(settings, DAY)
    path.write_bytes(INVALID_CSV[defect])

    with pytest.raises(SourceError, match=re.escape(f"{path} is not valid CSV: ")) as raised:
        extract(replace(settings, chunk_rows=5_000), FEATURES, Interval.day(DAY), "bad")

    assert warehouse_state(sql) == staged_days
    rejected = settings.drop_dir / "rejected" / FEATURES.name / f"{DAY}.csv"
    assert not path.exists() and rejected.read_bytes() == INVALID_CSV[defect]
    reason = rejected.with_name(f"{DAY}.csv.reason.txt").read_text(encoding="utf-8")
    assert reason.strip() in str(raised.value)
    assert archived(settings) == [f"{EARLIER}.csv", f"{DAY}.csv"]  # the good version is intact
    assert extract(settings, FEATURES, Interval.day(DAY), "rerun") == 20  # and reruns read it


def test_lost_warehouse_connection_leaves_the_file_in_place(settings, sql, staged_days, monkeypatch):
    publish(settings, DAY, features(DAY, entities=30))
    upload = incoming(settings, DAY).read_bytes()
    copy_frame, calls = extraction.copy_frame, []

    def copy_then_lose_connection(*args):
        calls.append(1)
        if len(calls) == 2:
            raise psycopg2.OperationalError("server closed the connection unexpectedly")
        return copy_frame(*args)

    monkeypatch.setattr(extraction, "copy_frame", copy_then_lose_connection)
    with pytest.raises(WarehouseUnavailable):
        extract(replace(settings, chunk_rows=7), FEATURES, Interval.day(DAY), "bad")

    assert warehouse_state(sql) == staged_days
    assert incoming(settings, DAY).read_bytes() == upload
    assert not (settings.drop_dir / "rejected").exists()
