"""`film`: make a film from a project file, check it, see what is cached, verify or collect its store, list
backends."""
from __future__ import annotations

import atexit
import logging
import os
import sys
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import typer

from pipeline.errors import FilmError, UserError
from stages.errors import AuthError, BudgetExceeded, ContentRejected, InputError, StageError

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="Turn a book chapter into a narrated, animated film.")

STAGE_HELP = "comma-separated stages: script,images,animation,narration,stitch"


@contextmanager
def reported_errors(debug: bool) -> Iterator[None]:
    """Turn our errors into a message and an exit code: 2 for the user's to fix, 1 for runtime failures."""
    from pipeline.report import console

    try:
        yield
    except KeyboardInterrupt:
        # the run's task threads wind down while the interpreter exits; a record one logs then (Prefect's "Finished
        # in state ...") fails in its API handler, and logging would print that failure's traceback
        logging.raiseExceptions = False
        console.print("[yellow]interrupted[/]: finished work is cached; run the same command again to continue")
        raise typer.Exit(130) from None
    except (FilmError, StageError) as exc:
        if debug:
            traceback.print_exc()
        code = 2 if isinstance(exc, (UserError, InputError, AuthError, BudgetExceeded, ContentRejected)) else 1
        console.print(f"[bold red]error:[/] {_escape(str(exc))}")
        if getattr(exc, "hint", ""):
            console.print(f"[bold]fix:[/] {_escape(exc.hint)}")
        raise typer.Exit(code) from None
    except typer.Exit:
        raise
    except Exception as exc:  # a bug or an unexpected failure: short message unless --debug
        if debug:
            traceback.print_exc()
        console.print(f"[bold red]failed:[/] {type(exc).__name__}: {_escape(str(exc))}")
        console.print("rerun with --debug for the traceback; finished work is cached")
        raise typer.Exit(1) from None


def _escape(text: str) -> str:
    from rich.markup import escape

    return escape(text)


@app.command()
def make(
    project: Path = typer.Argument(..., help="the project YAML file"),
    out: Path | None = typer.Option(None, "--out", help="output folder (default out/<project name>/)"),
    only: list[str] | None = typer.Option(None, "--only",
                                          help=f"run just these stages from cached upstream results; {STAGE_HELP}"),
    force: list[str] | None = typer.Option(None, "--force",
                                           help=f"recompute these stages even if cached; {STAGE_HELP}"),
    shots: str | None = typer.Option(None, "--shots", help="limit --force/--only to these shots, e.g. 3,5-7"),
    until: str | None = typer.Option(None, "--until", help="stop after this stage (e.g. images for a storyboard)"),
    budget: float | None = typer.Option(None, "--budget", min=0,
                                        help="refuse any paid call that would take this run past USD"),
    estimate: bool = typer.Option(False, "--estimate", help="print the expected cost of the work to do, then stop"),
    runner: str | None = typer.Option(None, "--runner", help="threads or dask (default: the project's runner)"),
    debug: bool = typer.Option(False, "--debug", help="show tracebacks"),
) -> None:
    """Make the film, computing only what is not cached yet."""
    from pipeline.report import StageProgress, console, print_summary

    with reported_errors(debug):
        if estimate:
            from pipeline.plan.estimate import estimate_run
            from pipeline.report import print_estimate

            print_estimate(estimate_run(project, out, only, force, shots, until), budget)
            return
        from pipeline.api import make_film

        summary = make_film(project, out, only=only, force=force, shots=shots, until=until, budget=budget,
                            runner=runner, listener=StageProgress(),
                            on_record=lambda line: console.print(_escape(line)),
                            on_wait=lambda message: console.print(f"[yellow]{_escape(message)}[/]"))
        print_summary(summary)
    if summary.refused:
        raise typer.Exit(2)


@app.command()
def check(
    project: Path = typer.Argument(..., help="the project YAML file"),
    out: Path | None = typer.Option(None, "--out", help="output folder whose screenplay to check"),
    debug: bool = typer.Option(False, "--debug"),
) -> None:
    """Validate the project (and an existing screenplay) without running anything."""
    from pipeline.config.screenplay_file import load
    from pipeline.config.source import select_text
    from pipeline.report import console
    from pipeline.run.context import open_context
    from pipeline.run.readiness import check_backends_can_run

    with reported_errors(debug):
        ctx = open_context(project, out, create=False)
        check_backends_can_run(ctx.loaded)
        text = select_text(ctx.loaded)
        console.print(f"[green]ok[/]: project '{ctx.project.name}' ({len(text.split())} words of text selected)")
        if ctx.store.remote:
            console.print(f"[green]ok[/]: artifact store {ctx.store.remote.url} (mirrored in {ctx.store.root})")
        if ctx.screenplay_files.path.is_file():
            screenplay = load(ctx.screenplay_files.path)
            console.print(f"[green]ok[/]: screenplay {ctx.screenplay_files.path}: {len(screenplay.scenes)} scenes, "
                          f"{len(screenplay.shots())} shots")


@app.command()
def status(
    project: Path = typer.Argument(..., help="the project YAML file"),
    out: Path | None = typer.Option(None, "--out", help="output folder"),
    debug: bool = typer.Option(False, "--debug"),
) -> None:
    """Show, per stage and shot, what is cached, stale or missing."""
    from pipeline.plan.status import status_rows
    from pipeline.report import print_status

    with reported_errors(debug):
        print_status(*status_rows(project, out))


