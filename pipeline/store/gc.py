"""Collecting a store: removing every artifact no current film uses, and holding the run lock meanwhile.

An artifact is ``<folder>/<key>.<ext>`` beside its record ``<key>.json`` (and a ``<key>.pushed`` marker), so a
file's key is its name up to the first dot. What to keep is given per folder; a folder not named is left alone,
as are temp files (the sweep's) and providers' journals (a job paid for and not collected yet is never lost).
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from stages.files import TEMP_MARK

SEGMENTS = "stitch-segments"  # the stitcher's cache of rendered segments and soundtracks
JOURNAL = ".journal.json"


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
