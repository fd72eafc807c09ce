"""`make promote-dry-run`: what the gate would decide for the latest candidate, and why; nothing changes.

The latest registered version that is not the champion is evaluated with the champion
on the holdout of its own training window, exactly as its retrain did, and
model/metrics.py's gate is asked. Every read is in a read-only transaction.
"""

from __future__ import annotations

import sys

from . import model, registry, training
from .config import Settings
from .model import metrics
from .model.features import build_features
from .warehouse import fetch_all


def dry_run(settings: Settings) -> dict:
    rows = fetch_all(
        settings,
        """SELECT version, metrics, artifact_uri, sha256, train_start, train_end FROM model_versions
           WHERE status <> 'champion' ORDER BY created_at DESC, version DESC LIMIT 1""",
    )
    if not rows:
        raise registry.ModelUnavailable("no candidate: every registered version is the champion, or none is")
    *candidate, start, end = rows[0]
    candidate = registry.Version(*candidate)
    champion = registry.champion(settings)
    _, holdout = training.split(training.load_window(settings, start, end))
    X, y = build_features(holdout), training.labels(holdout)
    scores = metrics.evaluate(y, model.predict(registry.load(settings, candidate), X))
    champion_scores = (
        None if champion is None else metrics.evaluate(y, model.predict(registry.load(settings, champion), X))
    )
    promote, reason = metrics.gate(scores, champion_scores)
    return {
        "candidate": candidate.version,
        "champion": champion and champion.version,
        "window": (start, end),
        "metrics": scores,
        "champion_metrics": champion_scores,
        "promote": promote,
        "reason": reason,
    }


def main() -> int:
    decision = dry_run(Settings.from_env())
    start, end = decision["window"]
    print(
        f"candidate {decision['candidate']} (window {start} to {end}), champion {decision['champion'] or 'none'}"
    )
    for name in sorted(decision["metrics"]):
        ours, theirs = decision["metrics"][name], (decision["champion_metrics"] or {}).get(name)
        print(f"  {name:>20}  candidate {ours:.4f}" + ("" if theirs is None else f"  champion {theirs:.4f}"))
    verdict = "WOULD PROMOTE" if decision["promote"] else "would not promote"
    print(f"{verdict}: {decision['reason']}\n(dry run: nothing was recorded or changed)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
