"""What a run will do, decided from content keys before any flow starts.

Stages form a small graph: images and narration need the script; animation needs a shot's still
and its narration (for its length); stitch needs every clip and narration.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from pipeline.context import RunContext, make_command
from pipeline.errors import UserError
from pipeline.jobs import animation_job, image_job, narration_job, stitch_job
from pipeline.store import write_json_atomic
from stages.contracts import Shot
from stages.registry import STAGES

DEPENDS = {
    "script": (),
    "images": ("script",),
    "narration": ("script",),
    "animation": ("images", "narration"),
    "stitch": ("animation", "narration"),
}
SHOT_STAGES = ("images", "narration", "animation")


def _stage_list(value: list[str] | None, flag: str) -> frozenset[str]:
    names = {part.strip() for item in value or () for part in item.split(",") if part.strip()}
    if value is not None and not names:
        raise UserError(f"{flag}: no stage given", f"name one or more of: {', '.join(STAGES)}")
    unknown = sorted(names - set(STAGES))
    if unknown:
        raise UserError(f"{flag}: unknown stage {', '.join(unknown)}", f"stages are: {', '.join(STAGES)}")
    return frozenset(names)


@dataclass(frozen=True)
class ShotSet:
    """Shot numbers as the inclusive ranges the user wrote (``3,5-7``), never expanded one by one."""

    ranges: tuple[tuple[int, int], ...]

    def __contains__(self, shot: object) -> bool:
        return isinstance(shot, int) and any(low <= shot <= high for low, high in self.ranges)

    def missing_from(self, have: set[int]) -> list[str]:
        """The parts of this set that are not in ``have``, as numbers and ranges (``9``, ``12-40``)."""
        missing: list[str] = []
        for low, high in sorted(self.ranges):
            inside = sorted(n for n in have if low <= n <= high)
            for start, stop in zip([low] + [n + 1 for n in inside], inside + [high + 1]):
                if start < stop:
                    missing.append(str(start) if start == stop - 1 else f"{start}-{stop - 1}")
        return list(dict.fromkeys(missing))


def parse_shots(value: str | None) -> ShotSet | None:
    """Parse ``3,5-7`` into the set of shots 3, 5, 6 and 7 (None when the flag is not given)."""
    if value is None:
        return None
    ranges = []
    for part in value.split(","):
        match = re.fullmatch(r"\s*(\d+)\s*(?:-\s*(\d+)\s*)?", part)
        if not match:
            raise UserError(f"--shots: cannot read {part!r}", "write shot numbers and ranges like 3,5-7")
        low, high = int(match.group(1)), int(match.group(2) or match.group(1))
        if high < low:
            raise UserError(f"--shots: range {part.strip()} goes backwards", "write ranges low-high, like 5-7")
        ranges.append((low, high))
    return ShotSet(tuple(ranges))


def ancestors(stage: str) -> set[str]:
    """A stage and every stage it depends on."""
    found = {stage}
    for dep in DEPENDS[stage]:
        found |= ancestors(dep)
    return found


@dataclass(frozen=True)
class Selection:
    """Which stages run, which are forced, and for which shots (from the CLI flags)."""

    run: frozenset[str] = frozenset(STAGES)
    force: frozenset[str] = frozenset()
    shots: ShotSet | None = None
    only: bool = False

    def in_scope(self, stage: str, shot: int | None) -> bool:
        """Whether this run may compute ``stage`` for ``shot``."""
        if stage not in self.run:
            return False
        return not (self.only and self.shots is not None and shot is not None and shot not in self.shots)

    def forced(self, stage: str, shot: int | None) -> bool:
        """Whether ``stage`` for ``shot`` is recomputed even if cached."""
        return stage in self.force and (self.shots is None or shot is None or shot in self.shots)

    def check_shots(self, shots: tuple[Shot, ...]) -> None:
        """Fail when --shots names shots the screenplay does not have."""
        have = {s.shot for s in shots}
        missing = self.shots.missing_from(have) if self.shots is not None else []
        if missing:
            shown = ", ".join(missing[:10]) + (f" and {len(missing) - 10} more" if len(missing) > 10 else "")
            raise UserError(
                f"--shots: no shot {shown} in the screenplay",
                f"its shots are numbered {min(have)}–{max(have)} ({len(have)} shots)",
            )


def make_selection(only: list[str] | None, force: list[str] | None, shots: str | None, until: str | None) -> Selection:
    """Validate the CLI's stage and shot flags into a Selection."""
    only_set, force_set = _stage_list(only, "--only"), _stage_list(force, "--force")
    until_set = _stage_list([until] if until is not None else None, "--until")
    if len(until_set) > 1:
        raise UserError(f"--until {until}: names {len(until_set)} stages", "give one stage to stop after, e.g. --until images")
    if only_set and until_set:
        raise UserError("--only and --until cannot be combined", "use --only to run chosen stages, --until to stop after one")
    shot_set = parse_shots(shots)
    if shot_set is not None and not (only_set or force_set):
        raise UserError("--shots needs --force or --only", "e.g. `--force images --shots 4` redraws shot 4")
    run = frozenset(STAGES)
    if only_set:
        run = only_set
    elif until_set:
        (last,) = until_set
        run = frozenset(ancestors(last))
    return Selection(run=run | (force_set if not only_set else frozenset()), force=force_set, shots=shot_set, only=bool(only_set))


