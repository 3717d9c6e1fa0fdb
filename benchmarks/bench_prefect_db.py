"""Measure the Prefect database after many runs, and what keeping it bounded costs a run.

    .venv/bin/python benchmarks/bench_prefect_db.py [--runs 100] [--real 10] [--code DIR]

Makes ``--real`` real runs of the tests' short project (tests/conftest.py: 4 shots at 320x180) in a fresh
Prefect home: the first computes everything, the others redo every shot (``--force
images,narration,animation,stitch``), so each records the whole shape of a run. Then copies the last one in
the database (tests/prefect_db.py: its task runs, states, logs, artifacts and events under new ids, copy k
k hours older) until the home holds ``--runs`` - 1 runs, and makes run ``--runs`` for real (with pruning, it
prunes at its start). Prints the database's size and rows at each step and each real run's wall time; then
times ``retention.prune`` on a copy of the final database: what the next run does (in the steady state, one
run past the retention), then with nothing to do. ``--code`` runs `film` from another checkout, e.g. the
code before pruning existed.
"""
from __future__ import annotations

import argparse
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pipeline.prefect import retention  # noqa: E402
from tests.conftest import write_project  # noqa: E402
from tests.prefect_db import clone_run, counts  # noqa: E402

REDO = ("--force", "images,narration,animation,stitch")


def film_make(code: Path, project: Path, out: Path, home: Path, *flags: str) -> float:
    """`film make` in a fresh process from checkout ``code``, recording in ``home``; its wall time."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("PREFECT_API_URL", retention.DAYS_SETTING, retention.RUNS_SETTING)}
    env.update(PREFECT_HOME=str(home), PYTHONPATH=str(code))
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "pipeline", "make", str(project), "--out", str(out), *flags], env=env,
                   cwd=code, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - started


def report(what: str, home: Path) -> None:
    found = counts(home / retention.DATABASE)
    on_disk = sum(path.stat().st_size for path in home.glob(f"{retention.DATABASE}*"))
    rows = ", ".join(f"{table} {n}" for table, n in found.items() if "bytes" not in table)
    print(f"{what}: {on_disk / 2**20:.1f} MB on disk ({found['bytes'] / 2**20:.1f} MB of pages, "
          f"{found['free bytes'] / 2**20:.1f} MB free); {rows}", flush=True)


def newest_run(home: Path) -> str:
    with sqlite3.connect(home / retention.DATABASE) as db:
        return db.execute("SELECT id FROM flow_run ORDER BY start_time DESC LIMIT 1").fetchone()[0]


def time_prunes(home: Path, work: Path) -> list[tuple[float, retention.Pruned]]:
    """``retention.prune`` (default retention) twice on a copy of ``home``: what the next run would do, then a
    prune with nothing left to do."""
    copy = work / "prune"
    copy.mkdir()
    with sqlite3.connect(home / retention.DATABASE) as source, sqlite3.connect(copy / retention.DATABASE) as target:
        source.backup(target)
    timed = []
    for _ in range(2):
        started = time.perf_counter()
        pruned = retention.prune(copy)
        timed.append((time.perf_counter() - started, pruned))
    return timed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=100)
    parser.add_argument("--real", type=int, default=10)
    parser.add_argument("--code", type=Path, default=ROOT, help="the checkout whose `film` makes the real runs")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="film-bench-db-"))
    try:
        project, out, home = write_project(work / "proj"), work / "out", work / "home"
        walls = [film_make(args.code, project, out, home, *(REDO if i else ())) for i in range(args.real)]
        print(f"{args.real} real runs: " + " ".join(f"{w:.1f}" for w in walls) + " s", flush=True)
        report(f"after {args.real} real runs", home)
        clone_run(home / retention.DATABASE, newest_run(home), args.runs - args.real - 1)
        report(f"after {args.runs - 1} runs ({args.runs - args.real - 1} copied)", home)
        wall = film_make(args.code, project, out, home, *REDO)
        report(f"after {args.runs} runs (the last one real: {wall:.1f} s)", home)
        for what, (seconds, pruned) in zip(("the next run's", "with nothing to do"), time_prunes(home, work)):
            print(f"prune, {what}: {seconds * 1000:.0f} ms ({pruned.runs} runs, {pruned.events} events deleted)")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
