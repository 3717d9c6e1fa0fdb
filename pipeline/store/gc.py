"""Collecting a store: removing every artifact no current film uses, and holding the run lock meanwhile.

An artifact is ``<folder>/<key>.<ext>`` beside its record ``<key>.json`` (and a ``<key>.pushed`` marker), so a
file's key is its name up to the first dot. What to keep is given per folder; a folder not named is left alone,
as are temp files (the sweep's) and providers' journals (a job paid for and not collected yet is never lost).
"""
from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from pipeline.errors import UserError
from stages.files import TEMP_MARK

SEGMENTS = "stitch-segments"  # the stitcher's cache of rendered segments and soundtracks
JOURNAL = ".journal.json"
RUN_LOCK = Path(".film") / "run.lock"  # in an output folder: held (flock) by the run working there


@dataclass
class Collected:
    """What a collection removed (or, in a dry run, would remove)."""

    artifacts: int = 0
    files: int = 0
    segments: int = 0  # files of the stitcher's segment cache
    bytes: int = 0


def collect(root: Path, keep: Mapping[str, set[str]], segments_before: float | None, dry_run: bool) -> Collected:
    """Remove from the store at ``root``, in each folder ``keep`` names, every file whose key it does not list
    (records first), and the segment-cache files last used before ``segments_before`` (a time; None keeps them)."""
    found = Collected()
    for folder, keys in keep.items():
        gone = set()
        files = (path for path in _removable(root / folder) if path.name.split(".", 1)[0] not in keys)
        for path in sorted(files, key=lambda path: (path.suffix != ".json", path.name)):  # records first
            found.bytes += _remove(path, dry_run)
            found.files += 1
            gone.add(path.name.split(".", 1)[0])
        found.artifacts += len(gone)
    if segments_before is not None:
        for path in _removable(root / SEGMENTS):
            if path.stat().st_mtime < segments_before:
                found.bytes += _remove(path, dry_run)
                found.segments += 1
    return found


def _removable(folder: Path) -> list[Path]:
    """The files of a store folder that a collection may remove: not temp files, not journals."""
    if not folder.is_dir():
        return []
    return [path for path in folder.iterdir()
            if path.is_file() and TEMP_MARK not in path.name and not path.name.endswith(JOURNAL)]


def _remove(path: Path, dry_run: bool) -> int:
    """Remove a file (unless ``dry_run``); its size."""
    size = path.stat().st_size
    if not dry_run:
        path.unlink(missing_ok=True)
    return size


@contextlib.contextmanager
def holding_run_lock(out_dir: Path) -> Iterator[None]:
    """Hold the run lock of an output folder while its store is changed; refuse when a run holds it now."""
    path = out_dir / RUN_LOCK
    path.parent.mkdir(parents=True, exist_ok=True)
    handle = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)  # never truncated: the run notes in it who it is
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = path.read_text(encoding="utf-8", errors="replace").strip().replace("\n", ", ")
            raise UserError(f"a film run is working in {out_dir} now ({holder or f'it holds {path}'}): "
                            "its store is not changed under it",
                            "wait until that run ends, then run this again") from None
        yield
    finally:
        os.close(handle)  # releases the lock
