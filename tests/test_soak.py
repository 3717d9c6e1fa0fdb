"""Weeks of use in a few minutes: random screenplay edits and reruns of a short text, some killed with SIGKILL
mid-run, some started twice at once. After each round the film matches its screenplay, `film verify` is clean
and no temporary file is left. Seeded, bounded in rounds and in time (it stops early, never hangs)."""
from __future__ import annotations

import os
import random
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from tests.conftest import write_project
from tests.film_checks import manifest, srt_cues, video_frames

pytestmark = pytest.mark.slow
ROUNDS = 30
BUDGET_S = 900.0  # the soak stops starting rounds after this
RUN_TIMEOUT_S = 240.0
FPS = 12


def film(project: Path, out: Path) -> subprocess.Popen:
    """`film make` as a user starts it: its own process (group), no terminal."""
    return subprocess.Popen([sys.executable, "-m", "pipeline", "make", str(project), "--out", str(out)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)


def finished(run: subprocess.Popen) -> tuple[int, str]:
    """Wait for a run; its exit code and output."""
    text, _ = run.communicate(timeout=RUN_TIMEOUT_S)
    return run.returncode, text


def killed_midway(project: Path, out: Path, rng: random.Random) -> None:
    """Start a run and SIGKILL its whole process group after a random moment."""
    run = film(project, out)
    time.sleep(rng.uniform(1.0, 6.0))
    if run.poll() is None:
        os.killpg(run.pid, signal.SIGKILL)
    run.communicate(timeout=RUN_TIMEOUT_S)


def shots_of(data: dict) -> list[dict]:
    """The screenplay's shots in film order."""
    return [shot for scene in data["scenes"] for shot in scene["shots"]]


def edit(out: Path, rng: random.Random) -> str:
    """One random edit of screenplay.yaml, as a user makes it; what was done."""
    path = out / "screenplay.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    scene = rng.choice(data["scenes"])
    shot = rng.choice(scene["shots"])
    kind = rng.choice(("narration", "prompt", "delete", "add", "reorder", "motion"))
    if kind == "delete" and len(shots_of(data)) > 3 and len(scene["shots"]) > 1:
        scene["shots"].remove(shot)
    elif kind == "add":
        new = dict(shot, shot=max(s["shot"] for s in shots_of(data)) + 1,
                   narration=rng.choice(("The lamp burned low.", "Nobody spoke for a while.", "Rain again.")))
        scene["shots"].insert(rng.randrange(len(scene["shots"]) + 1), new)
    elif kind == "reorder" and len(scene["shots"]) > 1:
        rng.shuffle(scene["shots"])
    elif kind == "motion":
        shot["motion"] = rng.choice(("slow push in", "pan left", "pan right", "slow pull out"))
    elif kind == "prompt":
        shot["image_prompt"] += rng.choice((" Candlelight.", " At dusk.", " Seen from the door."))
    else:
        kind = "narration"
        shot["narration"] = shot["narration"].rstrip(".") + rng.choice((", she said.", ", at last.", ". Then silence."))
    path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return kind


def words(text: str) -> list[str]:
    """The words of a text, lower case, without punctuation (subtitles break lines anywhere)."""
    return re.findall(r"[a-z0-9']+", text.lower().replace("’", "'"))


def check_film(out: Path, project: Path) -> None:
    """The film is the screenplay's: its shots, their narration in the subtitles, its length; verify is clean."""
    data = yaml.safe_load((out / "screenplay.yaml").read_text(encoding="utf-8"))
    made = manifest(out)
    assert [s["shot"] for s in made["shots"]] == [s["shot"] for s in shots_of(data)]
    said = [w for cue in srt_cues(out / "film.srt") for w in words(cue[2])]
    assert said == [w for s in shots_of(data) for w in words(s["narration"])]
    frames = video_frames(out / "film.mp4")
    assert abs(frames / FPS - made["summary"]["film_seconds"]) <= 1 / FPS + 1e-6
    assert frames / FPS >= sum(s["duration"] for s in made["shots"]) - 1e-6  # every shot holds its narration
    verify = subprocess.run([sys.executable, "-m", "pipeline", "verify", str(project), "--out", str(out)],
                            capture_output=True, text=True, timeout=RUN_TIMEOUT_S)
    assert verify.returncode == 0, verify.stdout + verify.stderr
    left = [p for p in out.rglob("*") if ".tmp-" in p.name]
    assert not left, left


def test_random_edits_kills_and_twin_runs_keep_the_film_true(tmp_path):
    rng = random.Random(1813)
    project = write_project(tmp_path / "proj")
    out = tmp_path / "out"
    code, text = finished(film(project, out))
    assert code == 0, text
    plan = ["plain"] * 20 + ["kill"] * 7 + ["twins"] * 3
    rng.shuffle(plan)
    started, rounds = time.monotonic(), 0
    for how in plan[:ROUNDS]:
        if time.monotonic() - started > BUDGET_S:
            break
        what = edit(out, rng)
        if how == "kill":
            killed_midway(project, out, rng)
        if how == "twins":
            first, second = film(project, out), film(project, out)
            results = [finished(first), finished(second)]
        else:
            results = [finished(film(project, out))]
        for code, text in results:
            assert code == 0, f"round {rounds + 1} ({what}, {how}): {text}"
        check_film(out, project)
        rounds += 1
    assert rounds >= 10, f"only {rounds} rounds in {BUDGET_S:.0f} s"
