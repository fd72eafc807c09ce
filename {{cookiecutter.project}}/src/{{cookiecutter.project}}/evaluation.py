"""`make evaluate`: the data scientists' model, trained and judged on a frozen sample, against a baseline.

The sample is drawn from the data contract with a fixed seed (synthetic.py): the same
rows on every machine and at every commit, so a change in the metrics is a change in
the model (features, estimator, metrics, window) or in the code that feeds it. It is
split, fitted and scored exactly as a retrain does. The baseline is committed in
model/evaluation_baseline.json, and model/metrics.py's TOLERANCE says how far each
metric may fall below it before this fails; `make evaluate UPDATE=1` rewrites it on
purpose (review the diff, then commit it).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from datetime import date, timedelta
from pathlib import Path

from . import model, training
from .model import metrics
from .model.features import build_features
from .synthetic import capped, labelled

BASELINE = Path(model.__file__).with_name("evaluation_baseline.json")
SEED = 20250101
DAYS = 42
ENTITIES = 400


def frozen_sample():
    """Six weeks of labelled rows, the same at every run."""
    return labelled([date(2025, 1, 1) + timedelta(days=n) for n in range(DAYS)], capped(ENTITIES), SEED)


def evaluate() -> dict[str, float]:
    """Fit on the sample's earlier days and score the held-out latest ones, as a retrain does."""
    fit, holdout = training.split(frozen_sample())
    estimator, _ = training.fit_estimator(build_features(fit), training.labels(fit))
    return metrics.evaluate(training.labels(holdout), model.predict(estimator, build_features(holdout)))


def compare(scores: dict, baseline: dict) -> tuple[list[tuple], bool]:
    """One row per metric: (metric, baseline, now, change, tolerance, verdict); and whether all hold."""
    rows, ok = [], True
    for metric in sorted(scores.keys() | baseline.keys()):
        now, before = scores.get(metric), baseline.get(metric)
        tolerance = metrics.TOLERANCE.get(metric)
        verdict = ""
        if tolerance is not None:
            held = now is not None and before is not None and math.isfinite(now) and now >= before - tolerance
            verdict = "ok" if held else "NO BASELINE" if before is None else "REGRESSION"
            ok = ok and held
        change = now - before if now is not None and before is not None else None
        rows.append((metric, before, now, change, tolerance, verdict))
    return rows, ok


def table(rows: list[tuple]) -> str:
    """The comparison as aligned text columns."""
    lines = [("metric", "baseline", "now", "change", "tolerance", "")] + [
        (metric, _number(before), _number(now), _number(change, signed=True), _number(tolerance), verdict)
        for metric, before, now, change, tolerance, verdict in rows
    ]
    widths = [max(len(line[i]) for line in lines) for i in range(len(lines[0]))]
    return "\n".join(
        "  ".join(
            value.ljust(width) if i == 0 else value.rjust(width)
            for i, (value, width) in enumerate(zip(line, widths, strict=True))
        ).rstrip()
        for line in lines
    )


def _number(value, signed: bool = False) -> str:
    if value is None:
        return "-"
    if isinstance(value, int):
        return str(value)
    return f"{value:+.4f}" if signed else f"{value:.4f}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Evaluate the model on a frozen sample against its baseline."
    )
    parser.add_argument("--update", action="store_true", help="rewrite the baseline with these metrics")
    args = parser.parse_args(argv)
    scores = evaluate()
    baseline = json.loads(BASELINE.read_text()) if BASELINE.exists() else {}
    rows, ok = compare(scores, baseline)
    print(
        f"Evaluation on the frozen sample ({DAYS} days from synthetic.py, seed {SEED}), primary metric {metrics.PRIMARY}:\n"
    )
    print(table(rows))
    if args.update:
        BASELINE.write_text(json.dumps(scores, indent=2, sort_keys=True) + "\n")
        print(f"\nbaseline rewritten: {BASELINE} (review and commit it)")
        return 0
    if not baseline:
        print(f"\nno baseline in {BASELINE}: run `make evaluate UPDATE=1` and commit it")
        return 1
    print(
        "\nPASS: no metric fell by more than its tolerance"
        if ok
        else "\nFAIL: a metric fell below its baseline by more than its tolerance (model/metrics.py TOLERANCE)"
    )
    return 0 if ok else 1


if __name__ == "__main__":  # `make evaluate [UPDATE=1]`
    sys.exit(main())
