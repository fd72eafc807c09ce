"""The warehouse roles of migrations 0002 and 0004, used through logins as a deploy creates them:
the writer keeps history append-only yet switches the champion; the analyst only reads."""

from __future__ import annotations

import secrets
from dataclasses import replace

import pytest
from psycopg2 import errors
from psycopg2 import sql as pgsql
from psycopg2.extensions import make_dsn
from test_rollback import register  # registers and promotes a tiny model

from {{ cookiecutter.project }} import registry
from {{ cookiecutter.project }}.warehouse import fetch_all


@pytest.fixture
def login(settings):
    """login(role): settings that connect as a new login holding `<schema>_<role>`."""
    created = []

    def make(role: str):
        user, password = f"{settings.schema}_{role}_login", secrets.token_hex(8)
        fetch_all(
            settings,
            pgsql.SQL("CREATE ROLE {} LOGIN PASSWORD %s IN ROLE {}").format(
                pgsql.Identifier(user), pgsql.Identifier(f"{settings.schema}_{role}")
            ),
            (password,),
        )
        created.append(user)
        return replace(settings, warehouse_url=make_dsn(settings.warehouse_url, user=user, password=password))

    yield make
    for user in created:
        fetch_all(settings, pgsql.SQL("DROP ROLE {}").format(pgsql.Identifier(user)))


def test_writer_switches_the_champion_and_rolls_back(login, sql):
    writer = login("writer")
    first = register(writer, 1.0, 10)
    second = register(writer, 2.0, 17)
    assert registry.rollback(writer, "bad scores", "manual__ops") == first
    assert sql("SELECT version, status FROM model_versions ORDER BY version") == [
        (first, "champion"),
        (second, "retired"),
    ]
    assert sql("SELECT action, version FROM model_promotions ORDER BY id") == [
        ("promote", first),
        ("promote", second),
        ("rollback", first),
    ]


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE model_promotions SET reason = 'rewritten'",
        "DELETE FROM model_promotions",
        "UPDATE model_versions SET metrics = '{}'",
        "DELETE FROM model_versions",
    ],
)
def test_writer_cannot_rewrite_history(login, sql, statement):
    writer = login("writer")
    register(writer, 1.0, 10)
    before = sql("SELECT * FROM model_versions"), sql("SELECT * FROM model_promotions")
    with pytest.raises(errors.InsufficientPrivilege):
        fetch_all(writer, statement)
    assert (sql("SELECT * FROM model_versions"), sql("SELECT * FROM model_promotions")) == before


def test_analyst_reads_and_writes_nothing(login, settings):
    register(settings, 1.0, 10)
    analyst = login("analyst")
    assert fetch_all(analyst, "SELECT count(*) FROM champion_history") == [(1,)]
    with pytest.raises(errors.InsufficientPrivilege):
        fetch_all(analyst, "UPDATE model_versions SET status = 'retired'")
