"""``manifest.json`` and the run summary: what a run made, reused and spent, as typed, frozen models.

The manifest describes the whole output folder after any run (a partial one too); the summary is its first
part, what `film make` prints and returns.
"""
from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict


class Written(BaseModel):
    """Base of what a run writes: immutable and strict."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class ArtifactEntry(Written):
    """One stage's result for a shot (or the film) as the manifest lists it."""

    key: str
    digest: str | None
    path: str  # relative to the output folder when inside it
    backend: str | None
    computed: bool  # made by this run (else taken from the cache)
    wall_s: float
    spend_usd: float = 0.0


class ShotEntry(Written):
    """One shot: its narration length, its artifacts and the stages a provider refused."""

    shot: int
    speaker: str
    duration: float | None
    artifacts: dict[str, ArtifactEntry]
    refused: dict[str, str]


class Refusal(Written):
    """A stage of a shot that a provider refused (the film goes on without the shot)."""

    shot: int | None
    stage: str
    reason: str


class SpendTotals(Written):
    """What a run spent, in total, per stage and per shot."""

    total_usd: float = 0.0
    budget_usd: float | None = None
    by_stage: dict[str, float] = {}
    by_shot: dict[str, float] = {}


class PaidCall(Written):
    """One paid provider call."""

    stage: str
    shot: int | None
    item: str
    units: float
    usd: float


class Spend(SpendTotals):
    """The totals and every paid call."""

    calls: tuple[PaidCall, ...] = ()


class RunSummary(Written):
    """The run at a glance: the film's length, jobs computed and cached, time, outputs, notes, spend."""

    project: str
    film_seconds: float | None = None
    film_made: bool = False  # the film was made (not taken from the cache) by this run
    loudness_lufs: float | None = None
    wall_seconds: float = 0.0
    computed: int = 0
    cached: int = 0
    stage_work_seconds: dict[str, float] = {}
    outputs: dict[str, str] = {}
    notes: tuple[str, ...] = ()
    refused: tuple[Refusal, ...] = ()
    spend: SpendTotals = SpendTotals()


class Manifest(Written):
    """``manifest.json``: the summary, the backends, every shot's artifacts, the spend, the film and script."""

    summary: RunSummary
    backends: dict[str, dict[str, Any]]
    shots: tuple[ShotEntry, ...]
    spend: Spend
    stitch: ArtifactEntry | None
    script: ArtifactEntry | None
    finished: str
