"""After the stages: publish the film, the subtitles and the contact sheet, and write the manifest."""
from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path

from pipeline.errors import RuntimeFailure
from pipeline.outputs.editing import write_film_timeline
from pipeline.outputs.manifest import (
    ArtifactEntry,
    Manifest,
    PaidCall,
    Refusal,
    RunSummary,
    ShotEntry,
    Spend,
    SpendTotals,
)
from pipeline.outputs.published import publish_if_changed
from pipeline.plan.planner import Slot, remember_keys
from pipeline.run.context import RunContext, force_command
from pipeline.run.jobs import Outcome
from pipeline.store import Record, digest, file_digest
from stages.files import write_json_atomic
from stages.registry import STAGES


def _checked_source(ctx: RunContext, source: Path, target: Path, made: Record, name: str = "main"
                    ) -> Callable[[], None]:
    """A check, run before a stored file is published, that its bytes are the ones it was made with."""
    def check() -> None:
        if file_digest(source) != made.digest_of(name):
            raise RuntimeFailure(f"{target.name}: its source in the store ({source}) is damaged: its bytes are not "
                                 "the ones it was made with, so it was not published",
                                 f"make it again: {force_command(ctx, made.stage, [])}")
    return check


def _stills(ctx: RunContext, outcomes: dict[Slot, Outcome]) -> list[tuple[int, Record]]:
    """The run's stills in film order, as the screenplay lists them."""
    place = {shot.shot: i for i, shot in enumerate(ctx.shots())}
    return sorted(((n, o.artifact) for (stage, n), o in outcomes.items() if stage == "images" and not o.refused
                   and n is not None), key=lambda still: place.get(still[0], len(place)))


def contact_sheet_path(ctx: RunContext, outcomes: dict[Slot, Outcome]) -> Path | None:
    """Where the contact sheet of these stills is kept in the store (None without stills)."""
    stills = _stills(ctx, outcomes)
    if not stills:
        return None
    return ctx.store.root / "contact" / f"{digest([[n, record.digest] for n, record in stills])}.png"


def _stored_sheet(ctx: RunContext, outcomes: dict[Slot, Outcome]) -> Path | None:
    """The contact sheet of the run's stills in the store (made when missing), or None without stills."""
    sheet = contact_sheet_path(ctx, outcomes)
    if sheet is not None and not sheet.exists():
        from pipeline.outputs.contact_sheet import make_contact_sheet

        sheet.parent.mkdir(parents=True, exist_ok=True)
        make_contact_sheet([(n, ctx.store.path_of(record)) for n, record in _stills(ctx, outcomes)], sheet)
    return sheet


def sheet_in_background(ctx: RunContext, outcomes: dict[Slot, Outcome]) -> threading.Thread:
    """Start making the contact sheet while the film is stitched, so the run does not end waiting for it; a
    failure here is left for finish_run, which makes the sheet itself when it is missing and reports why."""
    def make() -> None:
        try:
            _stored_sheet(ctx, outcomes)
        except Exception:  # noqa: BLE001 - reported by finish_run's own attempt
            pass

    thread = threading.Thread(target=make, name="film-contact-sheet", daemon=True)
    thread.start()
    return thread


def _contact_sheet(ctx: RunContext, outcomes: dict[Slot, Outcome]) -> Path | None:
    sheet = _stored_sheet(ctx, outcomes)
    if sheet is None:
        return None
    target = ctx.out_dir / "contact_sheet.png"
    publish_if_changed(ctx.out_dir, sheet, target)
    return target


def record_wall_time(ctx: RunContext, seconds: float) -> None:
    """Put the whole command's wall time (what `film make` prints) into manifest.json's summary."""
    path = ctx.out_dir / "manifest.json"
    manifest = Manifest.model_validate_json(path.read_bytes())
    summary = manifest.summary.model_copy(update={"wall_seconds": seconds})
    write_json_atomic(path, manifest.model_copy(update={"summary": summary}).model_dump(mode="json"))


def _artifact(ctx: RunContext, o: Outcome) -> ArtifactEntry:
    record = o.record
    assert record is not None, "a refused outcome has no artifact"
    return ArtifactEntry(key=o.key, digest=record.digest, path=_shown_path(ctx, ctx.store.local_path(record)),
                         backend=record.info.backend, computed=o.computed,
                         wall_s=round(o.wall_s if o.computed else record.wall_s, 3), spend_usd=record.info.spend_usd)


def _shown_path(ctx: RunContext, path: Path) -> str:
    """A path as the manifest shows it: relative to the out folder when inside it."""
    return str(path.relative_to(ctx.out_dir)) if path.is_relative_to(ctx.out_dir) else str(path)


