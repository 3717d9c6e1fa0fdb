"""A full disk (ENOSPC) stops the run with a message naming the full folder, its free space and the space needed.

It is recognised wherever it happens: an OSError with errno 28 (a backend's write, the store's rename, the
manifest), or a backend's StageError carrying ffmpeg's "No space left on device". Every file is written to a
temporary name first, so nothing half-written is left as an artifact, and the next run keeps what was finished.
"""
from __future__ import annotations

import errno
import shutil
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from pipeline.errors import RuntimeFailure
from stages.errors import StageError
from stages.files import TEMP_MARK

NO_SPACE = "No space left on device"


class DiskFull(RuntimeFailure):
    """The disk a run writes to is full (exit code 1)."""


def is_disk_full(exc: BaseException) -> bool:
    """Whether ``exc`` (or an exception it was raised from) is a full disk."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, OSError) and seen.errno == errno.ENOSPC:
            return True
        if isinstance(seen, StageError) and NO_SPACE in str(seen):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


@contextmanager
def stops_when_full(folder: Path, store_root: Path, stage: str | None = None,
                    made_from: Sequence[Path] = ()) -> Iterator[None]:
    """Turn a full disk met in the block into DiskFull, naming the full folder (that of the file being written,
    else ``folder``) and the space an estimate says the work needs (see ``space_needed``)."""
    try:
        yield
    except DiskFull:
        raise
    except (OSError, StageError) as exc:
        if not is_disk_full(exc):
            raise
        failed = getattr(exc, "filename2", None) or getattr(exc, "filename", None)  # a copy's or move's target
        full = _existing(Path(failed).parent if failed else folder)
        needed, basis = space_needed(store_root, stage, made_from)
        free = shutil.disk_usage(full).free
        raise DiskFull(f"the disk is full: {full} has {human_size(free)} free, and this run needs about "
                       f"{human_size(needed)} more ({basis})",
                       "free some space there (or choose another --out) and run the same command again: what "
                       "was finished is kept") from exc


def space_needed(store_root: Path, stage: str | None = None, made_from: Sequence[Path] = ()) -> tuple[int, str]:
    """An estimate of the space the next artifact needs, and how it was made: the largest artifact of ``stage``
    stored so far, else the files it is ``made_from`` together, else the largest artifact of any stage, else a
    guess of 1 MiB."""
    stored = _largest(store_root / stage) if stage else 0
    if stored:
        return stored, f"the largest {stage} artifact stored so far"
    inputs = sum(path.stat().st_size for path in made_from if path.is_file())
    if inputs:
        return inputs, f"the files the {stage} is made from, together"
    stored = _largest(store_root)
    if stored:
        return stored, "the largest artifact stored so far"
    return 1 << 20, "a guess: nothing is stored yet"


def _largest(folder: Path) -> int:
    """The size of the largest artifact file below ``folder`` (0 when none)."""
    if not folder.is_dir():
        return 0
    return max((p.stat().st_size for p in folder.rglob("*") if _artifact_file(p)), default=0)


def _artifact_file(path: Path) -> bool:
    return path.is_file() and TEMP_MARK not in path.name and path.suffix not in (".json", ".pushed")


def _existing(path: Path) -> Path:
    """``path``, or its nearest parent that exists."""
    return next(p for p in (path, *path.parents) if p.exists())


def human_size(size: float) -> str:
    """``size`` bytes as B, KiB, MiB or GiB."""
    for unit in ("B", "KiB", "MiB"):
        if size < 1024:
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} GiB"
