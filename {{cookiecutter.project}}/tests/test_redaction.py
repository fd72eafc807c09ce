"""No secret in any message: connection errors and repr(Settings) show where, never the password."""

from __future__ import annotations

import socket
import traceback

import pytest

from {{ cookiecutter.project }}.config import Settings, redact
from {{ cookiecutter.project }}.warehouse import connect
from {{ cookiecutter.project }}.warehouse.connection import WarehouseUnavailable

SECRET = "s3cr3t-Pa55"


@pytest.fixture(scope="module")
def closed_port() -> int:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def connection_strings(port: int) -> dict[str, str]:
    return {
        "url": f"postgresql://etl:{SECRET}@127.0.0.1:{port}/warehouse?connect_timeout=2",
        "url-parameter": f"postgresql://etl@127.0.0.1:{port}/warehouse?password={SECRET}&connect_timeout=2",
        "key-value": f"host=127.0.0.1 port={port} dbname=warehouse user=etl password={SECRET} connect_timeout=2",
        "key-value-quoted": f"host=127.0.0.1 port={port} user=etl password = '{SECRET} it\\'s' connect_timeout=2",
        "malformed": f"host=127.0.0.1 port={port} password={SECRET} {SECRET[:4]} oops",
    }


@pytest.mark.parametrize("form", connection_strings(0))
def test_connection_error_names_the_host_but_not_the_password(tmp_path, closed_port, form):
    url = connection_strings(closed_port)[form]
    settings = Settings.from_env({"STATE_DIR": str(tmp_path), "WAREHOUSE_URL": url})
    with pytest.raises(WarehouseUnavailable) as raised:
        connect(settings)
    shown = "".join(traceback.format_exception(raised.value))  # the message and every chained cause
    assert SECRET[:4] not in shown, shown
    assert "127.0.0.1" in shown or "invalid warehouse connection string" in shown


@pytest.mark.parametrize("form", connection_strings(5432))
def test_settings_repr_redacts_both_urls(tmp_path, form):
    url = connection_strings(5432)[form]
    settings = Settings.from_env({"STATE_DIR": str(tmp_path), "WAREHOUSE_URL": url, "SOURCE_URL": url})
    assert SECRET[:4] not in repr(settings) and SECRET[:4] not in str(settings), repr(settings)
    assert repr(settings).count("127.0.0.1") == 2  # still says where


def test_redact_keeps_everything_but_the_password():
    assert redact(f"postgresql://etl:{SECRET}@db:5432/w?sslmode=require") == (
        "postgresql://etl:***@db:5432/w?sslmode=require"
    )
    assert redact(f"host=db password={SECRET} user=etl") == "host=db password=*** user=etl"
    assert redact(f"host=db password='{SECRET} x' user=etl") == "host=db password=*** user=etl"
    assert redact("postgresql://db:5432/w") == "postgresql://db:5432/w"
