"""`film status`: per stage and shot, cached / stale / missing, without running anything."""
from __future__ import annotations

from pathlib import Path

from pipeline.context import open_context
from pipeline.plan import SHOT_STAGES, Selection, make_plan, previous_keys
from pipeline.script_stage import ensure_screenplay, script_job, script_state


def _label(plan, previous, stage: str, shot: int | None) -> str:
    status = plan.status.get((stage, shot))
    if status == "cached":
        return "cached"
    if (stage, shot) not in plan.keys:
        return "waiting"
    old = previous.get((stage, shot))
    return "stale" if old and old != plan.keys[(stage, shot)] else "missing"


def status_rows(project: Path, out: Path | None) -> tuple[dict[str, str], list[tuple[str, dict[str, str]]], list[str]]:
    """The whole-film stages (script, stitch), one row per shot of the per-shot stages, and notes (such as a
    screenplay kept for its edits although the script's inputs changed)."""
    ctx = open_context(project, out, create=False)
    job = script_job(ctx)
    state = script_state(ctx, job)
    if state != "cached":
        return {"script": state, "stitch": "waiting"}, [], []
    ensure_screenplay(ctx, run=False, job=job)
    plan = make_plan(ctx, Selection(only=True))
    previous = previous_keys(ctx)
    rows = [(str(shot.shot), {stage: _label(plan, previous, stage, shot.shot) for stage in SHOT_STAGES}) for shot in ctx.shots()]
    return {"script": state, "stitch": _label(plan, previous, "stitch", None)}, rows, list(ctx.notes)
