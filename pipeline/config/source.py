"""Read the source text and cut out the part the project asks for."""
from __future__ import annotations

import re
from pathlib import Path

from pipeline.config.project import LoadedProject
from pipeline.errors import UserError

_HEADING = re.compile(r"^[ \t]*chapter[ \t]+([0-9]+|[ivxlcdm]+)\b[^\n]*$", re.IGNORECASE | re.MULTILINE)
_CONTROLS = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f-\x9f]")  # control characters no text is made of
_ROMAN = {"i": 1, "v": 5, "x": 10, "l": 50, "c": 100, "d": 500, "m": 1000}


def _number(token: str) -> int:
    if token.isdigit():
        return int(token)
    values = [_ROMAN[ch] for ch in token.lower()]
    return sum(-v if i + 1 < len(values) and v < values[i + 1] else v for i, v in enumerate(values))


def read_text(path: Path, where: str) -> str:
    """The whole text file, with a clear error when it is missing, binary or empty."""
    if not path.is_file():
        raise UserError(f"{where}: source.path: text file not found: {path}",
                        "fix source.path (relative to the project file)")
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise UserError(f"{where}: source.path: cannot read {path}: {exc.strerror or exc}",
                        "check that the file is readable by you (its permissions), or point source.path "
                        "elsewhere") from exc
    text = _decode(raw)
    if text is None:
        raise UserError(f"{where}: source.path: {path} is not a text file",
                        "point source.path at a plain UTF-8 text file")
    if not text.strip():
        raise UserError(f"{where}: source.path: {path} is empty", "give a text with some story in it")
    return text


def _decode(raw: bytes) -> str | None:
    """The text in UTF-8, else Windows-1252, else Latin-1, with Unix line ends; None for binary data (a NUL
    byte in its first 4 KiB, or more than 1 % control characters)."""
    if b"\x00" in raw[:4096]:
        return None
    for encoding in ("utf-8-sig", "cp1252", "latin-1"):
        try:
            text = raw.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return None if len(_CONTROLS.findall(text)) > len(text) / 100 else text


def chapters(text: str) -> list[tuple[int, int, int]]:
    """(number, body start, body end) for each "Chapter N" heading, in order."""
    heads = list(_HEADING.finditer(text))
    ends = [head.start() for head in heads[1:]] + [len(text)]
    return [(_number(m.group(1)), m.end(), end) for m, end in zip(heads, ends)]


def select_text(loaded: LoadedProject) -> str:
    """The part of the source the film tells: a chapter, a marked span, or the whole text."""
    source = loaded.project.source
    where = loaded.document.where(("source", "path"))
    text = read_text(source.path, where)
    if source.chapter is not None:
        found = chapters(text)
        body = next((text[s:e] for n, s, e in found if n == source.chapter), None)
        if body is None:
            where = loaded.document.where(("source", "chapter"))
            have = _describe([n for n, _, _ in found])
            raise UserError(f"{where}: source.chapter: chapter {source.chapter} not found in {source.path.name}; "
                            f"it has {have}", "pick one of those chapter numbers, or use start/end markers")
    else:
        body = _between_markers(text, source.start, source.end, loaded)
    body = body.strip("\n")
    if not body.strip():
        field = "chapter" if source.chapter is not None else "start" if source.start else "path"
        raise UserError(f"{loaded.document.where(('source', field))}: source.{field}: the selected text is empty",
                        "check source.chapter or the start/end markers")
    return body


def _between_markers(text: str, start: str | None, end: str | None, loaded: LoadedProject) -> str:
    begin = 0
    if start:
        begin = text.find(start)
        if begin < 0:
            where = loaded.document.where(("source", "start"))
            raise UserError(f"{where}: source.start: marker {start!r} not found in the text",
                            "copy the marker exactly from the text")
    stop = len(text)
    if end:
        stop = text.find(end, begin)
        if stop < 0:
            where = loaded.document.where(("source", "end"))
            raise UserError(f"{where}: source.end: marker {end!r} not found after the start",
                            "copy the marker exactly from the text")
        stop += len(end)
    return text[begin:stop]


def _describe(numbers: list[int]) -> str:
    if not numbers:
        return "no 'Chapter N' headings"
    if numbers == list(range(numbers[0], numbers[0] + len(numbers))):
        return f"chapters {numbers[0]}–{numbers[-1]}"
    return "chapters " + ", ".join(map(str, numbers))