@app.command()
def verify(
    project: Path = typer.Argument(..., help="the project YAML file"),
    out: Path | None = typer.Option(None, "--out", help="output folder"),
    repair: bool = typer.Option(False, "--repair", help="drop damaged results so the next film make makes them again"),
    drop_paid: bool = typer.Option(False, "--drop-paid", help="with --repair: drop damaged paid results too (the "
                                                              "next film make buys them again)"),
    debug: bool = typer.Option(False, "--debug"),
) -> None:
    """Check every file the current film uses against its record (size and digest); exit 1 when one is damaged."""
    from pipeline.outputs.upkeep import verify as verify_film
    from pipeline.report import print_findings

    with reported_errors(debug):
        verified = verify_film(project, out, repair, drop_paid)
        print_findings(verified)
    if not verified.sound:
        raise typer.Exit(1)


@app.command()
def gc(
    project: Path = typer.Argument(..., help="the project YAML file"),
    out: Path | None = typer.Option(None, "--out", help="output folder"),
    dry_run: bool = typer.Option(False, "--dry-run", help="say what would be removed, remove nothing"),
    shared_with: list[Path] | None = typer.Option(None, "--shared-with", help="every other project file that uses "
                                                  "the same store folder (required for a store: folder)"),
    debug: bool = typer.Option(False, "--debug"),
) -> None:
    """Remove from the store what the current screenplay does not use (old stills, clips, films)."""
    from pipeline.outputs.upkeep import collect_garbage
    from pipeline.report import print_collected

    with reported_errors(debug):
        print_collected(*collect_garbage(project, out, dry_run, list(shared_with or ())), dry_run)


@app.command()
def ui(
    project: Path | None = typer.Argument(
        None, help="a project file or folder: its workspace's runs are shown (default: the current folder's)"),
    port: int = typer.Option(4200, "--port", min=1, max=65535, help="the port on 127.0.0.1 to serve on"),
    debug: bool = typer.Option(False, "--debug", help="show tracebacks"),
) -> None:
    """Start the Prefect UI on 127.0.0.1; while it runs, `film make` reports its runs there. Ctrl-C stops it."""
    from pipeline.prefect.ui import serve as serve_ui

    with reported_errors(debug):
        serve_ui(project, port)


@app.command()
def serve(
    project: Path | None = typer.Argument(
        None, help="a project file: its workspace's Prefect home is used (default: this folder's)"),
    name: str = typer.Option("film", "--name", help="deployment name (film/<name> in the UI)"),
    limit: int = typer.Option(1, "--limit", min=1, help="runs at once"),
    debug: bool = typer.Option(False, "--debug", help="show tracebacks"),
) -> None:
    """Serve the film flow as a deployment: start runs (and per-stage, per-shot reruns) from the Prefect UI."""
    from pipeline.prefect.serve import serve as serve_flow
    from pipeline.prefect.ui import project_dir

    with reported_errors(debug):
        serve_flow(project_dir(project), name, limit)


@app.command()
def backends() -> None:
    """List every registered backend per stage and whether it can run here."""
    from pipeline.report import print_backends
    from stages.registry import STAGES, backend_class, table

    rows = []
    for stage in STAGES:
        for name, target in table()[stage].items():
            try:
                problems = backend_class(stage, name).problems()
            except Exception as exc:  # a broken plugin must not hide the others
                problems = [f"cannot load: {exc}"]
            rows.append((stage, name, target, problems))
    print_backends(rows)


_exit_status = [1]  # what the process exits with: 1 unless the command ends with a status


def main() -> None:
    """Console entry point."""
    atexit.register(_exit_without_teardown)  # the first registered runs last, after every other exit handler
    try:
        app()
    except SystemExit as exc:
        _exit_status[0] = 0 if exc.code is None else exc.code if isinstance(exc.code, int) else 1
        sys.exit(exc.code)


def _exit_without_teardown() -> None:
    """End the process once the exit handlers are done (the run's server stopped, Prefect's logs and events
    sent): tearing the interpreter down after that only finalises imported native libraries, ~0.6 s."""
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # closed or a broken pipe: nothing more can reach it
            pass
    os._exit(_exit_status[0])


@app.command()
def export(
    project: Path = typer.Argument(..., help="the project YAML file"),
    out: Path | None = typer.Option(None, "--out", help="output folder (default out/<project name>/)"),
    fmt: str = typer.Option(..., "--format", help="otio, fcp7xml (Final Cut Pro 7 XML) or edl (CMX 3600)"),
    output: Path | None = typer.Option(None, "-o", "--output",
                                       help="file to write (default: film.otio, .xml or .edl in the output folder)"),
    debug: bool = typer.Option(False, "--debug", help="show tracebacks"),
) -> None:
    """Write the finished film's cut as a timeline an editor opens (media paths relative to the file)."""
    from pipeline.outputs.editing import export_timeline
    from pipeline.report import console

    with reported_errors(debug):
        written = export_timeline(project, out, fmt, output)
        console.print(f"[green]ok[/]: {_escape(str(written))}")
