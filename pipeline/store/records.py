"""The record of one finished artifact: ``<stage>/<key>.json`` in the store, written after its files.

Records are read back from caches that older (or newer) versions of film wrote, so unknown fields are
ignored rather than refused; everything film reads from a record is a typed field or property here.
"""
from __future__ import annotations

import time
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict

from stages.contracts import Timing


class Stored(BaseModel):
    """Base of the store's models: immutable; fields they do not know (from another version) are ignored."""

    model_config = ConfigDict(frozen=True, extra="ignore")


class RecordInfo(Stored):
    """Who made an artifact, where, and what it cost."""

    shot: int | None = None
    backend: str | None = None
    host: str | None = None
    pid: int | None = None
    spend_usd: float = 0.0
    busy_s: float = 0.0  # seconds the job held its slot (its wall time less waiting for one)


class Record(Stored):
    """One finished artifact: its files (relative to the store root), their digests and the backend's result."""

    stage: str
    key: str
    files: dict[str, str]
    digest: str  # of the main file
    digests: dict[str, str] = {}  # of the other files, by name
    sizes: dict[str, int] = {}  # bytes of every file, by name (records of older versions have none)
    result: dict[str, Any] = {}  # the backend's result, less its paths
    info: RecordInfo = RecordInfo()
    wall_s: float = 0.0
    finished_at: float = 0.0
    created: str = ""

    def size_of(self, name: str) -> int | None:
        """The size in bytes one of the artifact's files had when made (None when the record does not say)."""
        return self.sizes.get(name)

    def digest_of(self, name: str) -> str | None:
        """The digest of one of the artifact's files (None when the record has none for it)."""
        return self.digests.get(name) or (self.digest if name == "main" else None)

    @property
    def duration(self) -> float:
        """Seconds of a narration, clip or film."""
        return float(self.result["duration"])

    @property
    def timings(self) -> tuple[Timing, ...]:
        """When each sentence of a narration is spoken."""
        return tuple(Timing(**timing) for timing in self.result.get("timings", ()))

    @property
    def loudness_lufs(self) -> float | None:
        """The integrated loudness of a film."""
        return self.result.get("loudness_lufs")

    def fresh_url(self, margin_s: float = 300.0) -> str | None:
        """The provider-hosted copy of a still, while it has at least ``margin_s`` seconds to live."""
        expires = self.result.get("url_expires_at")
        return self.result.get("url") if expires is not None and expires - margin_s > time.time() else None

    def as_json(self) -> dict[str, Any]:
        """The record as it is written to the store."""
        return self.model_dump(mode="json")


class Freshness(StrEnum):
    """How a result stands against the current inputs, as `film status` shows it."""

    CACHED = "cached"  # made, and current
    STALE = "stale"  # made before, but its inputs changed since
    MISSING = "missing"  # never made
    WAITING = "waiting"  # cannot be keyed yet: something it is made from is not made
    DAMAGED = "damaged"  # made, but a file of it is missing or not the size it was made: it is made again
