"""Runs that meet: two on one output folder, a full disk, a kill -9 in the middle; real processes, real files."""
from __future__ import annotations

import errno
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from pipeline.store import Store
from pipeline.store.local import SHARED_TEMP_AGE_S
from stages.files import TEMP_MARK, host_tag, temp_sibling, temp_writer
from tests.conftest import write_project
from tests.film_checks import computed, manifest, video_frames

ENV = dict(os.environ, PYTHONUNBUFFERED="1", COLUMNS="400")


def film_make(project: Path, out: Path, **popen) -> subprocess.Popen:
    """`film make PROJECT --out OUT` as a subprocess, its output (stdout and stderr) in one text pipe."""
    return subprocess.Popen([sys.executable, "-m", "pipeline", "make", str(project), "--out", str(out)], env=ENV,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, **popen)


def dead_pid() -> int:
    """The pid of a process that has ended."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def holding_lock(out: Path, command: str = "film make projects/other.yaml") -> subprocess.Popen:
    """Another process that holds the run lock of ``out`` until its stdin is closed."""
    code = ("import sys; from pathlib import Path; from pipeline.run.lock import out_folder_lock\n"
            f"with out_folder_lock(Path({str(out)!r}), print, {command!r}):\n"
            "    print('locked', flush=True); sys.stdin.read()\n")
    holder = subprocess.Popen([sys.executable, "-c", code], env=ENV, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              text=True)
    assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
    return holder


def records(out: Path) -> dict[Path, int]:
    """Every artifact record of the run's store, with its mtime in ns."""
    return {p: p.stat().st_mtime_ns for p in (out / ".film" / "cache").glob("*/*.json")
            if p.parent.name != "stitch-segments" and not p.name.endswith(".journal.json")}


def assert_whole_store(out: Path) -> None:
    """No temporary anywhere, and every record's files are there."""
    assert not [p for p in out.rglob(f"*{TEMP_MARK}*")], "a temporary file was left"
    cache = out / ".film" / "cache"
    for record in records(out):
        files = json.loads(record.read_text())["files"].values()
        assert all((cache / rel).is_file() for rel in files), f"{record} names a file that is not there"


# --- temporaries name their writer; the sweep spares a live one's ---------------------------------------------

def test_a_temporary_name_says_which_process_writes_it(tmp_path):
    temp = temp_sibling(tmp_path / "clip.mp4")
    assert TEMP_MARK in temp.name and temp.suffix == ".mp4" and temp.parent == tmp_path
    assert temp_writer(temp.name) == (host_tag(), os.getpid())
    assert temp_writer("clip.tmp-1a2b3c4d.mp4") is None  # the old names say nobody


def test_the_sweep_removes_only_temporaries_whose_writer_is_gone(tmp_path):
    folder = tmp_path / "animation"
    folder.mkdir()
    here, gone = host_tag(), dead_pid()
    other_host = "0" * 8 if here != "0" * 8 else "1" * 8
    names = {
        "live": f"a{TEMP_MARK}{here}-{os.getpid()}-0001.mp4",  # this test is writing it
        "dead": f"b{TEMP_MARK}{here}-{gone}-0002.mp4",
        "elsewhere_fresh": f"c{TEMP_MARK}{other_host}-{os.getpid()}-0003.mp4",
        "elsewhere_old": f"d{TEMP_MARK}{other_host}-{os.getpid()}-0004.mp4",
        "old_style": f"e{TEMP_MARK}1a2b3c4d.mp4",
    }
    for name in names.values():
        (folder / name).write_bytes(b"partial")
    os.utime(folder / names["elsewhere_old"], (time.time() - SHARED_TEMP_AGE_S - 60,) * 2)
    (folder / f".stitch{TEMP_MARK}{here}-{gone}-xyz").mkdir()  # a killed stitch's work folder
    assert Store(tmp_path).sweep_temporaries() == 4
    assert sorted(p.name for p in folder.iterdir()) == [names["live"], names["elsewhere_fresh"]]


# --- one run at a time per output folder -------------------------------------------------------------------

