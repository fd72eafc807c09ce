"""`make notebook`: JupyterLab on this project's environment and warehouse.

Starts the embedded PostgreSQL when no WAREHOUSE_URL is set (and keeps it running
while JupyterLab runs), hands the resolved warehouse to the kernels through the
environment, and serves notebooks/ on 127.0.0.1 only, with a token. On the EC2
host, reach it through an SSM port forward, never an open port (see the README).
"""

from __future__ import annotations

import argparse
import os
import secrets
import signal
import subprocess
import sys

from .config import PROJECT_ROOT, Settings
from .reports import kernel_settings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--port", type=int, default=8888)
    args = parser.parse_args(argv)
    token = secrets.token_urlsafe(24)
    print(f"JupyterLab: http://127.0.0.1:{args.port}/lab?token={token}  (Ctrl-C stops it)", flush=True)
    command = [
        sys.executable, "-m", "jupyterlab", "--no-browser", "--ip=127.0.0.1", f"--port={args.port}",
        f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={PROJECT_ROOT / 'notebooks'}",
    ]  # fmt: skip
    if os.name == "posix" and os.geteuid() == 0:  # containers and CI run as root; it still binds to 127.0.0.1
        command.append("--allow-root")
    signal.signal(signal.SIGTERM, signal.default_int_handler)  # `kill` stops it as Ctrl-C does
    with kernel_settings(Settings.from_env()):  # also starts the embedded PostgreSQL, if it is the one
        server = subprocess.Popen(command)
        try:
            return server.wait()
        except KeyboardInterrupt:
            server.terminate()  # a terminal's Ctrl-C reached it already; `kill` did not
            server.wait()
            return 0


if __name__ == "__main__":
    sys.exit(main())
