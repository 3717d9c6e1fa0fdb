"""The Prefect flow: thin tasks per stage and shot; retries and concurrency are configured here only."""
from __future__ import annotations

import time
import uuid
from contextlib import nullcontext
from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings
from prefect.task_runners import ThreadPoolTaskRunner

from pipeline import early_server, progress
from pipeline.artifacts import publish_artifacts
from pipeline.context import RunContext, RunRef, context_for, open_context, register
from pipeline.finish import finish_run, sheet_in_background
from pipeline.jobs import Outcome, animation_job, image_job, narration_job, run_job, stitch_job
from pipeline.plan import Selection, make_selection, plan_to_run
from pipeline.script_stage import ensure_screenplay, script_outcome, share_screenplay
from stages.contracts import Shot
from stages.errors import ContentRejected

# Transient faults are retried inside each task by the run's Desk (it honours a provider's Retry-After);
# Prefect's own retries would re-run cached-input checks and ignore it.
SHOT_TASK = dict(cache_policy=NO_CACHE, persist_result=False)


def _reported(outcome: Outcome) -> Outcome:
    progress.done(outcome.stage, outcome.shot, outcome.computed)
    return outcome


def _shot_job(ctx: RunContext, stage: str, number: int, make_job, force: bool, upstream: tuple[Outcome, ...] = ()) -> Outcome:
    """Run one shot's job; a content refusal (here or upstream) becomes a refused outcome, not a failed run."""
    refused = next((o for o in upstream if o.refused), None)
    if refused is not None:
        outcome = Outcome.refusal(stage, number, f"skipped: {refused.stage} was refused")
    else:
        try:
            outcome = run_job(ctx, make_job(), force)
        except ContentRejected as exc:
            get_run_logger().warning("shot %02d %s refused: %s", number, stage, exc)
            outcome = Outcome.refusal(stage, number, str(exc))
    return _reported(outcome)


@task(name="script", task_run_name="script · screenplay", cache_policy=NO_CACHE, persist_result=False)
def script_task(ctx: RunContext, sel: Selection) -> Outcome | None:
    """Write or load the screenplay."""
    outcome = ensure_screenplay(ctx, run="script" in sel.run, force=sel.forced("script", None))
    return _reported(outcome) if outcome else script_outcome(ctx)


@task(name="images", task_run_name="images · shot {number:02d}", **SHOT_TASK)
def images_task(run: RunRef, shot: Shot, number: int, force: bool) -> Outcome:
    """Draw one shot's still."""
    ctx = context_for(run)
    return _shot_job(ctx, "images", number, lambda: image_job(ctx, shot), force)


@task(name="narration", task_run_name="narration · shot {number:02d}", **SHOT_TASK)
def narration_task(run: RunRef, shot: Shot, number: int, force: bool) -> Outcome:
    """Speak one shot's narration."""
    ctx = context_for(run)
    return _shot_job(ctx, "narration", number, lambda: narration_job(ctx, shot), force)


@task(name="animation", task_run_name="animation · shot {number:02d}", **SHOT_TASK)
def animation_task(run: RunRef, shot: Shot, number: int, image: Outcome, voice: Outcome, force: bool) -> Outcome:
    """Set one shot's still in motion for as long as its narration."""
    ctx = context_for(run)
    return _shot_job(ctx, "animation", number, lambda: animation_job(ctx, shot, image.record, voice.record), force,
                     (image, voice))


@task(name="stitch", task_run_name="stitch · film", **SHOT_TASK)
def stitch_task(ctx: RunContext, parts: list[tuple[Shot, Outcome, Outcome]], force: bool) -> Outcome:
    """Cut, subtitle, mix and export the film."""
    records = [(shot, clip.record, voice.record) for shot, clip, voice in parts]
    return _reported(run_job(ctx, stitch_job(ctx, records), force))


def _cached(plan, stage: str, shot: int | None) -> Outcome:
    return Outcome(stage, shot, plan.keys[(stage, shot)], plan.records[(stage, shot)], computed=False, wall_s=0.0)


def run_stages(ctx: RunContext, run: RunRef, sel: Selection, remote: bool) -> dict[tuple[str, int | None], Any]:
    """Submit the stage tasks for every shot that needs work; cached results pass straight through.
    ``remote``: tasks run in other processes (Dask), so their progress is reported here as they finish."""
    plan = plan_to_run(ctx, sel)
    counts: dict[str, tuple[int, int]] = {}
    for (stage, _), status in plan.status.items():
        todo, total = counts.get(stage, (0, 0))
        counts[stage] = (todo + (status in ("run", "pending")), total + 1)
    progress.planned(counts)
    tasks = {"images": images_task, "narration": narration_task}
    results: dict[tuple[str, int | None], Any] = {}
    for shot in ctx.shots():
        n = shot.shot
        for stage, fn in tasks.items():
            status = plan.status.get((stage, n))
            if status == "run":
                results[(stage, n)] = fn.submit(run, shot, n, sel.forced(stage, n))
            elif status == "cached":
                results[(stage, n)] = _cached(plan, stage, n)
        status = plan.status.get(("animation", n))
        if status in ("run", "pending"):
            upstream = (results[("images", n)], results[("narration", n)])
            results[("animation", n)] = animation_task.submit(run, shot, n, *upstream, sel.forced("animation", n))
        elif status == "cached":
            results[("animation", n)] = _cached(plan, "animation", n)
    outcomes = {key: value if isinstance(value, Outcome) else value.result() for key, value in results.items()}
    if remote:
        for key, value in results.items():
            if not isinstance(value, Outcome):
                _reported(outcomes[key])
    status = plan.status.get(("stitch", None))
    if status in ("run", "pending"):
        parts = [(s, outcomes[("animation", s.shot)], outcomes[("narration", s.shot)]) for s in ctx.shots()]
        parts = [part for part in parts if not (part[1].refused or part[2].refused)]
        if parts:  # the film goes on without refused shots; the summary lists them
            sheet = sheet_in_background(ctx, outcomes)
            outcomes[("stitch", None)] = stitch_task(ctx, parts, sel.forced("stitch", None))
            sheet.join()
    elif status == "cached":
        outcomes[("stitch", None)] = _cached(plan, "stitch", None)
    return outcomes


