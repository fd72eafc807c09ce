"""The drop-folder source: chunked reads, reruns, the archive, rejected files, bad input.

Each failure case compares the warehouse before and after with SQL: a failed
extraction leaves it exactly as it was.
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

from {{ cookiecutter.project }} import extraction
from {{ cookiecutter.project }}.datasets import CUSTOMER_SNAPSHOTS
from {{ cookiecutter.project }}.demo_data import snapshots, with_defect
from {{ cookiecutter.project }}.extraction import ExtractError, extract
from {{ cookiecutter.project }}.interval import Interval
from {{ cookiecutter.project }}.sources import SourceError, open_source
from {{ cookiecutter.project }}.sources.formats import csv_bytes
from {{ cookiecutter.project }}.warehouse import WarehouseUnavailable

EARLIER, DAY = dt.date(2025, 3, 3), dt.date(2025, 3, 4)
COLUMNS = list(CUSTOMER_SNAPSHOTS.columns)
DTYPES = {
    "entity_id": "Int64",
    "tenure_months": "Int64",
    "monthly_spend": "Float64",
    "support_tickets": "Int64",
    "plan": "str",
    "last_login_days": "Int64",
}
# Strings that break naive CSV or SQL handling; None is NULL, "" the empty string.
HOSTILE = ["it's", 'say "hi"', '"', "'", "a;b", "'; DROP TABLE x; --", "a,b,c", "x" * 10_000,
           "naïve café 日本語 🙂", "line1\nline2", "cr\r\nlf", "\ttab", "back\\slash", "\\N",
           "NA", "null", "", " padded ", None]  # fmt: skip


def publish(settings, day: dt.date, frame: pd.DataFrame) -> None:
    open_source(settings).publish(CUSTOMER_SNAPSHOTS, Interval.day(day), frame)


def incoming(settings, day: dt.date, suffix: str = ".csv"):
    return settings.drop_dir / CUSTOMER_SNAPSHOTS.name / f"{day}{suffix}"


def archived(settings) -> list[str]:
    folder = settings.drop_dir / "archive" / CUSTOMER_SNAPSHOTS.name
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def warehouse_state(sql) -> dict:
    """Everything an extraction writes, for before / after comparisons."""
    return {
        "rows": sql("SELECT * FROM staging_customer_snapshots ORDER BY logical_date, entity_id"),
        "batches": sql("SELECT * FROM staging_batches ORDER BY dataset, logical_date"),
    }


@pytest.fixture
def staged_days(settings, sql) -> dict:
    """EARLIER and DAY extracted from clean files (20 rows each), now archived; the warehouse state."""
    for day in (EARLIER, DAY):
        publish(settings, day, snapshots(day, entities=20))
        assert extract(settings, CUSTOMER_SNAPSHOTS, Interval.day(day), "good") == 20
    assert archived(settings) == [f"{EARLIER}.csv", f"{DAY}.csv"]
    return warehouse_state(sql)


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_reads_in_chunks_exactly_the_rows_published(settings, suffix):
    frame = snapshots(DAY, entities=50)
    frame.loc[[3, 40], "monthly_spend"] = None  # NULLs in one chunk, not in the others
    if suffix == ".csv":
        publish(settings, DAY, frame)
    else:
        incoming(settings, DAY).parent.mkdir(parents=True)
        pq.write_table(pa.Table.from_pandas(frame), incoming(settings, DAY, suffix), row_group_size=10)
    source = open_source(replace(settings, chunk_rows=7))

    chunks = list(source.read(CUSTOMER_SNAPSHOTS, Interval.day(DAY)))

    assert len(chunks) >= 8 and max(map(len, chunks)) <= 7
    assert all(chunk.dtypes.astype(str).to_dict() == DTYPES for chunk in chunks)
    pd.testing.assert_frame_equal(pd.concat(chunks, ignore_index=True), frame.astype(DTYPES))


def test_extracting_a_day_twice_reads_the_archive_and_replaces(settings, sql):
    publish(settings, DAY, snapshots(DAY, entities=30))
    assert extract(settings, CUSTOMER_SNAPSHOTS, Interval.day(DAY), "r1") == 30
    first = sql(
        "SELECT count(*), count(DISTINCT entity_id), sum(monthly_spend) FROM staging_customer_snapshots"
    )
    assert not incoming(settings, DAY).exists() and archived(settings) == [f"{DAY}.csv"]

    assert extract(settings, CUSTOMER_SNAPSHOTS, Interval.day(DAY), "r2") == 30

    assert (
        sql("SELECT count(*), count(DISTINCT entity_id), sum(monthly_spend) FROM staging_customer_snapshots")
        == first
    )
    assert first[0][:2] == (30, 30)
    assert sql("SELECT row_count, run_id FROM staging_batches") == [(30, "r2")]
    assert archived(settings) == [f"{DAY}.csv"]


def test_a_new_upload_is_archived_beside_the_earlier_version(settings, sql):
    publish(settings, DAY, snapshots(DAY, entities=10))
    extract(settings, CUSTOMER_SNAPSHOTS, Interval.day(DAY), "r1")
    first = (settings.drop_dir / "archive" / CUSTOMER_SNAPSHOTS.name / f"{DAY}.csv").read_bytes()
    publish(settings, DAY, snapshots(DAY, entities=12))
    second = incoming(settings, DAY).read_bytes()

    assert extract(settings, CUSTOMER_SNAPSHOTS, Interval.day(DAY), "r2") == 12

    folder = settings.drop_dir / "archive" / CUSTOMER_SNAPSHOTS.name
    [earlier] = set(archived(settings)) - {f"{DAY}.csv"}
    assert re.fullmatch(re.escape(f"{DAY}.") + r"\d+T\d+Z\.csv", earlier)  # <day>.<replaced at>.csv
    assert (folder / f"{DAY}.csv").read_bytes() == second  # the latest keeps the name reruns read
    assert (folder / earlier).read_bytes() == first
    assert extract(settings, CUSTOMER_SNAPSHOTS, Interval.day(DAY), "r3") == 12


def test_a_file_replaced_while_it_was_read_is_left_for_the_next_run(settings):
    source = open_source(settings)
    publish(settings, DAY, snapshots(DAY, entities=10))
    assert sum(map(len, source.read(CUSTOMER_SNAPSHOTS, Interval.day(DAY)))) == 10
    publish(settings, DAY, snapshots(DAY, entities=15))  # a new upload before the commit

    source.commit(CUSTOMER_SNAPSHOTS, Interval.day(DAY))

    assert archived(settings) == []
    assert incoming(settings, DAY).read_bytes() == csv_bytes(snapshots(DAY, entities=15))


def test_empty_batch_stages_no_rows_and_keeps_the_header(settings, sql):
    publish(settings, DAY, with_defect(snapshots(DAY, entities=10), "empty"))

    assert extract(settings, CUSTOMER_SNAPSHOTS, Interval.day(DAY), "r1") == 0

    assert sql("SELECT row_count, source_columns FROM staging_batches") == [(0, COLUMNS)]
    assert sql("SELECT count(*) FROM staging_customer_snapshots") == [(0,)]


def test_renamed_column_reaches_staging_as_drift(settings, sql):
    publish(settings, DAY, with_defect(snapshots(DAY, entities=10), "renamed_column"))

    assert extract(settings, CUSTOMER_SNAPSHOTS, Interval.day(DAY), "r1") == 10

    [(columns,)] = sql("SELECT source_columns FROM staging_batches")
    assert "monthly_spend" not in columns and "spend_monthly" in columns
    assert sql("SELECT count(*) FROM staging_customer_snapshots WHERE monthly_spend IS NULL") == [(10,)]


def test_text_in_a_numeric_column_fails_with_no_partial_write(settings, sql, staged_days):
    frame = snapshots(DAY, entities=30).astype({"tenure_months": "str"})
    frame.loc[29, "tenure_months"] = "twelve"  # in the last chunk: earlier chunks were copied
    publish(settings, DAY, frame)

    with pytest.raises(ExtractError, match=r"tenure_months: 1 value\(s\) are not a number.*twelve"):
        extract(replace(settings, chunk_rows=7), CUSTOMER_SNAPSHOTS, Interval.day(DAY), "bad")

    assert warehouse_state(sql) == staged_days
    assert incoming(settings, DAY).exists()  # not a parse error: left where it is for a fixed upload


def test_hostile_strings_round_trip_byte_exact(settings, sql):
    sql("CREATE TABLE x (id int)")
    frame = snapshots(DAY, entities=len(HOSTILE))
    frame["plan"] = pd.array(HOSTILE, dtype="string")
    publish(settings, DAY, frame)

    assert extract(replace(settings, chunk_rows=5), CUSTOMER_SNAPSHOTS, Interval.day(DAY), "r1") == len(
        HOSTILE
    )

    assert [
        row[0] for row in sql("SELECT plan FROM staging_customer_snapshots ORDER BY entity_id")
    ] == HOSTILE
    assert sql("SELECT count(*) FROM x") == [(0,)]


def test_missing_folder_or_file_is_a_source_error_and_writes_nothing(settings, sql, staged_days, tmp_path):
    gone = replace(settings, drop_dir=tmp_path / "not-mounted")
    with pytest.raises(SourceError, match=re.escape(f"drop folder {gone.drop_dir} does not exist")):
        extract(gone, CUSTOMER_SNAPSHOTS, Interval.day(DAY), "bad")
    later = DAY + dt.timedelta(days=1)
    expected = f"no file for customer_snapshots {later} in {settings.drop_dir / 'customer_snapshots'}"
    with pytest.raises(SourceError, match=re.escape(expected)):
        extract(settings, CUSTOMER_SNAPSHOTS, Interval.day(later), "bad")
    assert warehouse_state(sql) == staged_days


# The valid part spans more than one of pyarrow's 1 MiB blocks, so that a ragged row
# fails after chunks were copied: the rollback, not an early failure, keeps them out.
VALID = csv_bytes(snapshots(DAY, entities=45_000))
INVALID_CSV = {
    "binary": b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 4,
    "unbalanced_quotes": VALID + b'45001,1,2.5,0,pro,"3\n45002,1,2.5,0,basic,3\n',  # to the end of file
    "short_row": VALID + b"45001,1,2.5\n",
    "long_row": VALID + b"45001,1,2.5,0,basic,3,surplus\n",
}


@pytest.mark.parametrize("defect", INVALID_CSV)
def test_invalid_csv_is_moved_to_rejected_and_nothing_is_staged(settings, sql, staged_days, defect):
    path = incoming(settings, DAY)
    path.write_bytes(INVALID_CSV[defect])

    with pytest.raises(SourceError, match=re.escape(f"{path} is not valid CSV: ")) as raised:
        extract(replace(settings, chunk_rows=5_000), CUSTOMER_SNAPSHOTS, Interval.day(DAY), "bad")

    assert warehouse_state(sql) == staged_days
    rejected = settings.drop_dir / "rejected" / CUSTOMER_SNAPSHOTS.name / f"{DAY}.csv"
    assert not path.exists() and rejected.read_bytes() == INVALID_CSV[defect]
    reason = rejected.with_name(f"{DAY}.csv.reason.txt").read_text(encoding="utf-8")
    assert reason.strip() in str(raised.value)
    assert archived(settings) == [f"{EARLIER}.csv", f"{DAY}.csv"]  # the good version is intact
    assert extract(settings, CUSTOMER_SNAPSHOTS, Interval.day(DAY), "rerun") == 20  # and reruns read it


def test_lost_warehouse_connection_leaves_the_file_in_place(settings, sql, staged_days, monkeypatch):
    publish(settings, DAY, snapshots(DAY, entities=30))
    upload = incoming(settings, DAY).read_bytes()
    copy_frame, calls = extraction.copy_frame, []

    def copy_then_lose_connection(*args):
        calls.append(1)
        if len(calls) == 2:
            raise psycopg2.OperationalError("server closed the connection unexpectedly")
        return copy_frame(*args)

    monkeypatch.setattr(extraction, "copy_frame", copy_then_lose_connection)
    with pytest.raises(WarehouseUnavailable):
        extract(replace(settings, chunk_rows=7), CUSTOMER_SNAPSHOTS, Interval.day(DAY), "bad")

    assert warehouse_state(sql) == staged_days
    assert incoming(settings, DAY).read_bytes() == upload
    assert not (settings.drop_dir / "rejected").exists()
