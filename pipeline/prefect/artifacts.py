"""Prefect artifacts that make a run legible in the UI: the screenplay, the contact sheet, the ledger, the film.

``publish_artifacts`` runs at the end of the flow, after ``finish_run``. Every artifact is keyed by the
project name (``film-<name>-screenplay``, ``-contact-sheet``, ``-ledger``, ``-film``, ``-summary``), so
each run adds a new version of the same five artifacts; the contact sheet (a ~250 KB data URI for a long
film) only when it changed: its digest is in the artifact's description, and an unchanged sheet leaves the
key's latest version as it is. A part that is missing (no film after
``--until images``, no narration yet, a refused shot) is left out or left blank; a failure to publish
one artifact is logged and never fails the run. Only the project, the screenplay and the run summary go
in: no settings, no environment.

The Prefect UI renders markdown images straight from their ``src`` (no URL filter on image tokens), so
the contact sheet goes in as a downscaled JPEG data URI, next to a file:// link to the full PNG.
"""
from __future__ import annotations

import base64
import hashlib
import io
import logging
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pipeline.outputs.manifest import RunSummary
from pipeline.plan.planner import Slot
from pipeline.run.context import RunContext
from pipeline.run.jobs import Outcome
from stages.registry import STAGES

SHEET_WIDTH = 1200  # px: the contact sheet's thumbnail in the UI
SHEET_QUALITY = 80  # JPEG quality of that thumbnail
MAX_DATA_URI = 900_000  # characters: keeps the markdown artifact under ~1 MB
ARTIFACTS = ("screenplay", "contact-sheet", "ledger", "film", "summary")


def artifact_key(project_name: str, what: str) -> str:
    """A valid Prefect artifact key (lowercase letters, digits, dashes) for one artifact of a project."""
    slug = re.sub(r"[^a-z0-9]+", "-", f"film-{project_name}-{what}".lower())
    return re.sub(r"-{2,}", "-", slug).strip("-")


def publish_artifacts(ctx: RunContext, outcomes: dict[Slot, Outcome], summary: RunSummary) -> None:
    """Create the run's artifacts on the current flow run (does nothing outside one)."""
    from prefect import artifacts
    from prefect.context import get_run_context
    from prefect.exceptions import MissingContextError

    try:
        get_run_context()
    except MissingContextError:
        return
    name = ctx.project.name

    def table() -> None:
        rows = screenplay_rows(ctx, outcomes)
        if rows:
            _create(artifacts.create_table_artifact, rows, key=artifact_key(name, "screenplay"),
                    description=f"**{name}**: the screenplay, one row per shot")

    def sheet() -> None:
        path = contact_sheet_path(summary)
        if path is None:
            return
        key, digest = artifact_key(name, "contact-sheet"), sheet_digest(summary.project, path)
        if published_sheet_digest(_latest(key)) == digest:
            return  # the key's latest version shows this very sheet: no copy of it per run
        _create(artifacts.create_markdown_artifact, contact_sheet_markdown(summary), key=key,
                description=f"**{name}**: every shot's still (sheet {digest})")

    def ledger() -> None:
        _create(artifacts.create_table_artifact, ledger_rows(outcomes, summary), key=artifact_key(name, "ledger"),
                description=f"**{name}**: jobs, work seconds and spend per stage")

    def film() -> None:
        link = film_link(summary)
        if link:
            _create(artifacts.create_link_artifact, link[0], link_text=link[1], key=artifact_key(name, "film"),
                    description=f"**{name}**: the finished film")

    def overview() -> None:
        _create(artifacts.create_markdown_artifact, summary_markdown(ctx, summary), key=artifact_key(name, "summary"),
                description=f"**{name}**: outputs and refused shots")

    for what, make in (("screenplay", table), ("contact sheet", sheet), ("ledger", ledger), ("film link", film),
                       ("summary", overview)):
        _guarded(what, make)


