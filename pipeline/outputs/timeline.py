"""The film's cut as an OpenTimelineIO timeline: the shots on a video track with their dissolves, narration and
music on audio tracks, the subtitles as markers, every range in whole frames at the project's frame rate.

``film_layout`` lists every clip of every track in one place, from the stitcher's own cut (``plan_cut``), so
what the editor opens is the film that was rendered; a new kind of clip (a title card) is one more item there.
"""
from __future__ import annotations

import math
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from stages.contracts import StitchRequest
from stages.stitch.cut import Cut
from stages.stitch.frames import stretch
from stages.stitch.subtitles import Cue

VIDEO, AUDIO = "Video", "Audio"  # OTIO's track kinds


@dataclass(frozen=True)
class Item:
    """One clip on a track: its media file (a URL relative to the timeline's folder), the film frame it starts
    at, the frames it lasts, the frames its file holds, its speed (clip seconds per film second) and the frames
    over which it dissolves in from the clip before it."""

    name: str
    url: str
    start: int
    frames: int
    media_frames: int
    speed: float = 1.0
    fade_in: int = 0
    gain_db: float = 0.0


@dataclass(frozen=True)
class Track:
    """A named track of one kind and its clips in film order."""

    name: str
    kind: str
    items: tuple[Item, ...]


@dataclass(frozen=True)
class Layout:
    """Everything the timeline shows: its tracks, its length in frames at ``fps`` and the subtitle cues."""

    name: str
    fps: int
    frames: int
    tracks: tuple[Track, ...]
    markers: tuple[Cue, ...]


def film_layout(name: str, request: StitchRequest, cut: Cut, url: Callable[[Path], str],
                music_seconds: float | None) -> Layout:
    """The tracks of the film the stitcher made from ``request`` (``cut`` is its plan); ``url`` names a media
    file as the timeline refers to it; ``music_seconds`` is the music file's length (None without music)."""
    tl, fps = cut.timeline, cut.timeline.fps
    starts, own = tl.frames[:-1], [tl.frames[i + 1] - tl.frames[i] for i in range(len(request.shots))]
    pictures = tuple(Item(f"shot {s.number:02d}", url(s.clip_path), starts[i], own[i],
                          round(s.clip_duration * fps), stretch(s), tl.fades[i]) for i, s in enumerate(request.shots))
    # narration starts with its shot's first frame and is heard until the next shot's (as the mix places it)
    voices = tuple(Item(f"narration {s.number:02d}", url(s.audio_path), starts[i], own[i], own[i])
                   for i, s in enumerate(request.shots))
    tracks = [Track("shots", VIDEO, pictures), Track("narration", AUDIO, voices)]
    if request.music_path is not None and music_seconds:
        tracks.append(Track("music", AUDIO, music_loops(request, url(request.music_path), music_seconds,
                                                        fps, tl.total_frames)))
    return Layout(name, fps, tl.total_frames, tuple(tracks), tuple(cut.subtitles()))


def music_loops(request: StitchRequest, url: str, seconds: float, fps: int, total: int) -> tuple[Item, ...]:
    """The music bed over the whole film: the file played again from its start each time it ends (as the mix
    loops it), each pass to the nearest frame of where it really starts."""
    available, loops, k = math.ceil(seconds * fps - 1e-6), [], 0
    while (start := round(k * seconds * fps)) < total:
        stop = min(round((k + 1) * seconds * fps), total)
        loops.append(Item(f"music {k + 1}", url, start, stop - start, available, gain_db=request.music_gain_db))
        k += 1
    return tuple(loops)


def reel(url: str) -> str:
    """An EDL reel name for a media file: the letters and digits of its name, at most 8 (CMX 3600's limit)."""
    return re.sub(r"[^A-Za-z0-9]", "", Path(url).stem).upper()[:8] or "AX"


def to_otio(layout: Layout) -> Any:
    """The layout as an ``opentimelineio.schema.Timeline``."""
    import opentimelineio as otio

    def frames(n: int) -> Any:
        return otio.opentime.RationalTime(n, layout.fps)

    def span(start: int, length: int) -> Any:
        return otio.opentime.TimeRange(frames(start), frames(length))

    timeline = otio.schema.Timeline(name=layout.name, global_start_time=frames(0))
    for track in layout.tracks:
        made = otio.schema.Track(name=track.name, kind=track.kind)
        at = 0
        for item in track.items:
            if item.start > at:
                made.append(otio.schema.Gap(source_range=span(0, item.start - at)))
            if item.fade_in:  # from the cut on: the clip before plays on under the dissolve, this one starts at 0
                made.append(otio.schema.Transition(
                    name="Cross Dissolve", transition_type=otio.schema.TransitionTypes.SMPTE_Dissolve,
                    in_offset=frames(0), out_offset=frames(item.fade_in),
                    metadata={"fcp_xml": {"alignment": "start"}}))
            made.append(_clip(otio, item, span))
            at = item.start + item.frames
        if at < layout.frames:
            made.append(otio.schema.Gap(source_range=span(0, layout.frames - at)))
        timeline.tracks.append(made)
    timeline.tracks.markers.extend(_marker(otio, cue, layout.fps, span) for cue in layout.markers)
    return timeline


def _clip(otio: Any, item: Item, span: Callable[[int, int], Any]) -> Any:
    reference = otio.schema.ExternalReference(target_url=item.url, available_range=span(0, item.media_frames))
    metadata: dict[str, Any] = {"cmx_3600": {"reel": reel(item.url)}}
    if item.gain_db:
        metadata["film"] = {"gain_db": item.gain_db}
    clip = otio.schema.Clip(name=item.name, media_reference=reference, source_range=span(0, item.frames),
                            metadata=metadata)
    if item.speed != 1.0:  # a clip shorter than its narration, eased slower to cover it
        clip.effects.append(otio.schema.LinearTimeWarp(time_scalar=item.speed))
    return clip


def _marker(otio: Any, cue: Cue, fps: int, span: Callable[[int, int], Any]) -> Any:
    start = round(cue.start * fps)
    return otio.schema.Marker(name=" ".join(cue.lines), marked_range=span(start, max(1, round(cue.end * fps) - start)),
                              color=otio.schema.MarkerColor.YELLOW)


def rebased(timeline: Any, relative_to: Path, folder: Path) -> Any:
    """A copy of ``timeline`` whose relative media URLs (relative to ``relative_to``) hold from ``folder``."""
    copy = timeline.deepcopy()
    for clip in copy.find_clips():
        reference = clip.media_reference
        if hasattr(reference, "target_url") and "://" not in reference.target_url:
            moved = os.path.relpath(relative_to / reference.target_url, folder)
            reference.target_url = Path(moved).as_posix()
    return copy

