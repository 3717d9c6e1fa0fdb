"""Checking an artifact's files against its record: cheaply (each file there, and of the size it was made)
whenever the artifact is reused, fully (every byte against its digest) by `film verify`."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pipeline.store.keys import file_digest
from pipeline.store.records import Record


@dataclass(frozen=True)
class Damage:
    """One file of a stored artifact that cannot be trusted, and why."""

    record: Record
    name: str  # which of the artifact's files: "main", "srt"...
    problem: str  # what is wrong with it, in words

    @property
    def file(self) -> str:
        """The damaged file, relative to the store's root."""
        return self.record.files[self.name]

    def __str__(self) -> str:
        return f"{self.file}: {self.problem}"


def damage_of(root: Path, record: Record, full: bool = False) -> Damage | None:
    """The first file of ``record`` (under ``root``) that is missing or not the size it was made, or with
    ``full`` whose bytes do not match its digest; None when all are sound. A record written before records kept
    sizes is checked by existence alone (and by digest with ``full``)."""
    for name, rel in record.files.items():
        try:
            size = (root / rel).stat().st_size
        except OSError:
            return Damage(record, name, "missing")
        made = record.size_of(name)
        if made is not None and size != made:
            return Damage(record, name, f"{size} bytes, made with {made}")
        expected = record.digest_of(name)
        if full and expected is not None and file_digest(root / rel) != expected:
            return Damage(record, name, "bytes changed since it was made (digest)")
    return None


def file_sizes(root: Path, record: Record) -> dict[str, int]:
    """The size in bytes of each of the artifact's files as they are now."""
    return {name: (root / rel).stat().st_size for name, rel in record.files.items()}
