"""What a run will do, decided from content keys before any flow starts: per stage and shot, whether its
result is cached, must run, waits on upstream work, or is missing (needed, but not made by this run)."""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

from pipeline.errors import UserError
from pipeline.plan.damage import check_damage
from pipeline.plan.graph import FILM_STAGE, SHOT_GRAPH
from pipeline.plan.selection import Selection
from pipeline.run.context import RunContext, make_command
from pipeline.run.jobs import Job, Outcome
from pipeline.store import Damage, Record
from stages.files import write_json_atomic
from stages.registry import STAGES

Slot = tuple[str, int | None]  # (stage, shot number); None for the whole-film stages


class Status(StrEnum):
    """Where one stage of one shot stands before a run."""

    CACHED = "cached"  # its result is stored and current
    RUN = "run"  # this run makes it
    PENDING = "pending"  # this run makes it once the results it is made from are made
    MISSING = "missing"  # needed, but this run does not make it (outside --only)


@dataclass
class Plan:
    """Per stage and shot: its status, and for the cached ones their record; the key of every job known."""

    status: dict[Slot, Status] = field(default_factory=dict)
    records: dict[Slot, Record] = field(default_factory=dict)
    keys: dict[Slot, str] = field(default_factory=dict)
    jobs: dict[Slot, Job] = field(default_factory=dict)
    damaged: dict[Slot, Damage] = field(default_factory=dict)  # stored, but a file is missing or cut: made again

    def work(self) -> list[Slot]:
        """The stage/shot pairs this run computes."""
        return [k for k, v in self.status.items() if v in (Status.RUN, Status.PENDING)]

    def cached(self, slot: Slot) -> Outcome:
        """The outcome of a slot whose result is taken from the cache."""
        return Outcome(slot[0], slot[1], self.keys[slot], self.records[slot], computed=False, wall_s=0.0)

    def cached_outcomes(self) -> dict[Slot, Outcome]:
        """Every cached slot's outcome."""
        return {slot: self.cached(slot) for slot, status in self.status.items() if status is Status.CACHED}

    def settle(self, ctx: RunContext, sel: Selection, slot: Slot, job: Job | None) -> None:
        """Decide one slot: cached when its job's result is stored (and not forced), else run or missing; a slot
        whose job cannot be made yet (``job`` None: its inputs are not made) runs as pending."""
        stage, shot = slot
        todo = Status.RUN if sel.in_scope(stage, shot) else Status.MISSING
        if job is None:
            self.status[slot] = Status.PENDING if todo is Status.RUN else todo
            return
        self.keys[slot], self.jobs[slot] = job.key, job
        record, damage = ctx.store.inspect(stage, job.key)
        if damage is not None:
            self.damaged[slot] = damage
        if record is not None and not sel.forced(stage, shot):
            self.status[slot], self.records[slot] = Status.CACHED, record
        else:
            self.status[slot] = todo


def make_plan(ctx: RunContext, sel: Selection) -> Plan:
    """Decide, from content keys alone, what is cached and what must run (script already resolved)."""
    plan = Plan()
    film_needed = sel.in_scope(FILM_STAGE.name, None)
    for shot in ctx.shots():
        n = shot.shot
        needed = {stage.name for stage in SHOT_GRAPH if sel.in_scope(stage.name, n)}
        needed |= set(FILM_STAGE.needs) if film_needed else set()
        for stage in reversed(SHOT_GRAPH):  # a needed stage needs what it is made from
            if stage.name in needed:
                needed |= set(stage.needs)
        for stage in SHOT_GRAPH:
            if stage.name not in needed:
                continue
            upstream = {need: plan.records[(need, n)] for need in stage.needs if (need, n) in plan.records}
            ready = len(upstream) == len(stage.needs)
            plan.settle(ctx, sel, (stage.name, n), stage.job(ctx, shot, upstream) if ready else None)
    if film_needed:
        parts = [(s, {need: plan.records[(need, s.shot)] for need in FILM_STAGE.needs
                      if (need, s.shot) in plan.records})
                 for s in ctx.shots()]
        ready = all(len(up) == len(FILM_STAGE.needs) for _, up in parts)
        plan.settle(ctx, sel, (FILM_STAGE.name, None), FILM_STAGE.job(ctx, parts) if ready else None)
    return plan


def plan_to_run(ctx: RunContext, sel: Selection) -> Plan:
    """The plan of a run; fails, naming the command to run first, when it needs a result it may not compute or
    when a paid result is damaged (a free one is made again, with a note)."""
    plan = make_plan(ctx, sel)
    check_damage(ctx, sel, plan)
    missing = [key for key, status in plan.status.items() if status is Status.MISSING]
    if missing:
        stage, shot = missing[0]
        what = f"{stage} for shot {shot}" if shot is not None else stage
        last = max((stage for stage, _ in missing), key=STAGES.index)  # making it makes every earlier one too
        raise UserError(f"{what} is needed but not made yet (this run does not compute {stage})",
                        f"make it first: {make_command(ctx, last)}")
    return plan


def keys_file(ctx: RunContext) -> Path:
    """Where the last known key of every stage and shot is kept, across partial runs."""
    return ctx.out_dir / ".film" / "keys.json"


def previous_keys(ctx: RunContext) -> dict[Slot, str]:
    """Keys earlier runs made, to tell 'stale' (inputs changed) from 'missing' (never made)."""
    try:
        saved = json.loads(keys_file(ctx).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    found: dict[Slot, str] = {}
    for label, key in saved.items():
        stage, _, shot = label.partition(":")
        found[(stage, int(shot) if shot else None)] = key
    return found


def remember_keys(ctx: RunContext, keys: dict[Slot, str]) -> None:
    """Merge this run's keys into the saved ones."""
    merged = {f"{stage}:{'' if shot is None else shot}": key for (stage, shot), key in previous_keys(ctx).items()}
    merged |= {f"{stage}:{'' if shot is None else shot}": key for (stage, shot), key in keys.items()}
    write_json_atomic(keys_file(ctx), merged)
