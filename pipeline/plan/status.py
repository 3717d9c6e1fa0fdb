"""`film status`: per stage and shot, cached / stale / missing / waiting / damaged, without running anything."""
from __future__ import annotations

from pathlib import Path

from pipeline.plan.damage import status_notes
from pipeline.plan.graph import FILM_STAGE, SCRIPT, SHOT_STAGES
from pipeline.plan.planner import Plan, Slot, Status, make_plan, previous_keys
from pipeline.plan.selection import Selection
from pipeline.run.context import open_context
from pipeline.run.script import ensure_screenplay, script_job, script_state
from pipeline.store import Freshness

Row = tuple[str, dict[str, Freshness]]


def _label(plan: Plan, previous: dict[Slot, str], slot: Slot) -> Freshness:
    if plan.status.get(slot) is Status.CACHED:
        return Freshness.CACHED
    if slot in plan.damaged:
        return Freshness.DAMAGED
    if slot not in plan.keys:
        return Freshness.WAITING
    old = previous.get(slot)
    return Freshness.STALE if old and old != plan.keys[slot] else Freshness.MISSING


def status_rows(project: Path, out: Path | None) -> tuple[dict[str, Freshness], list[Row], list[str]]:
    """The whole-film stages (script, stitch), one row per shot of the per-shot stages, and notes (such as a
    screenplay kept for its edits although the script's inputs changed)."""
    ctx = open_context(project, out, create=False)
    job = script_job(ctx)
    state = script_state(ctx, job)
    if state is not Freshness.CACHED:
        return {SCRIPT: state, FILM_STAGE.name: Freshness.WAITING}, [], []
    ensure_screenplay(ctx, run=False, job=job)
    plan = make_plan(ctx, Selection(only=True))
    previous = previous_keys(ctx)
    rows = [(str(shot.shot), {stage: _label(plan, previous, (stage, shot.shot)) for stage in SHOT_STAGES})
            for shot in ctx.shots()]
    notes = [*ctx.notes, *status_notes(ctx, plan)]
    return {SCRIPT: state, FILM_STAGE.name: _label(plan, previous, (FILM_STAGE.name, None))}, rows, notes