def _run_name() -> str:
    """The flow run's name: the label given, else the project file's name and the time (runs from the UI)."""
    from prefect.runtime import flow_run

    params = flow_run.parameters
    return params.get("label") or f"{Path(params['project']).stem} · {time.strftime('%m-%d %H:%M:%S')}"


# Served runs use this default runner; local work stays bounded by the Desk's slots (the project's workers).
@flow(name="film", flow_run_name=_run_name, persist_result=False, log_prints=False, validate_parameters=False,
      task_runner=ThreadPoolTaskRunner(max_workers=16))
def film_flow(
    project: str,
    out: str | None = None,
    only: list[str] | None = None,
    force: list[str] | None = None,
    shots: str | None = None,
    until: str | None = None,
    budget: float | None = None,
    label: str | None = None,
    remote: bool = False,
) -> dict[str, Any]:
    """Make (or remake the stale parts of) a film; returns the run summary."""
    started = time.perf_counter()
    ctx = open_context(Path(project), Path(out) if out else None, budget)
    ctx.desk.on_retry = _log_retry
    sel = make_selection(only, force, shots, until)
    ctx.store.sweep_temporaries(ctx.out_dir, ctx.out_dir / ".film")
    script = script_task(ctx, sel)
    sel.check_shots(ctx.shots())
    run = RunRef(str(ctx.loaded.path), str(ctx.out_dir), uuid.uuid4().hex, budget, share_screenplay(ctx))
    register(run, ctx)
    outcomes = run_stages(ctx, run, sel, remote)
    if script is not None:
        outcomes[("script", None)] = script
    summary = finish_run(ctx, outcomes, started)
    publish_artifacts(ctx, outcomes, summary)
    return summary


def _log_retry(stage: str, shot: int | None, attempt: int, delay: float, error: Exception) -> None:
    where = f"{stage} · shot {shot:02d}" if shot is not None else stage
    get_run_logger().warning("%s: attempt %d failed (%s); retrying in %.1f s", where, attempt, error, delay)
    progress.retrying(stage, shot, delay, str(error))


def pool_size(ctx: RunContext) -> int:
    """Threads for shot tasks: the local workers plus every cloud provider's concurrency limit."""
    providers = {b.provider: ctx.desk.slots_of(b) for b in ctx.loaded.backends.values() if b.provider}
    return min(64, ctx.project.workers + sum(providers.values()))


def task_runner(ctx: RunContext, kind: str | None = None) -> Any:
    """The project's task runner (or ``kind``): threads in this process, or Dask (a LocalCluster of
    worker processes, or the scheduler at ``runner.address``) so shots spread over machines."""
    config = ctx.project.runner
    if (kind or config.kind) == "threads":
        return ThreadPoolTaskRunner(max_workers=pool_size(ctx))
    from prefect_dask import DaskTaskRunner

    if config.address:
        return DaskTaskRunner(address=config.address)
    return DaskTaskRunner(cluster_kwargs={"n_workers": config.workers, "threads_per_worker": 1,
                                          "processes": True, "dashboard_address": None})


def run_flow(ctx: RunContext, sel_args: dict[str, Any], runner: str | None = None) -> dict[str, Any]:
    """Run the flow from this process; with threads, local work is bounded by the project's workers and
    cloud calls by each provider's concurrency limit (the Desk's slots), so the pool holds enough threads."""
    kind = runner or ctx.project.runner.kind
    configured = film_flow.with_options(task_runner=task_runner(ctx, kind))
    label = f"{ctx.project.name} · {time.strftime('%m-%d %H:%M:%S')}"
    with _without_heartbeats() if early_server.skips_heartbeats() else nullcontext():
        return configured(project=str(ctx.loaded.path), out=str(ctx.out_dir), label=label,
                          budget=ctx.desk.budget_usd, remote=kind == "dask", **sel_args)


def _without_heartbeats():
    """Settings for a run on its own server: heartbeats tell a lasting server that a run still lives, but this
    one ends with the run, and the flow would wait up to a second at its end for the heartbeat thread."""
    return temporary_settings(updates={PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None})
