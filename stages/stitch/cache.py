"""The segment cache: rendered segments and soundtracks kept between stitches, named by a hash of all that
decides their bytes, so a re-stitch after a one-shot edit makes only what the edit touched."""
from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Sequence
from dataclasses import asdict
from itertools import groupby
from pathlib import Path
from typing import Any

from stages.contracts import StitchRequest
from stages.errors import StageError
from stages.files import write_atomically
from stages.media import ffmpeg_exe
from stages.stitch.frames import stretch
from stages.stitch.soundtrack import Mix
from stages.stitch.subtitles import Cue
from stages.stitch.timeline import Timeline

SEGMENT_VERSION = 2  # bump whenever painting or encoding a segment changes
SOUNDTRACK_VERSION = 2  # bump whenever mixing or encoding the soundtrack changes


class FileDigests:
    """sha256 of files' bytes, each file read once per stitch (known by its path, size and mtime)."""

    def __init__(self) -> None:
        self.known: dict[tuple[str, int, int], str] = {}

    def __call__(self, path: Path) -> str:
        """The hex sha256 of the file at ``path``."""
        stat = os.stat(path)
        ident = (str(path), stat.st_size, stat.st_mtime_ns)
        if ident not in self.known:
            with open(path, "rb") as handle:
                self.known[ident] = hashlib.file_digest(handle, "sha256").hexdigest()
        return self.known[ident]


def check_parts(request: StitchRequest, digest: FileDigests) -> None:
    """Fail, naming the shot, when a clip or narration is not the bytes it was made with: their digests are taken
    for the segment keys anyway, so the check costs nothing."""
    for shot in request.shots:
        for stage, path, made in (("animation", shot.clip_path, shot.clip_digest),
                                  ("narration", shot.audio_path, shot.audio_digest)):
            if made and not digest(Path(path)).startswith(made):
                raise StageError(f"shot {shot.number}: its {stage} file {path} is damaged: its bytes are not the "
                                 "ones it was made with", f"make it again with --force {stage} --shots {shot.number}")


def segment_key(request: StitchRequest, timeline: Timeline, shot: int, cues: Sequence[Cue | None],
                digest: FileDigests, font_px: int, encoder: dict[str, Any]) -> str:
    """Hash of everything that decides the pixels and encoding of the segment of ``shot`` burning ``cues``."""
    fade_out = timeline.fade_out(shot)
    reads = [request.shots[i] for i in ((shot, shot + 1) if fade_out else (shot,))]
    fmt = request.format
    fields = {
        "version": SEGMENT_VERSION,
        "frames": len(cues),
        "fades": [timeline.fades[shot], fade_out],
        "clips": [[digest(s.clip_path), s.clip_duration, stretch(s)] for s in reads],
        # (frame count, lines) runs: a cue's pixels depend on its text alone
        "cues": [[len(list(run)), lines] for lines, run in groupby(cue.lines if cue else None for cue in cues)],
        "subtitles": request.subtitles,
        "font": [str(request.font_path), os.stat(request.font_path).st_size, font_px] if request.subtitles else None,
        "format": [fmt.width, fmt.height, fmt.fps],
        "crossfade": request.crossfade,
        "encoder": [encoder, Path(ffmpeg_exe()).name],  # the bundled ffmpeg's file name carries its version
    }
    return content_key(fields)


def soundtrack_key(mix: Mix, digest: FileDigests) -> str:
    """Hash of everything that decides the encoded soundtrack: the mix, with its files by their bytes."""
    files = {"voices": [[digest(path), start, end] for path, start, end in mix.voices],
             "music": digest(mix.music) if mix.music is not None else None}
    return content_key({**asdict(mix), **files, "version": SOUNDTRACK_VERSION})


def content_key(fields: dict[str, Any]) -> str:
    """The hex sha256 of ``fields`` as canonical JSON."""
    return hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).hexdigest()


def reuse_or_make(target: Path, make: Callable[[Path], float]) -> float:
    """What ``make`` returned when it wrote ``target``: kept in a note beside it and reused while both are there."""
    note = target.with_suffix(".json")
    if target.is_file() and note.is_file():
        touch(target, note)
        return float(json.loads(note.read_text())["value"])
    made: list[float] = []
    write_atomically(target, lambda path: made.append(make(path)))
    write_atomically(note, lambda path: path.write_text(json.dumps({"value": made[0]})))
    return made[0]


def touch(*paths: Path) -> None:
    """Mark reused cache files as used now, so `film gc` tells them from those no stitch uses any more."""
    for path in paths:
        try:
            os.utime(path)
        except OSError:  # a read-only store: reuse works all the same
            pass
