"""The embedded PostgreSQL (pgserver, from pip): the warehouse when none is configured.

Who stops it: the process that started it, when that process exits; a process that found it
running leaves it running. So `make demo` leaves things as it found them, `make warehouse`
keeps a server up for analysts until `make stop`, and the tasks of a running Airflow never
stop the server under each other. Not pgserver's own rule (the last process holding a handle
stops it), because a handle killed with its process is never given back: one SIGKILL, and the
server stays up for good.
"""

from __future__ import annotations

import atexit
import os
import stat
import warnings
from pathlib import Path


def embedded_server(pgdata: Path, cleanup_mode: str | None):
    """A real PostgreSQL from pip (pgserver) keeping its data in `pgdata`, started if it is not running."""
    pgserver = _pgserver()
    pgdata.parent.mkdir(parents=True, exist_ok=True)
    if _as_root():
        # As root, pgserver runs PostgreSQL as its own user `pgserver`, which must be
        # able to reach the binaries in this venv and the data folder: grant it search
        # (not read) on the folders leading there, which may be private (0700).
        for folder in (psql_path().parent, pgdata.parent):
            for step in (folder, *folder.parents):
                mode = step.stat().st_mode
                if not mode & stat.S_IXOTH:
                    step.chmod(mode | stat.S_IXOTH)
    return pgserver.get_server(pgdata, cleanup_mode=cleanup_mode)


def attach(pgdata: Path, keep_running: bool = False):
    """The server of `pgdata`; started if it was not running, and then stopped when this process
    exits, unless `keep_running`."""
    started = not is_running(pgdata)
    server = embedded_server(pgdata, cleanup_mode=None)  # stopping is ours to decide, not pgserver's
    if started and not keep_running:
        atexit.register(stop, pgdata)
    return server


def is_running(pgdata: Path) -> bool:
    """Whether a PostgreSQL server is running on `pgdata` (its postmaster.pid names a live process)."""
    info = _pgserver().utils.PostmasterInfo.read_from_pgdata(pgdata)
    return info is not None and info.is_running()


def stop(pgdata: Path) -> bool:
    """Stop the server of `pgdata` (its open sessions are ended); whether one was running."""
    if not is_running(pgdata):
        return False
    user = "pgserver" if _as_root() else None  # as root, pgserver runs PostgreSQL as that user
    _pgserver()._commands.pg_ctl(["-w", "-m", "fast", "stop"], pgdata=pgdata, user=user)
    return True


def psql_path() -> Path:
    """pgserver's own psql client."""
    return Path(_pgserver()._commands.POSTGRES_BIN_PATH) / "psql"


def _pgserver():
    """pgserver, imported when first needed: it is heavy, and only local runs use it."""
    with warnings.catch_warnings():  # platformdirs warns about an unset XDG_RUNTIME_DIR
        warnings.simplefilter("ignore")
        import pgserver  # also loads pgserver._commands and pgserver.utils
    return pgserver


def _as_root() -> bool:
    return os.name == "posix" and os.geteuid() == 0
