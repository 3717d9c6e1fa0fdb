"""Files written whole or not at all: made under a temporary name beside the target, then renamed in one step.

Both layers use it: a backend's journal and the stitcher's segment cache (``stages/``), the artifact store,
the manifest and the outputs (``pipeline/``). Every temporary name holds ``.tmp-`` and its writer (a hash of
the host and the process id), so the store's sweep finds what a killed run left behind and spares what a live
one is still writing.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import socket
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

TEMP_MARK = ".tmp-"
_WRITER = re.compile(re.escape(TEMP_MARK) + r"([0-9a-f]{8})-(\d+)-")  # what follows the mark in a temp's name


def host_tag() -> str:
    """This machine, in the 8 hex digits a temporary name carries (a hash of the host name)."""
    return hashlib.sha256(socket.gethostname().encode()).hexdigest()[:8]


def temp_tag() -> str:
    """What follows ``.tmp-`` in a temporary name made by this process: its host, its pid and a dash."""
    return f"{host_tag()}-{os.getpid()}-"


def temp_writer(name: str) -> tuple[str, int] | None:
    """The (host tag, pid) of the process that made a temporary name; None for a name without them."""
    found = _WRITER.search(name)
    return (found.group(1), int(found.group(2))) if found else None


def temp_sibling(path: Path) -> Path:
    """A unique temporary name next to ``path`` with the same suffix (so tools see the format), naming its
    writer: ``name.tmp-<host>-<pid>-<random>.ext``."""
    return path.with_name(f"{path.stem}{TEMP_MARK}{temp_tag()}{uuid.uuid4().hex[:8]}{path.suffix}")


def write_atomically(target: Path, render: Callable[[Path], Any], durable: bool = False) -> Path:
    """Have ``render`` write a temporary file beside ``target``, then move it into place in one step, so readers
    see the old file or the new one, never half of one. ``durable``: flush it to the disk before the rename (for
    small records a crash must not lose; big media files skip the cost)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    temp = temp_sibling(target)
    try:
        render(temp)
        if durable:
            with open(temp, "rb+") as handle:
                os.fsync(handle.fileno())
        os.replace(temp, target)
    finally:
        temp.unlink(missing_ok=True)
    return target


def write_bytes_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically and durably."""
    write_atomically(path, lambda temp: temp.write_bytes(data), durable=True)


def write_text_atomic(path: Path, text: str) -> None:
    """Atomic, durable UTF-8 text write."""
    write_bytes_atomic(path, text.encode("utf-8"))


def write_json_atomic(path: Path, obj: Any, indent: int | None = 2) -> None:
    """Atomic, durable JSON write (pretty unless ``indent`` is None)."""
    text = json.dumps(obj, indent=indent, default=str, ensure_ascii=False)
    write_text_atomic(path, text + "\n" if indent is not None else text)


def publish(source: Path, target: Path) -> None:
    """Place a copy of a finished artifact at a user-facing path atomically. A copy, not a hard link: an
    editor that saves in place (vim does for linked files) would otherwise change the cached artifact."""
    write_atomically(target, lambda temp: shutil.copyfile(source, temp))