def test_a_run_waits_for_the_lock_naming_its_holder_then_takes_it(tmp_path):
    from pipeline.run.lock import HOLDER_NAME, out_folder_lock, read_holder

    out = tmp_path / "out"
    holder = holding_lock(out)
    told: list[str] = []
    held = threading.Event()

    def second() -> None:
        with out_folder_lock(out, told.append, "film make second.yaml"):
            with out_folder_lock(out, told.append):  # this process holds it already: no deadlock
                held.set()

    waiter = threading.Thread(target=second, daemon=True)
    waiter.start()
    deadline = time.time() + 10
    while not told and time.time() < deadline:
        time.sleep(0.05)
    assert not held.is_set(), "the lock was taken while another process held it"
    assert told and told[0].startswith(f"waiting for the run on {out}") and f"pid {holder.pid}," in told[0]
    assert "film make projects/other.yaml, since " in told[0], told
    assert read_holder(out / ".film")["pid"] == holder.pid
    holder.stdin.close()
    holder.wait(10)
    waiter.join(10)
    assert held.is_set() and len(told) == 1
    assert not (out / ".film" / HOLDER_NAME).exists(), "the holder's record goes with the lock"


def test_ctrl_c_while_waiting_exits_130_and_changes_nothing(tmp_path):
    project = write_project(tmp_path / "proj")
    out = tmp_path / "out"
    holder = holding_lock(out)
    before = sorted(p.relative_to(out) for p in out.rglob("*"))
    run = film_make(project, out)
    assert run.stdout is not None
    lines = []
    for line in run.stdout:
        lines.append(line)
        if "waiting for the run on" in line:
            break
    assert "waiting for the run on" in "".join(lines), "".join(lines) + run.stdout.read()
    assert f"pid {holder.pid}," in lines[-1] and "film make projects/other.yaml" in lines[-1], lines
    run.send_signal(signal.SIGINT)
    rest, _ = run.communicate(timeout=30)
    assert run.returncode == 130, rest
    assert "Traceback" not in rest
    assert sorted(p.relative_to(out) for p in out.rglob("*")) == before, "the waiting run wrote nothing"
    holder.stdin.close()
    holder.wait(10)


@pytest.mark.slow
def test_two_runs_at_once_on_one_project_both_finish_one_after_the_other(tmp_path):
    project = write_project(tmp_path / "proj")
    out = tmp_path / "out"
    runs = [film_make(project, out) for _ in range(2)]
    outputs = [run.communicate(timeout=300)[0] for run in runs]
    assert [run.returncode for run in runs] == [0, 0], "\n-----\n".join(outputs)
    waited = [i for i, text in enumerate(outputs) if "waiting for the run on" in text]
    assert len(waited) == 1, outputs
    other = runs[1 - waited[0]]
    assert f"pid {other.pid}," in " ".join(outputs[waited[0]].split()), outputs[waited[0]]
    assert video_frames(out / "film.mp4") > 0
    assert manifest(out)["stitch"] and len(manifest(out)["shots"]) >= 2
    assert not computed(out), "the run that waited (its manifest is the last) found everything made"
    assert_whole_store(out)


# --- a full disk ---------------------------------------------------------------------------------------------

def test_a_full_disk_is_reported_with_its_folder_free_space_and_the_space_needed(tmp_path):
    from pipeline.run.disk import DiskFull, stops_when_full
    from stages.errors import StageError

    store = tmp_path / "cache"
    (store / "animation").mkdir(parents=True)
    (store / "animation" / "k.mp4").write_bytes(b"x" * 3000)
    (store / "animation" / "k.json").write_bytes(b"{}" * 5000)  # records are not what is estimated
    with pytest.raises(DiskFull) as full:
        with stops_when_full(tmp_path, store, "animation"):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(store / "animation" / "x.tmp-1.mp4"))
    message = str(full.value)
    assert message.startswith(f"the disk is full: {store / 'animation'} has ") and " free" in message
    assert "needs about 2.9 KiB more (the largest animation artifact stored so far)" in message
    with pytest.raises(DiskFull, match=f"the disk is full: {tmp_path} has"):  # ffmpeg's own words
        with stops_when_full(tmp_path, store):
            raise StageError("ffmpeg failed writing x.mp4 (exit 1):\nav_interleaved_write_frame(): "
                             "No space left on device")
    with pytest.raises(PermissionError):  # anything else passes through as it was
        with stops_when_full(tmp_path, store):
            raise PermissionError(errno.EACCES, "Permission denied")


@pytest.fixture
def small_disk(tmp_path):
    """A 2 MiB tmpfs, room for the short film's stills, narration and clips but not its stitch (resized with
    ``resize(mib)``); skipped where mounting is not permitted."""
    place = tmp_path / "small"
    place.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(place)], capture_output=True,
                             text=True) if shutil.which("mount") else None
    if mounted is None or mounted.returncode != 0:
        pytest.skip("cannot mount a tmpfs here (needs root or CAP_SYS_ADMIN): "
                    + (mounted.stderr.strip() if mounted else "no mount command"))

    def resize(mib: int) -> None:
        subprocess.run(["mount", "-o", f"remount,size={mib}m", str(place)], check=True)

    try:
        yield place, resize
    finally:
        subprocess.run(["umount", "-l", str(place)], check=False)


