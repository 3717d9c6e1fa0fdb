"""Whether a backend class keeps its stage's contract, checked when the registry loads it rather than when a
run first calls it: a Backend subclass with a ``name``, an ``Options`` model and the stage's one method."""
from __future__ import annotations

import inspect
from typing import Any

from pydantic import BaseModel

from stages.backend import Backend
from stages.contracts import Animator, ImageMaker, Narrator, ScriptWriter, Stitcher

CONTRACTS: dict[str, type] = {
    "script": ScriptWriter, "images": ImageMaker, "animation": Animator, "narration": Narrator, "stitch": Stitcher,
}


def contract_method(stage: str) -> tuple[str, list[str]]:
    """The name of ``stage``'s one method and the parameters its callers pass (self left out)."""
    protocol = CONTRACTS[stage]
    name = next(key for key, value in vars(protocol).items() if inspect.isfunction(value) and not key.startswith("_"))
    return name, list(inspect.signature(getattr(protocol, name)).parameters)[1:]


def contract_problem(stage: str, cls: Any) -> str | None:
    """What keeps ``cls`` from serving as a ``stage`` backend, as a phrase after its name; None when nothing does."""
    method, params = contract_method(stage)
    call = f"{method}({', '.join(params)})"
    if not (inspect.isclass(cls) and issubclass(cls, Backend)):
        return f"is not a class deriving from stages.backend.Backend (it is {cls!r})"
    if not isinstance(getattr(cls, "name", None), str) or not cls.name:
        return "has no `name` string"
    if not (inspect.isclass(cls.Options) and issubclass(cls.Options, BaseModel)):
        return "has an `Options` that is not a pydantic model"
    if not callable(getattr(cls, method, None)):
        return f"has no {call} method"
    takes = _takes(cls, method, len(params))
    if takes is not None:
        return f"has {method}({takes}), which cannot be called as {call}"
    return None


def _takes(cls: type, method: str, count: int) -> str | None:
    """``cls.method``'s parameter names when a call with ``count`` positional arguments would not bind, else None."""
    bound = getattr(cls, method)
    try:
        signature = inspect.signature(bound)
    except (TypeError, ValueError):  # a builtin without a readable signature: trust it
        return None
    receiver = [None] if inspect.isfunction(inspect.getattr_static(cls, method)) else []  # self, for a plain method
    try:
        signature.bind(*receiver, *[None] * count)
    except TypeError:
        stars: dict[inspect._ParameterKind, str] = {inspect.Parameter.VAR_POSITIONAL: "*",
                                                    inspect.Parameter.VAR_KEYWORD: "**"}
        return ", ".join(stars.get(p.kind, "") + p.name for p in signature.parameters.values())
    return None
