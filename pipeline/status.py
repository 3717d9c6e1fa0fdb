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


def status_rows(project: Path, out: Path | None) -> tuple[list[tuple[str, dict[str, str]]], list[str]]:
    """Rows of the status table: the script, one per shot, and the film."""
    ctx = open_context(project, out)
    state = script_state(ctx, script_job(ctx))
    rows = [("script", {"images": state})]
    if state != "cached":
        return rows, list(SHOT_STAGES)
    ensure_screenplay(ctx, run=False)
    plan = make_plan(ctx, Selection(only=True))
    previous = previous_keys(ctx)
    for shot in ctx.shots():
        rows.append((str(shot.shot), {stage: _label(plan, previous, stage, shot.shot) for stage in SHOT_STAGES}))
    rows.append(("film", {"images": _label(plan, previous, "stitch", None)}))
    return rows, list(SHOT_STAGES)