def _create(create: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
    """Create an artifact now, from this (sync) flow: Prefect's artifact functions dispatch on ``_sync``."""
    create(*args, _sync=True, **kwargs)


def _latest(key: str) -> Any:
    """The latest version of the artifact ``key`` (None when there is none), read from this (sync) flow."""
    from prefect.artifacts import Artifact

    get: Callable[..., Any] = Artifact.get  # dispatches on ``_sync`` like the artifact functions
    return get(key=key, _sync=True)


def _guarded(what: str, make: Callable[[], None]) -> None:
    """Artifacts only describe the run: one that cannot be made is logged, never fatal."""
    try:
        make()
    except Exception as exc:  # noqa: BLE001 - the film is made; its description must not fail the run
        _logger().warning("could not publish the %s artifact: %s: %s", what, type(exc).__name__, exc)


def _logger() -> logging.Logger | logging.LoggerAdapter:
    from prefect import get_run_logger

    try:
        return get_run_logger()
    except Exception:  # noqa: BLE001 - no run context: the module's own logger
        return logging.getLogger(__name__)


def shot_status(mine: dict[str, Outcome]) -> str:
    """One shot's status in this run: 'refused: <stage>: <reason>', 'computed', 'cached' or '' (not in this run)."""
    refused = [o for o in mine.values() if o.refused]
    if refused:  # the stage that was refused itself, rather than those skipped because of it
        first = min(refused, key=lambda o: (str(o.refused).startswith("skipped:"), STAGES.index(o.stage)))
        return f"refused: {first.stage}: {first.refused}"
    if any(o.computed for o in mine.values()):
        return "computed"
    return "cached" if mine else ""


def screenplay_rows(ctx: RunContext, outcomes: dict[Slot, Outcome]) -> list[dict[str, Any]]:
    """The screenplay as table rows, one per shot, with its narration length and this run's status."""
    if ctx.screenplay is None:
        return []
    rows = []
    for scene in ctx.screenplay.scenes:
        for shot in scene.shots:
            mine = {stage: o for (stage, n), o in outcomes.items() if n == shot.shot}
            voice = mine.get("narration")
            duration = voice.record.result.get("duration") if voice and voice.record else None
            rows.append({
                "shot": shot.shot,
                "scene": scene.scene,
                "speaker": shot.speaker,
                "narration": shot.narration,
                "image prompt": shot.image_prompt,
                "duration (s)": round(duration, 2) if isinstance(duration, (int, float)) else None,
                "characters": ", ".join(shot.characters),
                "status": shot_status(mine),
            })
    return rows


def ledger_rows(outcomes: dict[Slot, Outcome], summary: RunSummary) -> list[dict[str, Any]]:
    """Per stage: jobs computed, cached and refused, work seconds and spend; then a total row."""
    work = summary.stage_work_seconds
    by_stage = summary.spend.by_stage
    counts: dict[str, list[int]] = {}
    for (stage, _), o in outcomes.items():
        tally = counts.setdefault(stage, [0, 0, 0])
        tally[2 if o.refused else 0 if o.computed else 1] += 1
    seen = set(counts) | set(work) | set(by_stage)
    order = [s for s in STAGES if s in seen] + sorted(seen - set(STAGES))
    rows: list[dict[str, Any]] = []
    for stage in order:
        computed, cached, refused = counts.get(stage, (0, 0, 0))
        rows.append({"stage": stage, "jobs computed": computed, "jobs cached": cached, "jobs refused": refused,
                     "work seconds": round(float(work.get(stage, 0.0)), 3),
                     "spend USD": round(float(by_stage.get(stage, 0.0)), 6)})
    total_usd = summary.spend.total_usd
    rows.append({"stage": "total", **{column: sum(r[column] for r in rows) for column in
                                      ("jobs computed", "jobs cached", "jobs refused")},
                 "work seconds": round(sum(r["work seconds"] for r in rows), 3),
                 "spend USD": round(float(total_usd), 6)})
    return rows


def film_link(summary: RunSummary) -> tuple[str, str] | None:
    """The file:// URL of the finished film and its link text, or None when this run has no film."""
    path = summary.outputs.get("film")
    if not path or not Path(path).is_file():
        return None
    seconds = summary.film_seconds
    length = f" ({seconds:.1f} s)" if seconds is not None else ""
    return Path(path).resolve().as_uri(), f"film.mp4{length}"


def sheet_data_uri(path: Path, width: int = SHEET_WIDTH, quality: int = SHEET_QUALITY,
                   limit: int = MAX_DATA_URI) -> str:
    """A JPEG data URI of an image, at most ``width`` px wide, shrunk further until it fits in ``limit`` chars."""
    from PIL import Image

    with Image.open(path) as image:
        image = image.convert("RGB")
    while True:
        if image.width > width:
            image = image.resize((width, max(1, round(image.height * width / image.width))), Image.Resampling.LANCZOS)
        buffer = io.BytesIO()
        image.save(buffer, format="JPEG", quality=quality, optimize=True)
        uri = "data:image/jpeg;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")
        if len(uri) <= limit or width <= 200:
            return uri
        width, quality = int(image.width * 0.75), max(50, quality - 10)