def _spend(ctx: RunContext) -> Spend:
    """What this run spent, in total, per stage and per shot (attempts that failed after paying included)."""
    desk = ctx.desk
    return Spend(total_usd=round(sum(s.usd for s in desk.spent), 6), budget_usd=desk.budget_usd,
                 by_stage=desk.spend_by("stage"), by_shot={str(k): v for k, v in desk.spend_by("shot").items()},
                 calls=tuple(PaidCall(**vars(s)) for s in desk.spent))


def _add_current_rest(ctx: RunContext, outcomes: dict[Slot, Outcome]) -> None:
    """Add to this run's outcomes every other result of the screenplay that is current in the cache, so that
    the manifest (and the Prefect artifacts) of a partial run (--until, --only, a no-op) still describe the
    whole output folder."""
    from pipeline.plan.graph import SHOT_STAGES
    from pipeline.plan.planner import make_plan
    from pipeline.plan.selection import Selection
    from pipeline.run.script import script_outcome

    everything = {("script", None), ("stitch", None)} | {(s, shot.shot) for shot in ctx.shots() for s in SHOT_STAGES}
    if everything <= outcomes.keys():
        return
    if ("script", None) not in outcomes and (script := script_outcome(ctx)) is not None:
        outcomes[("script", None)] = script
    for slot, outcome in make_plan(ctx, Selection(only=True)).cached_outcomes().items():
        outcomes.setdefault(slot, outcome)


def finish_run(ctx: RunContext, outcomes: dict[Slot, Outcome], started: float) -> RunSummary:
    """Publish outputs, write ``manifest.json`` and return the run summary; ``outcomes`` gains the current
    cached results the run did not touch."""
    out = ctx.out_dir
    _add_current_rest(ctx, outcomes)
    outputs: dict[str, str] = {"screenplay": str(ctx.screenplay_files.path)}
    stitch = outcomes.get(("stitch", None))
    if stitch is not None and stitch.record is not None:
        for name, target in (("main", out / "film.mp4"), ("srt", out / "film.srt")):
            source = ctx.store.path_of(stitch.record, name)
            publish_if_changed(out, source, target, _checked_source(ctx, source, target, stitch.record, name))
        outputs |= {"film": str(out / "film.mp4"), "subtitles": str(out / "film.srt")}
        timeline = write_film_timeline(ctx, outcomes, stitch)
        if timeline is not None:
            outputs["timeline"] = str(timeline)
    sheet = _contact_sheet(ctx, outcomes)
    if sheet:
        outputs["contact_sheet"] = str(sheet)
    shots = []
    for shot in ctx.shots():
        mine = {stage: o for (stage, n), o in outcomes.items() if n == shot.shot}
        voice = mine.get("narration")
        shots.append(ShotEntry(
            shot=shot.shot, speaker=shot.speaker,
            duration=voice.record.duration if voice and voice.record else None,
            artifacts={stage: _artifact(ctx, o) for stage, o in mine.items() if not o.refused},
            refused={stage: o.refused for stage, o in mine.items() if o.refused},
        ))
    refused = [Refusal(shot=o.shot, stage=o.stage, reason=o.refused)
               for o in sorted(outcomes.values(), key=lambda o: (o.shot or 0, STAGES.index(o.stage))) if o.refused]
    computed = sum(o.computed for o in outcomes.values())
    stage_wall: dict[str, float] = {}
    for (stage, _), o in outcomes.items():
        stage_wall[stage] = round(stage_wall.get(stage, 0.0) + (o.wall_s if o.computed else 0.0), 3)
    film = stitch.record if stitch is not None else None
    spend = _spend(ctx)
    summary = RunSummary(
        project=ctx.project.name,
        film_seconds=film.duration if film else None,
        film_made=bool(film and stitch and stitch.computed),
        loudness_lufs=film.loudness_lufs if film else None,
        wall_seconds=round(time.perf_counter() - started, 3),
        computed=computed,
        cached=len(outcomes) - computed,
        stage_work_seconds=stage_wall,
        outputs=outputs,
        notes=tuple(ctx.notes),
        refused=tuple(refused),
        spend=SpendTotals(**spend.model_dump(exclude={"calls"})),
    )
    script = outcomes.get(("script", None))
    manifest = Manifest(
        summary=summary,
        backends={stage: backend.identity() for stage, backend in ctx.loaded.backends.items()},
        shots=tuple(shots),
        spend=spend,
        stitch=_artifact(ctx, stitch) if film and stitch else None,
        script=_artifact(ctx, script) if script is not None and script.record is not None else None,
        finished=time.strftime("%Y-%m-%dT%H:%M:%S"),
    )
    write_json_atomic(out / "manifest.json", manifest.model_dump(mode="json"))
    remember_keys(ctx, {key: o.key for key, o in outcomes.items() if not o.refused})
    return summary
