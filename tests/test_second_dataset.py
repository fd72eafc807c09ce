"""A dataset of another shape replaces the demo's by editing the data scientists' model/ only.

A project is rendered (regression, files source), its `model/` is replaced by the
files of tests/second_dataset/model (hourly bike rentals: 24 entities a day, a
numeric label arriving the next day, float columns that hold whole numbers on some
days, dates in 2011), `make migration` writes the staging tables for it, the data
lands in the drop folder, and the retrain and daily DAGs run through Airflow
(`make run`). Predictions must land for every scored date, the project's own lint
and tests must pass unchanged (all but the two heavy scenarios that do not depend on
the data), and no file outside `model/` may differ from the fresh render but the
migration the command wrote.
"""

from __future__ import annotations

import csv
import hashlib
import json
import math
import random
import re
import shutil
import subprocess
from datetime import date, timedelta
from pathlib import Path

from conftest import run_make
from cookiecutter.main import cookiecutter

TEMPLATE_DIR = Path(__file__).resolve().parent.parent
BUILD = TEMPLATE_DIR / "build" / "test" / "second_dataset"
MODEL = Path(__file__).resolve().parent / "second_dataset" / "model"
ANSWERS = {
    "project_name": "Bike Demand",  # sorts before "boto3": imports are ordered differently
    "model_kind": "regression",
    "source_kind": "files",
    "start_date": "2011-01-01",
}
SLUG = "bike_demand"
FIRST = date(2011, 1, 1)
RETRAIN = date(
    2011, 2, 21
)  # a Monday: its weekly interval ends on 02-28, the window's end
SCORED = [date(2011, 2, 28) + timedelta(days=n) for n in range(7)]
SEASONS = ["winter", "spring", "summer", "fall"]
LEFT_OUT = {".venv", ".local", "__pycache__", ".pytest_cache", ".ruff_cache"}


def tree(root: Path) -> dict[str, str]:
    """Every file of the project (not its venv, state or caches) -> sha256 of its content."""
    return {
        path.relative_to(root).as_posix(): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in root.rglob("*")
        if path.is_file()
        and not any(
            part in LEFT_OUT or part.endswith(".egg-info")
            for part in path.relative_to(root).parts
        )
    }


def hours(day: date) -> list[dict]:
    """One day's 24 hours of weather and calendar, with the rentals each hour saw."""
    rng = random.Random(day.toordinal())
    workingday = day.weekday() < 5
    season = SEASONS[day.month % 12 // 3]
    mean_temp = 8 + 12 * math.sin(2 * math.pi * (day.timetuple().tm_yday - 110) / 365)
    rows = []
    for hour in range(24):
        weather = rng.choice([1, 1, 1, 2, 2, 3, 4])
        temp = mean_temp + 5 * math.sin(math.pi * (hour - 8) / 12) + rng.gauss(0, 1)
        # On even days the thermometer reports whole degrees: still a float column.
        temp = round(temp) if day.day % 2 == 0 else round(temp, 1)
        if workingday:
            demand = (
                40
                + 200 * math.exp(-((hour - 8) ** 2) / 2)
                + 240 * math.exp(-((hour - 17.5) ** 2) / 3)
            )
        else:
            demand = 30 + 160 * math.exp(-((hour - 14) ** 2) / 12)
        rentals = demand * (1 + temp / 40) * (1.15 - 0.2 * weather) + rng.gauss(0, 8)
        rows.append(
            {
                "hour": hour,
                "day": day.isoformat(),
                "season": season,
                "workingday": "true" if workingday else "false",
                "weather": weather,
                "temp_c": temp,
                "humidity": round(
                    min(1.0, max(0.0, 0.55 + 0.1 * weather + rng.gauss(0, 0.1))), 2
                ),
                "windspeed": ""
                if rng.random() < 0.03
                else round(abs(rng.gauss(12, 6)), 1),
                "rentals": max(0, round(rentals)),
            }
        )
    return rows


def write_csv(path: Path, rows: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as file:
        writer = csv.DictWriter(file, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def drop_data(folder: Path) -> None:
    """The files the upstream systems would drop: each day's hours, and the next day the rentals."""
    for offset in range((SCORED[-1] - FIRST).days + 1):
        day = FIRST + timedelta(days=offset)
        rows = hours(day)
        write_csv(
            folder / "hours" / f"{day}.csv",
            [{k: v for k, v in r.items() if k != "rentals"} for r in rows],
        )
        counted = day + timedelta(days=1)
        labels = [
            {
                "counted_on": counted.isoformat(),
                "for_day": day.isoformat(),
                "hour": r["hour"],
                "rentals": r["rentals"],
            }
            for r in rows
        ]
        write_csv(folder / "rentals" / f"{counted}.csv", labels)


PREDICTIONS = """
import json
from {slug}.config import Settings
from {slug}.warehouse import fetch_all
rows = fetch_all(Settings.from_env(), "SELECT data_date, count(*), count(DISTINCT model_version) FROM predictions GROUP BY 1")
print(json.dumps({{str(day): [n, versions] for day, n, versions in rows}}))
"""


def test_a_second_dataset_needs_edits_in_model_only_and_scores_every_date():
    shutil.rmtree(BUILD, ignore_errors=True)
    project = Path(
        cookiecutter(
            str(TEMPLATE_DIR),
            no_input=True,
            extra_context=ANSWERS,
            output_dir=str(BUILD),
        )
    )
    fresh = tree(project)
    shutil.copytree(MODEL, project / "src" / SLUG / "model", dirs_exist_ok=True)

    # The new model's baseline on the frozen sample, as its data scientist commits it.
    run_make(project, ["make", "evaluate", "UPDATE=1"])
    wrote = run_make(project, ["make", "migration", "MSG=hours and rentals"])
    assert re.search(
        rf"wrote src/{SLUG}/warehouse/migrations/versions/\d{{4}}_hours_and_rentals\.py",
        wrote,
    )
    drop_data(project / ".local" / "drop")
    run_make(project, ["make", "run", "DAG=retrain", f"START={RETRAIN}"])
    scored = run_make(
        project, ["make", "run", "DAG=daily", f"START={SCORED[0]}", f"END={SCORED[-1]}"]
    )
    assert scored.count(": success") == len(SCORED), scored

    python = project / ".venv" / "bin" / "python"
    counts = subprocess.run(
        [python, "-c", PREDICTIONS.format(slug=SLUG)],
        cwd=project,
        capture_output=True,
        text=True,
        check=True,
    )
    assert json.loads(counts.stdout.strip().splitlines()[-1]) == {
        str(day): [24, 1] for day in SCORED
    }

    # The production topology and `make airflow` scenarios are the dataset's no more than the
    # demo's: tests/test_generated_project.py runs them once.
    heavy = "not prod_local and not airflow_server"
    run_make(project, ["make", "lint", "test"], {"PYTEST_ADDOPTS": f"-m '{heavy}'"})

    after = tree(project)
    changed = {
        path
        for path in fresh.keys() | after.keys()
        if fresh.get(path) != after.get(path)
    }
    generated = {
        p
        for p in changed - fresh.keys()
        if re.fullmatch(
            rf"src/{SLUG}/warehouse/migrations/versions/\d{{4}}_hours_and_rentals\.py",
            p,
        )
    }
    assert generated, "make migration wrote no revision"
    assert {
        p for p in changed - generated if not p.startswith(f"src/{SLUG}/model/")
    } == set()
