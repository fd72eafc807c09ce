"""Notebooks: committed without outputs, runnable headless, and JupyterLab on the project.

The exploration notebook runs here as a data scientist would run it, against a
warehouse holding scored data (conftest's `scored`), in a kernel of this venv.
"""

from __future__ import annotations

import json
import re
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from {{ cookiecutter.project }}.config import PROJECT_ROOT
from {{ cookiecutter.project }}.reports import NOTEBOOK as TRAINING_REPORT
from {{ cookiecutter.project }}.reports import kernel_settings

NOTEBOOKS = sorted((PROJECT_ROOT / "notebooks").glob("*.ipynb")) + [TRAINING_REPORT]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_committed_notebooks_carry_no_outputs(path):
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    dirty = [
        i for i, c in enumerate(cells) if c["cell_type"] == "code" and (c["outputs"] or c["execution_count"])
    ]
    assert dirty == [], f"{path.name}: cells {dirty} carry outputs; strip them (pre-commit does)"


def test_the_exploration_notebook_runs_headless(scored, tmp_path):
    import papermill

    settings, days, _ = scored
    with kernel_settings(settings):
        done = papermill.execute_notebook(
            str(PROJECT_ROOT / "notebooks" / "explore.ipynb"),
            str(tmp_path / "explore.ipynb"),
            progress_bar=False,
            cwd=str(tmp_path),
        )
    printed = "".join(
        "".join(o.get("text", "")) for c in done["cells"] if c["cell_type"] == "code" for o in c["outputs"]
    )
    assert f"to {days[-1]}" in printed


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_make_notebook_serves_jupyterlab_on_localhost_with_a_token(tmp_path):
    port = free_port()
    env = {
        "PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin",
        "STATE_DIR": str(tmp_path),
        "WAREHOUSE_URL": "postgresql://nobody@127.0.0.1:1/none",
        "HOME": str(tmp_path),
    }
    server = subprocess.Popen(
        [sys.executable, "-m", "{{ cookiecutter.project }}.jupyter", "--port", str(port)],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        first = server.stdout.readline()
        url = re.search(r"(http://127\.0\.0\.1:\d+/lab\?token=\S+)", first)
        assert url, first
        token = url.group(1).split("token=")[1]
        status = None
        for _ in range(120):
            try:
                with urllib.request.urlopen(
                    f"http://127.0.0.1:{port}/api/status?token={token}", timeout=2
                ) as reply:
                    status = reply.status
                    break
            except OSError:
                time.sleep(0.5)
        assert status == 200
        with pytest.raises(urllib.error.HTTPError, match="403"):  # the token is required
            urllib.request.urlopen(f"http://127.0.0.1:{port}/api/status", timeout=5)
    finally:
        server.terminate()
        server.wait(timeout=30)
    with pytest.raises(urllib.error.URLError) as stopped:
        urllib.request.urlopen(f"http://127.0.0.1:{port}/api/status", timeout=5)
    assert isinstance(stopped.value.reason, ConnectionRefusedError)  # JupyterLab stopped with it
