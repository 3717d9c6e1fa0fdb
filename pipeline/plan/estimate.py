"""`film make --estimate`: what the work still to do would cost, priced before any paid call.

The shots come from screenplay.yaml when there is one; otherwise from the project's script backend when
it is free (run in memory, nothing written), else from the offline `rules` screenwriter as a stand-in for
the paid one. Narration lengths not yet known are taken at a reading pace of WORDS_PER_SECOND.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, cast

from pipeline.config import screenplay_file
from pipeline.plan.planner import Status, plan_to_run
from pipeline.plan.pricing import price_lines
from pipeline.plan.selection import make_selection
from pipeline.run.context import RunContext, open_context
from pipeline.run.jobs import clip_seconds, image_job, narration_job
from pipeline.run.script import script_job, script_state
from pipeline.store import Freshness
from stages.contracts import AnimationRequest, Screenplay, ScriptWriter

WORDS_PER_SECOND = 2.6


def _screenplay(ctx: RunContext, request: Any) -> tuple[Screenplay, str]:
    """The shots to price, and where they came from."""
    files = ctx.screenplay_files
    if files.path.is_file():
        return screenplay_file.load(files.path), f"shots from {files.path}"
    backend = ctx.loaded.backends["script"]
    if backend.provider is None:
        return cast(ScriptWriter, backend).write(request), f"shots from the {backend.name} screenwriter (not saved)"
    from stages.script.rules import RulesScriptWriter

    return RulesScriptWriter().write(request), "shot count approximated by the offline rules screenwriter"


def _animation_request(ctx: RunContext, shot, plan) -> AnimationRequest:
    voice = plan.records.get(("narration", shot.shot))
    seconds = voice.duration if voice else len(shot.narration.split()) / WORDS_PER_SECOND
    project = ctx.project
    return AnimationRequest(number=shot.shot, image_path=Path("still.png"), duration=clip_seconds(ctx, seconds),
                            motion=shot.motion,
                            format=project.format.video(), seed=project.seed + shot.shot,
                            description=shot.image_prompt)


def estimate_run(project: Path, out: Path | None, only, force, shots, until) -> dict[str, Any]:
    """Price every paid job the same `film make` would run: lines per stage and shot, and the total."""
    ctx = open_context(project, out)
    sel = make_selection(only, force, shots, until)
    job = script_job(ctx)
    lines: list[dict[str, Any]] = []

    def price(stage: str, shot: int | None, request: Any) -> None:
        lines.extend(price_lines(ctx, stage, shot, request))

    if "script" in sel.run and (sel.forced("script", None) or script_state(ctx, job) is not Freshness.CACHED):
        price("script", None, job.request)
    ctx.screenplay, source = _screenplay(ctx, job.request)
    sel.check_shots(ctx.shots())
    plan = plan_to_run(ctx, sel)
    for shot in ctx.shots():
        todo = {stage for (stage, n), status in plan.status.items()
                if n == shot.shot and status in (Status.RUN, Status.PENDING)}
        if "images" in todo:
            price("images", shot.shot, image_job(ctx, shot).request)
        if "narration" in todo:
            price("narration", shot.shot, narration_job(ctx, shot).request)
        if "animation" in todo:
            price("animation", shot.shot, _animation_request(ctx, shot, plan))
    by_stage: dict[str, float] = {}
    for line in lines:
        by_stage[line["stage"]] = round(by_stage.get(line["stage"], 0.0) + line["usd"], 6)
    return {"project": ctx.project.name, "source": source, "shots": len(ctx.shots()), "lines": lines,
            "by_stage": by_stage, "total_usd": round(sum(by_stage.values()), 6)}
