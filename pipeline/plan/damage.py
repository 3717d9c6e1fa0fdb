"""Damaged results in the store (a file missing, or not the size it was made): a free one is made again with
a note; a paid one stops the run before anything is paid, naming the command that buys it again and its cost."""
from __future__ import annotations

from typing import TYPE_CHECKING

from pipeline.errors import UserError
from pipeline.plan.pricing import price_lines
from pipeline.plan.selection import Selection
from pipeline.run.context import RunContext, film_command, force_command
from pipeline.run.jobs import Job
from pipeline.store import Damage

if TYPE_CHECKING:
    from pipeline.plan.planner import Plan, Slot


def describe(slot: Slot, damage: Damage) -> str:
    """``animation of shot 4 is damaged in the store (animation/ab12.mp4: 310 bytes, but ...)``."""
    stage, shot = slot
    what = f"{stage} of shot {shot}" if shot is not None else stage
    return f"{what} is damaged in the store ({damage})"


def is_paid(ctx: RunContext, stage: str) -> bool:
    """Whether the project's backend of ``stage`` is a paid one (a cloud provider's)."""
    backend = ctx.loaded.backends.get(stage)
    return backend is not None and backend.provider is not None


def redo(ctx: RunContext, jobs: dict[Slot, Job]) -> tuple[str, float]:
    """The command(s) that make these results again, and what the paid calls among them cost in USD."""
    shots: dict[str, list[int]] = {}
    for stage, shot in jobs:
        shots.setdefault(stage, []).extend([shot] if shot is not None else [])
    usd = sum(line["usd"] for (stage, shot), job in jobs.items() for line in price_lines(ctx, stage, shot, job.request))
    return " and ".join(f"`{force_command(ctx, stage, numbers)}`" for stage, numbers in shots.items()), usd


def status_notes(ctx: RunContext, plan: Plan) -> list[str]:
    """What `film status` says of each damaged result: made again by the next run, or what buying it costs."""
    notes = []
    for slot, damage in plan.damaged.items():
        if is_paid(ctx, slot[0]):
            command, usd = redo(ctx, {slot: plan.jobs[slot]})
            notes.append(f"{describe(slot, damage)}; it is paid, so `film make` stops before buying it again: "
                         f"run {command} (about ${usd:.4f})")
        else:
            notes.append(f"{describe(slot, damage)}: the next `film make` makes it again")
    return notes


def check_damage(ctx: RunContext, sel: Selection, plan: Plan) -> None:
    """Note each damaged free result this run makes again; stop, before anything is paid, at damaged paid ones
    (unless this run was asked to make them again with --force)."""
    paid: dict[Slot, Job] = {}
    for slot, damage in plan.damaged.items():
        if sel.forced(*slot):
            continue
        if is_paid(ctx, slot[0]):
            paid[slot] = plan.jobs[slot]
            continue
        note = f"{describe(slot, damage)}: it is made again"
        if note not in ctx.notes:
            ctx.notes.append(note)
    if paid:
        command, usd = redo(ctx, paid)
        backends = ", ".join(sorted({ctx.loaded.backends[stage].name for stage, _ in paid}))
        raise UserError("; ".join(describe(slot, plan.damaged[slot]) for slot in paid) +
                        f". Its backend ({backends}) is paid, so it is not bought again without your say",
                        f"make it again, for about ${usd:.4f}: {command}; "
                        f"`{film_command(ctx, 'verify')}` checks every file of the film")
