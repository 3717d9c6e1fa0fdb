"""Copies of stored artifacts in the output folder, remade only when their source changed or the copy was edited."""
from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from pathlib import Path

from stages.files import publish, write_json_atomic


def _record_file(out_dir: Path) -> Path:
    return out_dir / ".film" / "published.json"


def _read(out_dir: Path) -> dict:
    try:
        return json.loads(_record_file(out_dir).read_text())
    except (OSError, ValueError):
        return {}


def _label(out_dir: Path, target: Path) -> str:
    """How a copy is named in the record: its path within the output folder (a top-level file: its name)."""
    return target.relative_to(out_dir).as_posix()


def publish_if_changed(out_dir: Path, source: Path, target: Path,
                       before_copy: Callable[[], None] | None = None) -> None:
    """Copy ``source`` to ``target`` (inside ``out_dir``) unless ``target`` is still the copy of this very source
    file made last time (as recorded then); a new or remade source, or a user's change to the copy, republishes it.
    ``before_copy`` runs only when a copy is made (a check of the source that reads it, say)."""
    published, label = _read(out_dir), _label(out_dir, target)
    if target.exists() and published.get(label) == _identity(source, target):
        return
    if before_copy is not None:
        before_copy()
    publish(source, target)
    published[label] = _identity(source, target)
    write_json_atomic(_record_file(out_dir), published)


def remove_unlisted(out_dir: Path, folder: Path, keep: Iterable[Path]) -> None:
    """Delete the copies published into ``folder`` that are not in ``keep`` (files put there by others stay)."""
    published, prefix = _read(out_dir), _label(out_dir, folder) + "/"
    kept = {_label(out_dir, path) for path in keep}
    gone = [label for label in published if label.startswith(prefix) and label not in kept]
    for label in gone:
        (out_dir / label).unlink(missing_ok=True)
        del published[label]
    if gone:
        write_json_atomic(_record_file(out_dir), published)


def _identity(source: Path, target: Path) -> list:
    """What tells a published copy apart: the source's path, size and change time, and the copy's."""
    src, dst = source.stat(), target.stat() if target.exists() else None
    return [str(source), src.st_size, src.st_mtime_ns, dst and dst.st_size, dst and dst.st_mtime_ns]
