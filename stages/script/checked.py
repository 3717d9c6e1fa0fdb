"""A screenplay checked as a writer builds it and once more as it hands it over: a shot its own models refuse is a
bug of the writer, reported as InvalidScreenplay (exit 1) naming the shot, the field, the text and the paragraph it
came from, never as a pydantic traceback.
"""
from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from stages.contracts import Screenplay, ScriptRequest, ScriptWriter, Shot
from stages.errors import StageError
from stages.text import shorten

HINT = ("this is a bug of the screenwriter: please report it with the text above; meanwhile skip that passage with "
        "source.start/source.end markers, or write screenplay.yaml by hand")


class InvalidScreenplay(StageError):
    """A screenwriter made a screenplay its own models refuse: a bug of the writer, not the user's (exit 1)."""


def field_errors(exc: ValidationError) -> list[ErrorDetails]:
    """The errors of the fields that failed, less the "too short after validation" their list adds for them."""
    errors = exc.errors()
    failed_inside = {e["loc"][:n] for e in errors for n in range(len(e["loc"]))}
    return [e for e in errors if not (e["type"] == "too_short" and e["loc"] in failed_inside)]


def refused(exc: ValidationError, shot: object = None, source: str | None = None,
            data: dict[str, Any] | None = None) -> InvalidScreenplay:
    """The error for a refused shot or screenplay: the shot number (given, or found in ``data`` by the error's
    place), the field, the offending text and the ``source`` paragraph when known."""
    errors = field_errors(exc)
    error = errors[0]
    loc = list(error["loc"])
    if data is not None and len(loc) >= 4 and loc[0] == "scenes" and loc[2] == "shots":
        try:
            shot = data["scenes"][loc[1]]["shots"][loc[3]].get("shot")
            loc = loc[4:]
        except (IndexError, KeyError, TypeError, AttributeError):
            pass
    where = f"shot {shot}" if shot is not None else f"a {exc.title}"
    field = ".".join(str(part) for part in loc) or "(the whole)"
    reason = str(error["msg"]).removeprefix("Value error, ")
    more = f" (and {len(errors) - 1} more problems)" if len(errors) > 1 else ""
    origin = f"; it came from the paragraph {shorten(source)!r}" if source else ""
    return InvalidScreenplay(f"the screenwriter made {where} that its screenplay model refuses: {field} "
                             f"{shorten(str(error['input']))!r}: {reason}{more}{origin}", HINT)


def new_shot(source: str | None, **fields: Any) -> Shot:
    """The Shot of these fields; InvalidScreenplay naming it and the ``source`` paragraph when it is refused."""
    try:
        return Shot(**fields)
    except ValidationError as exc:
        raise refused(exc, fields.get("shot"), source) from exc


def written(writer: ScriptWriter, request: ScriptRequest) -> Screenplay:
    """The writer's screenplay for the request, validated again on the way out; InvalidScreenplay if refused."""
    try:
        screenplay = writer.write(request)
    except ValidationError as exc:
        raise refused(exc) from exc
    data = screenplay.model_dump() if isinstance(screenplay, BaseModel) else screenplay
    try:
        return Screenplay.model_validate(data)
    except ValidationError as exc:
        raise refused(exc, data=data if isinstance(data, dict) else None) from exc