def contact_sheet_path(summary: RunSummary) -> Path | None:
    """The run's contact sheet (absolute), or None when it has none."""
    path = summary.outputs.get("contact_sheet")
    return Path(path).resolve() if path and Path(path).is_file() else None


def sheet_digest(project: str, path: Path) -> str:
    """What the contact sheet artifact shows, in 16 hex digits: the project, where the sheet is, and its pixels."""
    digest = hashlib.sha256(f"{project}\0{path}\0".encode())
    digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def published_sheet_digest(latest: Any) -> str | None:
    """The sheet digest in the description of a contact sheet artifact (None: no artifact, or none noted)."""
    found = re.search(r"\(sheet ([0-9a-f]{16})\)", getattr(latest, "description", None) or "")
    return found.group(1) if found else None


def contact_sheet_markdown(summary: RunSummary) -> str | None:
    """Markdown showing the contact sheet inline (a JPEG thumbnail) with a link to the full PNG, or None."""
    sheet = contact_sheet_path(summary)
    if sheet is None:
        return None
    return (f"## Contact sheet: {summary.project}\n\n"
            f"![contact sheet]({sheet_data_uri(sheet)})\n\n"
            f"Full size: [{sheet.name}]({sheet.as_uri()}) (`{sheet}`)\n")


def _cell(text: Any) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def summary_markdown(ctx: RunContext, summary: RunSummary) -> str:
    """The run at a glance: length, work done, spend, every output, refused shots and how to fix them."""
    lines = [f"# {summary.project}", ""]
    seconds = summary.film_seconds
    lines.append(f"- film: {seconds:.1f} s" if seconds is not None else "- film: not made in this run")
    lines.append(f"- jobs: {summary.computed} computed, {summary.cached} cached or refused")
    lines.append(f"- time: {summary.wall_seconds:.1f} s wall, "
                 f"{sum(summary.stage_work_seconds.values()):.1f} s of stage work")
    budget = summary.spend.budget_usd
    lines.append(f"- spend: ${summary.spend.total_usd:.4f}"
                 + (f" of a ${budget:.2f} budget" if budget is not None else ""))
    outputs = summary.outputs
    if outputs:
        lines += ["", "## Outputs", "", "| output | path |", "| --- | --- |"]
        for what, path in outputs.items():
            lines.append(f"| {_cell(what)} | [{_cell(path)}]({Path(path).resolve().as_uri()}) |")
    if summary.refused:
        screenplay = outputs.get("screenplay") or str(ctx.screenplay_files.path)
        lines += ["", "## Refused shots", "", "The film was made without these shots.", "",
                  "| shot | stage | reason |", "| --- | --- | --- |"]
        lines += [f"| {'' if r.shot is None else r.shot} | {_cell(r.stage)} | {_cell(r.reason)} |"
                  for r in summary.refused]
        shots = ", ".join(sorted({str(r.shot) for r in summary.refused if r.shot is not None}, key=int))
        lines += ["", f"**Fix:** edit shot {shots} (its narration or image prompt) in `{screenplay}`, then run "
                  f"`film make {ctx.loaded.path} --out {ctx.out_dir}` again; only what changed is made."]
    if summary.notes:
        lines += ["", "## Notes", ""] + [f"- {note}" for note in summary.notes]
    return "\n".join(lines) + "\n"
