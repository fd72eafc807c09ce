"""The PostgreSQL warehouse: connections, migrations and the COPY writer."""

from .bulk import copy_frame, read_frame
from .connection import WarehouseUnavailable, connect, fetch_all, transaction, warehouse_url
from .migrate import migrate

__all__ = [
    "WarehouseUnavailable",
    "connect",
    "copy_frame",
    "fetch_all",
    "migrate",
    "read_frame",
    "transaction",
    "warehouse_url",
]
