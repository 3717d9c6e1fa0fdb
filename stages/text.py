"""Text as messages show it."""
from __future__ import annotations


def shorten(text: str, limit: int = 80) -> str:
    """``text`` on one line, cut to ``limit`` characters with an ellipsis where it was longer."""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit - 1] + "…"
