"""Reports rendered from parameterised notebooks: one HTML page per training run.

`training.ipynb` is executed by papermill with the version and its window as
parameters, in a kernel of this environment pointed at the same warehouse, then
turned by nbconvert into one HTML file with its images embedded and nothing
fetched from elsewhere, so that it opens offline. The notebook shows; `evidence`
below computes: the candidate and the champion on the same holdout, their curves'
data, permutation importance, and the window's partitions with their validation.
Data scientists may restyle the notebook freely; the retrain DAG only needs it to run.
"""

from __future__ import annotations

import html
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from string import Template

import numpy as np
import pandas as pd
from psycopg2 import sql

from .. import model, registry, training
from ..config import Settings
from ..model import metrics
from ..model.contract import CONTRACT
from ..model.features import build_features
from ..warehouse import fetch_all, read_frame, transaction, warehouse_url

NOTEBOOK = Path(__file__).with_name("training.ipynb")
PAGE = Template("""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>$title</title>
<style>
body { font-family: system-ui, sans-serif; max-width: 1100px; margin: 2em auto; color: #222; }
table { border-collapse: collapse; margin: 1em 0; } th, td { border: 1px solid #ccc; padding: 4px 8px; }
th { background: #f3f3f3; } img { max-width: 100%; } pre { background: #f8f8f8; padding: 8px; }
</style></head><body>
$body
</body></html>
""")


@dataclass
class Evidence:
    version: str
    champion: str | None
    window: tuple[date, date]
    metrics: pd.DataFrame  # one row per metric: candidate, champion
    holdout: pd.DataFrame  # label, candidate's and champion's predictions, data_date
    importance: pd.DataFrame  # model input, mean and spread of the drop in the primary metric
    partitions: pd.DataFrame  # the window's features partitions: rows, validated or not
    tuning: dict | None


def render_training_report(settings: Settings, trained: dict, run_id: str) -> Path:
    """Execute the report notebook for a trained version, write its HTML and record its path."""
    import papermill

    version = trained["version"]
    target = settings.reports_dir / "training" / f"{version}.html"
    target.parent.mkdir(parents=True, exist_ok=True)
    champion = trained["champion"] if trained["champion"] != version else None
    start, end = fetch_all(
        settings, "SELECT train_start, train_end FROM model_versions WHERE version = %s", (version,)
    )[0]
    parameters = {
        "version": version,
        "champion": champion,
        "window_start": str(start),
        "window_end": str(end),
    }
    with tempfile.TemporaryDirectory(prefix="report-") as tmp, kernel_settings(settings):
        executed = Path(tmp) / NOTEBOOK.name
        papermill.execute_notebook(
            str(NOTEBOOK), str(executed), parameters=parameters, progress_bar=False, cwd=tmp
        )
        target.write_text(to_html(executed, f"Training report: {version}"), encoding="utf-8")
    registry.record_report(settings, version, str(target), run_id)
    return target


@contextmanager
def kernel_settings(settings: Settings) -> Iterator[None]:
    """The environment the notebook's kernel inherits: these settings, the warehouse resolved."""
    values = {
        "WAREHOUSE_URL": warehouse_url(settings),
        "WAREHOUSE_SCHEMA": settings.schema,
        "STATE_DIR": str(settings.state_dir),
        "ARTIFACTS_URI": settings.artifacts_uri,
        "REPORTS_DIR": str(settings.reports_dir),
        "AWS_REGION": settings.aws_region,
    }
    saved = {key: os.environ.get(key) for key in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def to_html(notebook: Path, title: str) -> str:
    """One self-contained page: the outputs only, images inline, no script or stylesheet fetched."""
    import nbformat
    from nbconvert import HTMLExporter

    exporter = HTMLExporter(template_name="basic", exclude_input=True, exclude_input_prompt=True)
    exporter.exclude_output_prompt = True
    body, _ = exporter.from_notebook_node(nbformat.read(notebook, as_version=4))
    return PAGE.substitute(title=html.escape(title), body=body)


def evidence(version: str, champion: str | None, window_start: str, window_end: str) -> Evidence:
    """What the report shows, computed as the retrain did: the same window, split and holdout."""
    from sklearn.inspection import permutation_importance

    settings = Settings.from_env()
    start, end = date.fromisoformat(window_start), date.fromisoformat(window_end)
    _, holdout = training.split(training.load_window(settings, start, end))
    X, y = build_features(holdout), training.labels(holdout)
    models = {"candidate": _load(settings, version)}
    if champion:
        models["champion"] = _load(settings, champion)
    predictions = {name: model.predict(fitted, X) for name, fitted in models.items()}
    scored = {name: metrics.evaluate(y, p) for name, p in predictions.items()}
    table = pd.DataFrame(scored).rename_axis("metric")

    def primary(fitted, X_, y_) -> float:
        return metrics.evaluate(y_, model.predict(fitted, X_))[metrics.PRIMARY]

    found = permutation_importance(models["candidate"], X, y, scoring=primary, n_repeats=5, random_state=0)
    importance = pd.DataFrame(
        {"feature": X.columns, "importance": found.importances_mean, "spread": found.importances_std}
    ).sort_values("importance", ascending=False, ignore_index=True)
    frame = pd.DataFrame({"data_date": holdout["data_date"].to_numpy(), "label": y})
    for name, p in predictions.items():
        frame[name] = np.asarray(p, dtype=float)
    return Evidence(
        version,
        champion,
        (start, end),
        table,
        frame,
        importance,
        _partitions(settings, start, end),
        _tuning(settings, version),
    )


def _load(settings: Settings, version: str):
    rows = fetch_all(
        settings,
        "SELECT version, metrics, artifact_uri, sha256 FROM model_versions WHERE version = %s",
        (version,),
    )
    return registry.load(settings, registry.Version(*rows[0]))


def _partitions(settings: Settings, start: date, end: date) -> pd.DataFrame:
    """The features partitions the window's labels point at, with their latest validation."""
    query = sql.SQL(
        """SELECT data_date, row_count, success, failed FROM partition_status
           WHERE dataset = %s AND data_date IN (
               SELECT DISTINCT {labelled} FROM {labels} WHERE data_date >= %s AND data_date < %s)
           ORDER BY data_date"""
    ).format(labelled=sql.Identifier(CONTRACT.labelled_date), labels=sql.Identifier(CONTRACT.labels.table))
    with transaction(settings, read_only=True) as conn:
        return read_frame(conn, query, (CONTRACT.features.name, start, end))


def _tuning(settings: Settings, version: str) -> dict | None:
    return fetch_all(settings, "SELECT tuning FROM model_versions WHERE version = %s", (version,))[0][0]
