"""What paid calls cost: a backend's paid units for one request, priced with the project's price table."""
from __future__ import annotations

from typing import Any

from pipeline.run.context import RunContext
from stages import calls


def price_lines(ctx: RunContext, stage: str, shot: int | None, request: Any) -> list[dict[str, Any]]:
    """One line per price item the stage's backend would pay for ``request``: item, units and USD."""
    backend = ctx.loaded.backends[stage]
    prices = calls.Call(prices=ctx.project.prices)
    lines = []
    for item, units in backend.estimate(request):
        full = f"{backend.provider}/{item}"
        lines.append({"stage": stage, "shot": shot, "item": full, "units": units,
                      "usd": round(prices.price(full) * units, 6)})
    return lines