@dataclass
class Plan:
    """Per stage and shot: 'cached' (with its record), 'run', 'pending' (waits on upstream work) or 'missing'."""

    status: dict[tuple[str, int | None], str] = field(default_factory=dict)
    records: dict[tuple[str, int | None], dict[str, Any]] = field(default_factory=dict)
    keys: dict[tuple[str, int | None], str] = field(default_factory=dict)

    def work(self) -> list[tuple[str, int | None]]:
        """The stage/shot pairs this run computes."""
        return [k for k, v in self.status.items() if v in ("run", "pending")]


def make_plan(ctx: RunContext, sel: Selection) -> Plan:
    """Decide, from content keys alone, what is cached and what must run (script already resolved)."""
    plan = Plan()
    shots = ctx.shots()
    need_stitch = "stitch" in sel.run

    def settle(stage: str, shot: int | None, job) -> None:
        key = (stage, shot)
        if job is None:
            plan.status[key] = "run" if sel.in_scope(stage, shot) else "missing"
            return
        plan.keys[key] = job.key
        record = ctx.store.load(stage, job.key)
        if record is not None and not sel.forced(stage, shot):
            plan.status[key], plan.records[key] = "cached", record
        else:
            plan.status[key] = "run" if sel.in_scope(stage, shot) else "missing"

    for shot in shots:
        n = shot.shot
        need_anim = sel.in_scope("animation", n) or need_stitch
        if sel.in_scope("images", n) or need_anim:
            settle("images", n, image_job(ctx, shot))
        if sel.in_scope("narration", n) or need_anim:
            settle("narration", n, narration_job(ctx, shot))
        if need_anim:
            image, voice = plan.records.get(("images", n)), plan.records.get(("narration", n))
            settle("animation", n, animation_job(ctx, shot, image, voice) if image and voice else None)
            if plan.status[("animation", n)] == "run" and not (image and voice):
                plan.status[("animation", n)] = "pending"
    if need_stitch:
        parts = [(s, plan.records.get(("animation", s.shot)), plan.records.get(("narration", s.shot))) for s in shots]
        ready = all(clip and voice for _, clip, voice in parts)
        settle("stitch", None, stitch_job(ctx, parts) if ready else None)
        if plan.status[("stitch", None)] == "run" and not ready:
            plan.status[("stitch", None)] = "pending"
    return plan


def plan_to_run(ctx: RunContext, sel: Selection) -> Plan:
    """The plan of a run; fails, naming the command to run first, when it needs a result it may not compute."""
    plan = make_plan(ctx, sel)
    missing = [key for key, status in plan.status.items() if status == "missing"]
    if missing:
        stage, shot = missing[0]
        what = f"{stage} for shot {shot}" if shot is not None else stage
        last = max((stage for stage, _ in missing), key=STAGES.index)  # making it makes every earlier one too
        raise UserError(f"{what} is needed but not made yet (this run does not compute {stage})",
                        f"make it first: {make_command(ctx, last)}")
    return plan


def keys_file(ctx: RunContext):
    """Where the last known key of every stage and shot is kept, across partial runs."""
    return ctx.out_dir / ".film" / "keys.json"


def previous_keys(ctx: RunContext) -> dict[tuple[str, int | None], str]:
    """Keys earlier runs made, to tell 'stale' (inputs changed) from 'missing' (never made)."""
    try:
        saved = json.loads(keys_file(ctx).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    found: dict[tuple[str, int | None], str] = {}
    for label, key in saved.items():
        stage, _, shot = label.partition(":")
        found[(stage, int(shot) if shot else None)] = key
    return found


def remember_keys(ctx: RunContext, keys: dict[tuple[str, int | None], str]) -> None:
    """Merge this run's keys into the saved ones."""
    merged = {f"{stage}:{'' if shot is None else shot}": key for (stage, shot), key in previous_keys(ctx).items()}
    merged |= {f"{stage}:{'' if shot is None else shot}": key for (stage, shot), key in keys.items()}
    write_json_atomic(keys_file(ctx), merged)