@pytest.mark.slow
def test_a_full_disk_stops_the_run_cleanly_and_the_next_run_with_space_finishes(tmp_path, small_disk):
    place, resize = small_disk
    project = write_project(tmp_path / "proj")
    out = place / "out"
    run = film_make(project, out)
    output = " ".join(run.communicate(timeout=300)[0].split())
    assert run.returncode == 1, output
    assert "error: the disk is full: " in output and " free, and this run needs about " in output, output
    assert str(place) in output and "Traceback" not in output, output
    assert_whole_store(out)
    kept = records(out)
    assert kept, "some artifacts were finished before the disk filled"
    resize(64)
    rerun = film_make(project, out)
    again = rerun.communicate(timeout=300)[0]
    assert rerun.returncode == 0, again
    assert video_frames(out / "film.mp4") > 0
    assert {p: records(out)[p] for p in kept} == kept, "what was finished before is kept, not made again"
    assert_whole_store(out)


# --- kill -9 in the middle of a run --------------------------------------------------------------------------

def _processes() -> dict[int, tuple[int, str, str]]:
    """Every process: pid -> (parent pid, start time, command line)."""
    found = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rpartition(")")[2].split()
                if fields[0] == "Z":
                    continue  # ended, not yet reaped
                cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            except (OSError, IndexError):
                continue
            found[int(entry.name)] = (int(fields[1]), fields[19], cmdline)
    return found


def _descendants(pid: int) -> dict[int, tuple[int, str, str]]:
    table = _processes()
    family, frontier = {}, [pid]
    while frontier:
        parent = frontier.pop()
        for child, info in table.items():
            if info[0] == parent and child not in family:
                family[child] = info
                frontier.append(child)
    return family


def _left(run_pid: int, family: dict[int, tuple[int, str, str]], out: Path) -> list[str]:
    """Processes of the killed run still alive: its descendants then, or any naming its output folder."""
    now = _processes()
    return [info[2] for pid, info in now.items()
            if pid != run_pid and ((pid in family and family[pid][1] == info[1]) or str(out) in info[2])]


def _kill_in_the_middle(tmp_path: Path, whole_group: bool) -> None:
    project = write_project(tmp_path / "proj")
    out = tmp_path / "out"
    run = film_make(project, out, start_new_session=True)
    cache = out / ".film" / "cache"
    deadline = time.time() + 120
    while time.time() < deadline and run.poll() is None and (
            len(list((cache / "images").glob("*.json"))) < 2 or not list((cache / "narration").glob("*.json"))):
        time.sleep(0.1)
    assert run.poll() is None, "the run ended before it could be killed:\n" + run.communicate()[0]
    family = _descendants(run.pid)
    assert any("uvicorn" in info[2] for info in family.values()), "the run's own Prefect server is running"
    if whole_group:
        os.killpg(run.pid, signal.SIGKILL)
    else:
        os.kill(run.pid, signal.SIGKILL)
    run.communicate(timeout=30)
    deadline = time.time() + 15
    while _left(run.pid, family, out) and time.time() < deadline:
        time.sleep(0.2)
    assert not _left(run.pid, family, out), "processes of the killed run outlived it"
    finished = records(out)
    assert finished, "some artifacts were finished before the kill"
    rerun = film_make(project, out)
    text = rerun.communicate(timeout=300)[0]
    assert rerun.returncode == 0, text
    assert {p: records(out)[p] for p in finished} == finished, "finished artifacts are not made again"
    reused = {art["key"] for shot in manifest(out)["shots"] for art in shot["artifacts"].values()
              if not art["computed"]}
    assert {p.stem for p in finished if p.parent.name in ("images", "narration", "animation")} <= reused
    assert_whole_store(out)


@pytest.mark.slow
def test_kill_9_of_the_whole_process_group_leaves_no_process_and_the_rerun_continues(tmp_path):
    _kill_in_the_middle(tmp_path, whole_group=True)


@pytest.mark.slow
def test_kill_9_of_the_film_process_alone_leaves_no_process_and_the_rerun_continues(tmp_path):
    _kill_in_the_middle(tmp_path, whole_group=False)
