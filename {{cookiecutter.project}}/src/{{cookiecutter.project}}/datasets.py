"""The vocabulary of the data contract: columns, datasets, and what each column type means.

Engineer-owned and free of any particular dataset: the data scientist declares the
project's data with these classes in `model/contract.py`, and the pipeline derives
everything from that one declaration: the staging tables (`make migration`), the
base validation rules, the casts of every source, the typed frames that training
and scoring read, and the synthetic rows of the tests and benchmarks.

Stdlib only: `model/` imports it, and DAG files must stay cheap to parse.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# Names the pipeline adds to every staged row; a contract column may not take them.
RESERVED = frozenset({"data_date"})
_IDENTIFIER = re.compile(r"[a-z_][a-z0-9_]{0,62}")


class ContractError(ValueError):
    """The data contract is not valid: the message says which declaration and why."""


@dataclass(frozen=True)
class ColumnType:
    pandas: str  # the dtype of the column in every frame the pipeline hands around
    gx: str  # the type name Great Expectations observes for that dtype
    bounds: tuple[int, int] | None = None  # integers: the range PostgreSQL can store


# PostgreSQL type -> how the pipeline holds it. Nullable pandas dtypes throughout, so a
# NULL never turns integers into floats and a day of whole-number floats stays float.
TYPES = {
    "bigint": ColumnType("Int64", "int64", (-(2**63), 2**63 - 1)),
    "integer": ColumnType("Int64", "int64", (-(2**31), 2**31 - 1)),
    "double precision": ColumnType("Float64", "float64"),
    "text": ColumnType("string", "str"),
    "boolean": ColumnType("boolean", "bool"),
    "date": ColumnType("datetime64[us]", "datetime64"),
    "timestamp with time zone": ColumnType("datetime64[us, UTC]", "Timestamp"),
}


@dataclass(frozen=True)
class Column:
    name: str
    type: str  # a PostgreSQL type named in TYPES
    nullable: bool = True  # False: a NULL fails the validation gate

    def __post_init__(self) -> None:
        if not _IDENTIFIER.fullmatch(self.name) or self.name in RESERVED:
            raise ContractError(
                f"column {self.name!r}: use a lowercase SQL identifier (a-z, 0-9, _) other than {sorted(RESERVED)}"
            )
        if self.type not in TYPES:
            raise ContractError(f"column {self.name!r}: type {self.type!r} is not one of {sorted(TYPES)}")

    @property
    def kind(self) -> ColumnType:
        return TYPES[self.type]


@dataclass(frozen=True)
class Dataset:
    """One source dataset, staged one partition per data interval in `staging_<name>`."""

    name: str  # names the staging table, the drop-folder / S3 prefix, the source table
    columns: tuple[Column, ...]  # exactly what the source sends, in its order
    date_column: str | None = None  # the column dating each row: what the source is filtered on

    def __post_init__(self) -> None:
        object.__setattr__(self, "columns", tuple(self.columns))
        if not _IDENTIFIER.fullmatch(self.name) or len(self.table) > 63:
            raise ContractError(
                f"dataset {self.name!r}: use a lowercase SQL identifier of at most 55 characters"
            )
        names = [c.name for c in self.columns]
        if not names or len(set(names)) != len(names):
            raise ContractError(f"dataset {self.name!r}: needs columns, each named once (got {names})")
        if self.date_column is not None and self.column(self.date_column).type != "date":
            raise ContractError(
                f"dataset {self.name!r}: date_column {self.date_column!r} must be of type date"
            )

    @property
    def table(self) -> str:
        return f"staging_{self.name}"

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.columns]

    @property
    def types(self) -> dict[str, str]:
        return {c.name: c.type for c in self.columns}

    @property
    def dtypes(self) -> dict[str, str]:
        return {c.name: c.kind.pandas for c in self.columns}

    def column(self, name: str) -> Column:
        for column in self.columns:
            if column.name == name:
                return column
        raise ContractError(f"dataset {self.name!r} has no column {name!r} (it has {self.names})")


@dataclass(frozen=True)
class Contract:
    """The two datasets a batch-ML project needs, and how they relate.

    Each partition of `features` holds one row per entity for one data interval; the
    model scores it. `labels` arrive later: a labels partition holds what was observed
    in its interval, each row naming the features partition it labels by its date.
    """

    features: Dataset
    labels: Dataset
    key: str  # the entity key: in both datasets, unique within a features partition
    label: str  # the labels' column the model learns to predict
    labelled_date: str  # the labels' date column naming the features partition (data_date) labelled

    def __post_init__(self) -> None:
        if self.features.name == self.labels.name:
            raise ContractError(f"features and labels must be two datasets (both are {self.features.name!r})")
        key_types = {self.features.column(self.key).type, self.labels.column(self.key).type}
        if len(key_types) != 1:
            raise ContractError(
                f"key {self.key!r} must have one type in both datasets (got {sorted(key_types)})"
            )
        if self.labels.column(self.labelled_date).type != "date":
            raise ContractError(
                f"labelled_date {self.labelled_date!r} must be a date column of {self.labels.name!r}"
            )
        if self.label in self.features.names:
            raise ContractError(f"label {self.label!r} must not also be a column of the features")
        if self.labels.column(self.label).type not in ("double precision", "bigint", "integer", "boolean"):
            raise ContractError(f"label {self.label!r} must be numeric or boolean")

    @property
    def datasets(self) -> dict[str, Dataset]:
        return {d.name: d for d in (self.features, self.labels)}
