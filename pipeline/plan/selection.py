"""Which stages and shots a run covers, from the CLI's flags: --only, --force, --shots and --until."""
from __future__ import annotations

import re
from dataclasses import dataclass

from pipeline.errors import UserError
from pipeline.plan.graph import ancestors
from stages.contracts import Shot
from stages.registry import STAGES


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
        raise UserError(f"--until {until}: names {len(until_set)} stages",
                        "give one stage to stop after, e.g. --until images")
    if only_set and until_set:
        raise UserError("--only and --until cannot be combined",
                        "use --only to run chosen stages, --until to stop after one")
    shot_set = parse_shots(shots)
    if shot_set is not None and not (only_set or force_set):
        raise UserError("--shots needs --force or --only", "e.g. `--force images --shots 4` redraws shot 4")
    run = frozenset(STAGES)
    if only_set:
        run = only_set
    elif until_set:
        (last,) = until_set
        run = frozenset(ancestors(last))
    return Selection(run=run | (force_set if not only_set else frozenset()), force=force_set, shots=shot_set,
                     only=bool(only_set))
