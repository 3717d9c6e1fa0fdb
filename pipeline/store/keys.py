"""Content keys: short, stable hashes of values and of files' bytes."""
from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any


def digest(obj: Any) -> str:
    """A short, stable hash of any JSON-able value (dict key order does not matter)."""
    blob = json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str, ensure_ascii=False)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()[:24]


def file_digest(path: Path) -> str:
    """Hash of a file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()[:24]
