"""The public entry point: make a film from a project file, as `film make` does.

    from pipeline import make_film
    summary = make_film("projects/pride.yaml", until="images")

``make_film`` computes only what is not cached: with nothing to do it answers from the cache without
starting Prefect; otherwise it runs the Prefect flow (``pipeline.prefect.flow``) and returns its summary.
"""
from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from pipeline.errors import UserError
from pipeline.outputs.manifest import RunSummary
from pipeline.plan.planner import Slot
from pipeline.plan.selection import Selection, make_selection
from pipeline.run import progress
from pipeline.run.context import RunContext, open_context
from pipeline.run.disk import stops_when_full
from pipeline.run.jobs import Outcome
from pipeline.run.lock import out_folder_lock

RUNNERS = ("threads", "dask")


def make_film(project: str | Path, out: str | Path | None = None, *, only: Sequence[str] | None = None,
              force: Sequence[str] | None = None, shots: str | None = None, until: str | None = None,
              budget: float | None = None, runner: str | None = None, listener: progress.Listener | None = None,
              on_record: Callable[[str], None] | None = None,
              on_wait: Callable[[str], None] | None = None) -> RunSummary:
    """Make (or remake the stale parts of) the film of ``project``; the flags are `film make`'s. ``listener``
    hears of the flow's progress (a display such as the CLI's bars is entered while the flow runs); ``on_record``
    is told, in one line, where a run that starts a flow is recorded (a running `film ui`, or the Prefect home);
    ``on_wait`` is told when another run holds the output folder and this one waits for it (see
    ``pipeline.run.lock``; logged without it)."""
    from pipeline.outputs.finish import finish_run, record_wall_time
    from pipeline.run.readiness import check_backends_can_run, warm_up_backends

    started = time.perf_counter()
    if runner not in (None, *RUNNERS):
        raise UserError(f"--runner {runner}: unknown task runner", "use --runner threads or --runner dask")
    ctx = open_context(Path(project), Path(out) if out is not None else None, budget)
    with stops_when_full(ctx.out_dir, ctx.store.root), out_folder_lock(ctx.out_dir, on_wait or _log_wait):
        sel = make_selection(_listed(only), _listed(force), shots, until)
        check_backends_can_run(ctx.loaded, tuple(sel.run))
        cached = cached_outcomes(ctx, sel)
        if cached is not None:
            return finish_run(ctx, cached, started)
        from pipeline.prefect import early_server
        from pipeline.prefect import env as prefect_env

        url = prefect_env.configure(ctx.loaded.base_dir)
        if on_record is not None:
            on_record(prefect_env.where_recorded(url))
        early_server.start()  # comes up while Prefect is imported below
        from pipeline.prefect.flow import run_flow

        if (runner or ctx.project.runner.kind) == "threads":  # Dask workers import in their own processes
            warm_up_backends(ctx.loaded, tuple(sel.run))
        early_server.wait_until_ready()
        with progress.listening(listener):
            flags = {"only": _listed(only), "force": _listed(force), "shots": shots, "until": until}
            summary = run_flow(ctx, flags, runner)
        summary = summary.model_copy(update={"wall_seconds": round(time.perf_counter() - started, 3)})
        record_wall_time(ctx, summary.wall_seconds)
        return summary


def _log_wait(message: str) -> None:
    logging.getLogger("film.lock").warning(message)


def _listed(value: Sequence[str] | None) -> list[str] | None:
    return list(value) if value is not None else None


def cached_outcomes(ctx: RunContext, sel: Selection) -> dict[Slot, Outcome] | None:
    """Every outcome from the cache when nothing needs computing (no flow is started then), else None."""
    from pipeline.plan.planner import plan_to_run
    from pipeline.run.script import ensure_screenplay, script_job, script_outcome, script_state
    from pipeline.store import Freshness

    job = script_job(ctx)
    fresh = script_state(ctx, job) is Freshness.CACHED and not sel.forced("script", None)
    if "script" in sel.run and not fresh:
        return None
    ensure_screenplay(ctx, run=False, job=job)  # raises, naming the command to run, when there is none to use
    sel.check_shots(ctx.shots())
    plan = plan_to_run(ctx, sel)
    if plan.work():
        return None
    script = script_outcome(ctx)
    return plan.cached_outcomes() | ({("script", None): script} if script else {})
