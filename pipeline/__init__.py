"""The film pipeline: project files in, films out, through the stages of ``stages/``.

The public entry point is ``make_film`` (what `film make` runs); ``RunSummary`` is what it returns. Both are
imported when first used, so that `film --help` stays fast. Where each concern lives: see the README's
"Development" section.
"""
from __future__ import annotations

from typing import Any

__all__ = ["RunSummary", "make_film"]


def __getattr__(name: str) -> Any:
    """``pipeline.make_film`` and ``pipeline.RunSummary``, imported on first use."""
    if name == "make_film":
        from pipeline.api import make_film

        return make_film
    if name == "RunSummary":
        from pipeline.outputs.manifest import RunSummary

        return RunSummary
    raise AttributeError(f"module 'pipeline' has no attribute {name!r}")
