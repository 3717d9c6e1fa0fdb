"""``film.otio`` beside the film, its media in ``media/``, and `film export` to the formats editors read."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pipeline.errors import UserError
from pipeline.outputs.published import publish_if_changed, remove_unlisted
from pipeline.outputs.timeline import film_layout, rebased, to_otio
from pipeline.run.context import RunContext, make_command, open_context
from pipeline.run.jobs import Outcome, stitch_job
from stages.contracts import StitchRequest
from stages.files import write_json_atomic, write_text_atomic
from stages.stitch.cut import plan_cut

TIMELINE = "film.otio"
MEDIA = "media"
FORMATS = {"otio": ("otio_json", ".otio"), "fcp7xml": ("fcp_xml", ".xml"), "edl": ("cmx_3600", ".edl")}


def write_film_timeline(ctx: RunContext, outcomes: dict[tuple[str, int | None], Outcome], film: Outcome) -> Path | None:
    """Write ``film.otio`` for the stitched ``film`` (and copy its media into ``media/``), rewriting it only when
    its content changes; None (and no stale timeline left) when the shots cannot be matched to the film."""
    target = ctx.out_dir / TIMELINE
    parts = [(shot, clip.record, voice.record) for shot in ctx.shots()
             if (clip := outcomes.get(("animation", shot.shot))) and (voice := outcomes.get(("narration", shot.shot)))
             and clip.record is not None and voice.record is not None]
    job = stitch_job(ctx, parts) if parts else None
    if job is None or job.key != film.key:  # not the shots this film was cut from
        target.unlink(missing_ok=True)
        ctx.notes.append(f"{TIMELINE} not written: the film's shots are not all current in the store")
        return None
    for record in job.needs:
        ctx.store.fetch(record)
    request: StitchRequest = job.request
    names = media_names(request)
    music_seconds = None
    if request.music_path is not None:
        import soundfile

        music_seconds = soundfile.info(str(request.music_path)).duration
    media = ctx.out_dir / MEDIA
    for source, name in names.items():
        publish_if_changed(ctx.out_dir, source, media / name)
    remove_unlisted(ctx.out_dir, media, [media / name for name in names.values()])
    made_from = [film.key, ctx.project.title or ctx.project.name]
    if _stamp(target, made_from) == _read_stamp(ctx):  # written from this very film and left as it was
        return target
    layout = film_layout(made_from[1], request, plan_cut(request), lambda path: f"{MEDIA}/{names[path]}",
                         music_seconds)
    import opentimelineio as otio

    text = otio.adapters.write_to_string(to_otio(layout), adapter_name="otio_json")
    if not target.is_file() or target.read_text(encoding="utf-8") != text:
        write_text_atomic(target, text)
    write_json_atomic(_stamp_file(ctx), _stamp(target, made_from))
    return target


def _stamp_file(ctx: RunContext) -> Path:
    return ctx.out_dir / ".film" / "timeline.json"


def _stamp(target: Path, made_from: list[str]) -> list:
    """What film.otio was written from, and its size and change time since."""
    stat = target.stat() if target.is_file() else None
    return [*made_from, stat and stat.st_size, stat and stat.st_mtime_ns]


def _read_stamp(ctx: RunContext) -> list | None:
    try:
        return json.loads(_stamp_file(ctx).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def media_names(request: StitchRequest) -> dict[Path, str]:
    """The name in ``media/`` of each file the film is made from: shot-03.mp4, shot-03-narration.wav, music-*."""
    names = {}
    for shot in request.shots:
        names[shot.clip_path] = f"shot-{shot.number:02d}{shot.clip_path.suffix}"
        names[shot.audio_path] = f"shot-{shot.number:02d}-narration{shot.audio_path.suffix}"
    if request.music_path is not None:
        names[request.music_path] = f"music-{request.music_path.name}"
    return names


def export_timeline(project: Path, out: Path | None, fmt: str, target: Path | None) -> Path:
    """Write the finished film's timeline as ``fmt`` (otio, fcp7xml or edl) to ``target`` (default: beside the
    film); its media paths are relative to the written file's folder."""
    if fmt not in FORMATS:
        raise UserError(f"--format {fmt}: not a timeline format we write", f"use one of: {', '.join(FORMATS)}")
    ctx = open_context(project, out, create=False)
    source = ctx.out_dir / TIMELINE
    if not source.is_file() or not (ctx.out_dir / "film.mp4").is_file():
        raise UserError(f"there is no finished film in {ctx.out_dir} to export yet",
                        f"make it first: {make_command(ctx, 'stitch')}")
    adapter, suffix = FORMATS[fmt]
    target = (target or ctx.out_dir / f"film{suffix}").resolve()
    if target == source:
        return source
    import opentimelineio as otio

    timeline = rebased(otio.adapters.read_from_file(str(source), adapter_name="otio_json"), ctx.out_dir,
                       target.parent)
    write_text_atomic(target, _written(otio, timeline, adapter))
    return target


def _written(otio: Any, timeline: Any, adapter: str) -> str:
    """The timeline in an adapter's format; what the format cannot hold is an error naming it."""
    rate = timeline.duration().rate
    if adapter != "otio_json" and not otio.opentime.RationalTime.is_valid_timecode_rate(rate):
        raise UserError(f"{adapter} counts frames in SMPTE timecode, which has no {rate:g} fps",
                        "make the film at 24, 25, 30, 48, 50 or 60 fps (format: fps in the project), "
                        "or export --format otio")
    if adapter == "cmx_3600":  # an EDL lists the video track's events alone; the adapter refuses over two audio tracks
        timeline = timeline.deepcopy()
        for track in [t for t in timeline.tracks if t.kind != otio.schema.TrackKind.Video]:
            timeline.tracks.remove(track)
    try:
        return str(otio.adapters.write_to_string(timeline, adapter_name=adapter))
    except otio.exceptions.NotSupportedError as exc:
        raise UserError(f"the timeline cannot be written as {adapter}: {exc}", "export it as otio or fcp7xml") from None
