"""A damaged store and a growing one, on a real short film: a cut clip is made again (only it) with a note,
`film verify` finds every damaged file and --repair drops it, `film gc` frees what an edit left behind and
never works under a running run."""
from __future__ import annotations

import fcntl
import json
import os
import socket
import time
from pathlib import Path

import pytest

from tests.conftest import write_project
from tests.film_checks import computed, manifest
from tests.test_film import Made, copied, edit_screenplay, make, shot_list


@pytest.fixture(scope="module")
def made(tmp_path_factory) -> Made:
    root = tmp_path_factory.mktemp("upkeep")
    return make(write_project(root / "proj"), root / "out")


@pytest.fixture
def film(made, tmp_path_factory) -> tuple[Path, Path]:
    return copied(made, tmp_path_factory.mktemp("copy"))


def artifact(out: Path, stage: str, index: int) -> tuple[int, Path]:
    """The shot number and stored file of the ``index``-th shot's result of ``stage``."""
    shot = manifest(out)["shots"][index]
    return shot["shot"], out / shot["artifacts"][stage]["path"]


def cut(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def flip(path: Path) -> None:
    """Change one byte: the same size, other bytes (what only a digest sees)."""
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))


def said(text: str) -> str:
    """The CLI's output with its line wrapping undone."""
    return " ".join(text.split())


@pytest.mark.slow
def test_a_cut_clip_is_damaged_and_only_it_is_made_again(cli, film):
    project, out = film
    number, clip = artifact(out, "animation", 1)
    cut(clip)
    code, text = cli("status", project, "--out", out)
    assert code == 0, text
    assert "damaged" in text and clip.name in said(text) and "the next `film make` makes it again" in said(text)
    code, text = cli("make", project, "--out", out, "--force", "stitch")  # the command: it failed in ffmpeg
    assert code == 0, text
    assert f"animation of shot {number} is damaged in the store (animation/{clip.name}" in said(text)
    assert computed(out) == {("animation", number), ("stitch", None)}
    code, text = cli("make", project, "--out", out)
    assert code == 0 and computed(out) == set() and "damaged" not in text, text


@pytest.mark.slow
def test_the_stitch_refuses_a_clip_whose_bytes_changed(cli, film):
    project, out = film
    number, clip = artifact(out, "animation", 0)
    flip(clip)  # same size: reuse trusts it, the stitch reads it and sees its digest
    code, text = cli("make", project, "--out", out, "--force", "stitch")
    assert code == 1, text
    assert f"shot {number}" in said(text) and f"--force animation --shots {number}" in said(text)


@pytest.mark.slow
def test_a_damaged_film_in_the_store_is_not_published(cli, film):
    project, out = film
    flip(out / manifest(out)["stitch"]["path"])
    (out / "film.mp4").unlink()
    code, text = cli("make", project, "--out", out)
    assert code == 1, text
    assert "film.mp4" in said(text) and "--force stitch" in said(text)
    assert not (out / "film.mp4").exists()


@pytest.mark.slow
def test_verify_finds_damage_and_repair_lets_the_next_make_redo_it(cli, film):
    project, out = film
    code, text = cli("verify", project, "--out", out)
    assert code == 0 and "every file sound" in text, text
    still_shot, still = artifact(out, "images", 0)
    voice_shot, voice = artifact(out, "narration", 1)
    cut(still)
    flip(voice)  # only a digest sees it
    (out / "film.srt").write_text("1\n00:00:00,000 --> 00:00:01,000\nnot the film's\n")
    code, text = cli("verify", project, "--out", out)
    assert code == 1, text
    for name in (still.name, voice.name, "film.srt"):
        assert name in said(text)
    code, text = cli("verify", project, "--out", out, "--repair")
    assert code == 0, text
    assert not still.with_suffix(".json").exists() and not voice.with_suffix(".json").exists()
    code, text = cli("make", project, "--out", out)
    assert code == 0, text
    assert {("images", still_shot), ("narration", voice_shot)} <= computed(out)
    code, text = cli("verify", project, "--out", out)
    assert code == 0, text


@pytest.mark.slow
def test_records_of_older_versions_still_reuse_and_get_sizes_when_verified(cli, film):
    project, out = film
    records = [p for p in (out / ".film" / "cache").glob("*/*.json") if not p.name.endswith(".journal.json")]
    for path in records:
        data = json.loads(path.read_text())
        data.pop("sizes", None)
        path.write_text(json.dumps(data))
    code, text = cli("make", project, "--out", out)
    assert code == 0 and computed(out) == set(), text
    code, text = cli("verify", project, "--out", out)
    assert code == 0, text
    number, clip = artifact(out, "animation", 0)
    assert "sizes" in json.loads(clip.with_suffix(".json").read_text())
    cut(clip)  # now that its record knows the size, a cheap check sees the cut
    code, text = cli("status", project, "--out", out)
    assert "damaged" in text, text


@pytest.mark.slow
def test_gc_frees_what_an_image_prompt_edit_left_and_the_rerun_stays_a_noop(cli, film):
    project, out = film
    old = {stage: artifact(out, stage, 0)[1] for stage in ("images", "animation")}
    old["stitch"] = out / manifest(out)["stitch"]["path"]
    edit_screenplay(out, lambda data: shot_list(data)[0].update(image_prompt="a lighthouse in a storm at night"))
    code, text = cli("make", project, "--out", out)
    assert code == 0, text
    code, text = cli("gc", project, "--out", out, "--dry-run")
    assert code == 0 and "would remove" in text, text
    assert all(path.exists() for path in old.values())
    code, text = cli("gc", project, "--out", out)
    assert code == 0, text
    removed = int(said(text).split("removed ")[1].split()[0])
    assert removed >= 3 and "MB freed" in said(text)
    assert not any(path.exists() or path.with_suffix(".json").exists() for path in old.values())
    code, text = cli("make", project, "--out", out)
    assert code == 0 and computed(out) == set(), text
    code, text = cli("verify", project, "--out", out)
    assert code == 0, text
    code, text = cli("gc", project, "--out", out)
    assert code == 0 and said(text).startswith("removed 0 results"), text


@pytest.mark.slow
def test_gc_is_refused_while_a_run_holds_the_lock(cli, film):
    project, out = film
    stale = out / ".film" / "cache" / "images" / "0123456789abcdef01234567.png"
    stale.write_bytes(b"a still no screenplay uses")
    lock = out / ".film" / "run.lock"
    (out / ".film" / "run.json").write_text(json.dumps({"pid": 4242, "host": socket.gethostname(),
                                                        "command": "film make project.yaml", "started": time.time()}))
    handle = os.open(lock, os.O_RDWR | os.O_CREAT)
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        code, text = cli("gc", project, "--out", out)
        assert code == 2, text
        assert "pid 4242" in said(text) and str(out) in said(text)
        assert stale.exists()
    finally:
        os.close(handle)
    code, text = cli("gc", project, "--out", out)
    assert code == 0 and not stale.exists(), text


def test_gc_of_a_shared_store_folder_needs_every_project_that_uses_it(cli, tmp_path):
    project = write_project(tmp_path / "a", store="../shared")
    other = write_project(tmp_path / "b", name="other")  # its own store
    code, text = cli("gc", project, "--out", tmp_path / "out")
    assert code == 2 and "--shared-with" in said(text), text
    code, text = cli("gc", project, "--out", tmp_path / "out", "--shared-with", other)
    assert code == 2 and "does not use the store" in said(text), text
