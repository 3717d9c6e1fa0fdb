"""The script stage: generate ``screenplay.yaml`` once, then respect the user's edits to it."""
from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from pipeline.config import screenplay_file
from pipeline.config.source import select_text
from pipeline.errors import UserError
from pipeline.run.context import SHARED_SCREENPLAYS, RunContext, make_command
from pipeline.run.jobs import Job, Outcome, run_job, stage_key
from pipeline.store import Freshness
from stages.contracts import ScriptRequest
from stages.script.checked import written


def script_job(ctx: RunContext) -> Job:
    """Writing the screenplay from the selected text and the project's characters and style."""
    project = ctx.project
    text = select_text(ctx.loaded)
    request = ScriptRequest(
        title=project.title or project.name, text=text, characters=project.characters, style=project.style,
        seed=project.seed,
    )
    inputs = request.model_dump(mode="json", exclude={"text"}) | {"text": hashlib.sha256(text.encode()).hexdigest()}
    backend = ctx.loaded.backends["script"]

    def make(paths):
        screenplay = written(backend, request)  # a screenplay its models refuse is an InvalidScreenplay, exit 1
        paths["main"].write_text(screenplay_file.dump(screenplay), encoding="utf-8")
        return {"scenes": len(screenplay.scenes), "shots": len(screenplay.shots())}

    return Job("script", None, stage_key(ctx, "script", inputs), {"main": ".yaml"}, make, request)


def script_state(ctx: RunContext, job: Job) -> Freshness:
    """CACHED when screenplay.yaml is current (or holds user edits we keep), else STALE or MISSING."""
    files = ctx.screenplay_files
    if not files.path.is_file():
        return Freshness.MISSING
    if files.generated_from() == job.key or files.edited():
        return Freshness.CACHED
    return Freshness.STALE


def ensure_screenplay(ctx: RunContext, run: bool, force: bool = False, job: Job | None = None) -> Outcome | None:
    """Load the screenplay, (re)generating it when it is missing, stale or forced; never lose edits.

    ``job`` is the script job when the caller already made it (making it reads the source text).
    """
    files = ctx.screenplay_files
    job = job or script_job(ctx)
    state = script_state(ctx, job)
    if state is Freshness.CACHED and not force:
        if files.edited() and files.generated_from() != job.key:
            ctx.notes.append(
                "the project's script inputs changed since screenplay.yaml was written, but it holds your edits, "
                "so it was kept; `--force script` regenerates it (your version is backed up first)"
            )
        ctx.screenplay = screenplay_file.load(files.path)
        return None
    if not run and state is Freshness.STALE:
        ctx.notes.append("the script's inputs changed, but this run does not include the script stage: used "
                         "screenplay.yaml as it is")
        ctx.screenplay = screenplay_file.load(files.path)
        return None
    if not run:
        raise UserError(
            f"the screenplay is {state.value}: {files.path}",
            f"run `{make_command(ctx, 'script')}` first",
        )
    outcome = run_job(ctx, job, force=force)
    if files.edited():
        backup = files.backup()
        ctx.notes.append(f"screenplay.yaml had your edits; they were saved to {backup} before it was regenerated")
    files.write_generated(ctx.store.path_of(outcome.artifact).read_text(encoding="utf-8"), job.key)
    ctx.screenplay = screenplay_file.load(files.path)
    return outcome


def script_outcome(ctx: RunContext) -> Outcome | None:
    """The cached script artifact screenplay.yaml was generated from (None when there is none), for the manifest."""
    key = ctx.screenplay_files.generated_from()
    record = ctx.store.load("script", key) if key else None
    return Outcome("script", None, key, record, computed=False, wall_s=0.0) if key and record else None


def share_screenplay(ctx: RunContext) -> str:
    """Keep the screenplay this run uses in the store, keyed by its text, so that workers on other machines
    (and workers here, while the user edits screenplay.yaml) read exactly this one; its key."""
    assert ctx.screenplay is not None, "the screenplay is loaded before it is shared"
    text = screenplay_file.dump(ctx.screenplay)  # what this run parsed, whatever the file holds by now
    key = screenplay_file.text_digest(text)

    def write(paths: dict[str, Path]) -> dict[str, Any]:
        paths["main"].write_text(text, encoding="utf-8")
        return {"shots": len(ctx.shots())}

    if ctx.store.load(SHARED_SCREENPLAYS, key) is None:
        ctx.store.produce(SHARED_SCREENPLAYS, key, {"main": ".yaml"}, write)
    return key
