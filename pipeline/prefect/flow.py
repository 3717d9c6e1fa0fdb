"""The Prefect flow: thin tasks per stage and shot; retries and concurrency are configured here only."""
from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from contextlib import nullcontext
from pathlib import Path
from typing import Any, cast

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.futures import PrefectFuture
from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings
from prefect.task_runners import TaskRunner, ThreadPoolTaskRunner

from pipeline.outputs.finish import finish_run, sheet_in_background
from pipeline.outputs.manifest import RunSummary
from pipeline.plan.graph import FILM_STAGE, SHOT_GRAPH
from pipeline.plan.planner import Slot, Status, plan_to_run
from pipeline.plan.selection import Selection, make_selection
from pipeline.prefect import early_server
from pipeline.prefect.artifacts import publish_artifacts
from pipeline.run import progress
from pipeline.run.context import RunContext, RunRef, context_for, open_context, register
from pipeline.run.disk import stops_when_full
from pipeline.run.jobs import Job, Outcome, run_job
from pipeline.run.lock import out_folder_lock
from pipeline.run.script import ensure_screenplay, script_outcome, share_screenplay
from stages.contracts import Shot
from stages.errors import ContentRejected

# Transient faults are retried inside each task by the run's Desk (it honours a provider's Retry-After);
# Prefect's own retries would re-run cached-input checks and ignore it. Results live in the store, not Prefect.


def _reported(outcome: Outcome) -> Outcome:
    progress.done(outcome.stage, outcome.shot, outcome.computed)
    return outcome


def _shot_job(ctx: RunContext, stage: str, number: int, make_job: Callable[[], Job], force: bool,
              upstream: tuple[Outcome, ...] = ()) -> Outcome:
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


@task(name="shot", task_run_name="{stage} · shot {number:02d}", cache_policy=NO_CACHE, persist_result=False)
def shot_task(run: RunRef, stage: str, shot: Shot, number: int, upstream: tuple[Outcome, ...], force: bool) -> Outcome:
    """Make one shot's result of ``stage`` from its ``upstream`` results (the graph says which)."""
    ctx = context_for(run)
    made_from = {o.stage: o.artifact for o in upstream if not o.refused}
    return _shot_job(ctx, stage, number, lambda: SHOT_STAGE_NAMED[stage].job(ctx, shot, made_from), force, upstream)


SHOT_STAGE_NAMED = {stage.name: stage for stage in SHOT_GRAPH}
SHOT_TASKS = {stage.name: shot_task.with_options(name=stage.name) for stage in SHOT_GRAPH}


@task(name=FILM_STAGE.name, task_run_name=FILM_STAGE.name + " · film", cache_policy=NO_CACHE, persist_result=False)
def film_task(ctx: RunContext, parts: list[tuple[Shot, dict[str, Outcome]]], force: bool) -> Outcome:
    """Cut, subtitle, mix and export the film."""
    records = [(shot, {stage: o.artifact for stage, o in up.items()}) for shot, up in parts]
    return _reported(run_job(ctx, FILM_STAGE.job(ctx, records), force))


def run_stages(ctx: RunContext, run: RunRef, sel: Selection, remote: bool) -> dict[Slot, Outcome]:
    """Submit the stage tasks for every shot that needs work, each waiting on the results it is made from;
    cached results pass straight through. ``remote``: tasks run in other processes (Dask), so their progress
    is reported here as they finish."""
    plan = plan_to_run(ctx, sel)
    counts: dict[str, tuple[int, int]] = {}
    for (stage, _), status in plan.status.items():
        to_make, total = counts.get(stage, (0, 0))
        counts[stage] = (to_make + (status in (Status.RUN, Status.PENDING)), total + 1)
    progress.planned(counts)
    results: dict[Slot, Any] = {}
    for shot in ctx.shots():
        n = shot.shot
        for shot_stage in SHOT_GRAPH:
            slot = (shot_stage.name, n)
            todo = plan.status.get(slot)
            if todo in (Status.RUN, Status.PENDING):
                upstream = tuple(results[(need, n)] for need in shot_stage.needs)
                results[slot] = SHOT_TASKS[shot_stage.name].submit(run, shot_stage.name, shot, n, upstream,
                                                                   sel.forced(shot_stage.name, n))
            elif todo is Status.CACHED:
                results[slot] = plan.cached(slot)
    outcomes = {key: value if isinstance(value, Outcome) else value.result() for key, value in results.items()}
    if remote:
        for key, value in results.items():
            if not isinstance(value, Outcome):
                _reported(outcomes[key])
    film: Slot = (FILM_STAGE.name, None)
    todo = plan.status.get(film)
    if todo in (Status.RUN, Status.PENDING):
        parts = [(s, {need: outcomes[(need, s.shot)] for need in FILM_STAGE.needs}) for s in ctx.shots()]
        parts = [(s, up) for s, up in parts if not any(o.refused for o in up.values())]
        if parts:  # the film goes on without refused shots; the summary lists them
            sheet = sheet_in_background(ctx, outcomes)
            outcomes[film] = film_task(ctx, parts, sel.forced(FILM_STAGE.name, None))
            sheet.join()
    elif todo is Status.CACHED:
        outcomes[film] = plan.cached(film)
    return outcomes


def _run_name() -> str:
    """The flow run's name: the label given, else the project file's name and the time (runs from the UI)."""
    from prefect.runtime import flow_run

    params = flow_run.parameters
    return params.get("label") or f"{Path(params['project']).stem} · {time.strftime('%m-%d %H:%M:%S')}"


# Served runs use this default runner; local work stays bounded by the Desk's slots (the project's workers).
@flow(name="film", flow_run_name=_run_name, persist_result=False, log_prints=False, validate_parameters=False,
      task_runner=cast("TaskRunner[PrefectFuture[Any]]", ThreadPoolTaskRunner(max_workers=16)))
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
) -> RunSummary:
    """Make (or remake the stale parts of) a film; returns the run summary."""
    started = time.perf_counter()
    ctx = open_context(Path(project), Path(out) if out else None, budget)
    ctx.desk.on_retry = _log_retry
    sel = make_selection(only, force, shots, until)
    # `film make` holds the lock already (this flow runs in its process); a run served by `film serve` takes it
    with stops_when_full(ctx.out_dir, ctx.store.root), \
            out_folder_lock(ctx.out_dir, get_run_logger().warning, _served_command()):
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


def _served_command() -> str:
    """What a waiting run is told this run is: its flow run's name, as the Prefect UI shows it."""
    from prefect.runtime import flow_run

    return f"Prefect flow run '{flow_run.name}'"


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


def run_flow(ctx: RunContext, sel_args: dict[str, Any], runner: str | None = None) -> RunSummary:
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
