"""`film verify` and `film gc`: the artifacts the current screenplay of an output folder uses, checked in full,
or kept while the store is collected of everything else (the store-level work is in ``pipeline/store/``)."""
from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from pathlib import Path

from pipeline.config import screenplay_file
from pipeline.errors import UserError
from pipeline.outputs.finish import contact_sheet_path
from pipeline.plan.damage import is_paid, redo
from pipeline.plan.graph import FILM_STAGE, SCRIPT, SHOT_STAGES
from pipeline.plan.planner import Plan, Slot, Status, make_plan, previous_keys
from pipeline.plan.selection import Selection
from pipeline.run.context import SHARED_SCREENPLAYS, RunContext, film_command, open_context
from pipeline.run.jobs import Job
from pipeline.run.lock import no_run_meanwhile
from pipeline.run.script import ensure_screenplay, script_job
from pipeline.store import Record, file_digest
from pipeline.store.gc import Collected, collect
from pipeline.store.verify import damage_of

SEGMENT_SLACK_S = 1.0  # a segment touched this long before its film's stitch started still counts as its own


@dataclass
class Current:
    """What the current film of one output folder uses in its store."""

    plan: Plan
    records: dict[Slot, Record]  # every stored result it uses (the screenplay's among them)
    jobs: dict[Slot, Job]
    keep: dict[str, set[str]]  # per store folder, the keys in use; a folder not listed is left alone
    unkeyed: list[str] = field(default_factory=list)  # stages some of whose results cannot be keyed yet
    segments_before: float | None = None  # segment-cache files last used before this are not the film's


def current(ctx: RunContext) -> Current:
    """The artifacts the screenplay of ``ctx``'s output folder uses (fails when there is no screenplay yet)."""
    job = script_job(ctx)
    ensure_screenplay(ctx, run=False, job=job)
    assert ctx.screenplay is not None
    plan = make_plan(ctx, Selection(only=True))
    records, jobs = dict(plan.records), dict(plan.jobs)
    script_keys = {key for key in (job.key, ctx.screenplay_files.generated_from()) if key}
    for key in script_keys:
        if (record := ctx.store.load(SCRIPT, key)) is not None:
            records[(SCRIPT, None)], jobs[(SCRIPT, None)] = record, job
    shared_key = screenplay_file.text_digest(screenplay_file.dump(ctx.screenplay))
    if (shared := ctx.store.load(SHARED_SCREENPLAYS, shared_key)) is not None:
        records[(SHARED_SCREENPLAYS, None)] = shared
    keep: dict[str, set[str]] = {stage: set() for stage in (*SHOT_STAGES, FILM_STAGE.name)}
    for (stage, _), key in plan.keys.items():
        keep[stage].add(key)
    keep |= {SCRIPT: script_keys, SHARED_SCREENPLAYS: {shared_key}}
    unkeyed = sorted({stage for stage, shot in plan.status if (stage, shot) not in plan.keys})
    for stage in unkeyed:
        del keep[stage]
    if all(status is Status.CACHED for (stage, _), status in plan.status.items() if stage == "images"):
        sheet = contact_sheet_path(ctx, plan.cached_outcomes())
        keep["contact"] = {sheet.stem} if sheet else set()
    film = plan.records.get((FILM_STAGE.name, None))
    before = film.finished_at - film.wall_s - SEGMENT_SLACK_S if film is not None and film.finished_at else None
    return Current(plan, records, jobs, keep, unkeyed, before)


@dataclass(frozen=True)
class Finding:
    """One damaged file `film verify` found, and what --repair did about it."""

    what: str  # "animation · shot 04", "published"
    file: str  # relative to the store's root, or (published) to the out folder
    problem: str
    action: str = ""
    repaired: bool = False


@dataclass(frozen=True)
class Verified:
    """What `film verify` found: the damaged files, how many stored results it checked, and where they are."""

    findings: list[Finding]
    checked: int
    store_root: Path
    out_dir: Path

    @property
    def sound(self) -> bool:
        """Whether nothing damaged is left (all sound, or all repaired)."""
        return all(finding.repaired for finding in self.findings)


def verify(project: Path, out: Path | None, repair: bool, drop_paid: bool) -> Verified:
    """Check every file the current film uses (there, of its size and its bytes' digest) and the published
    film.mp4 and film.srt against their records; with ``repair``, drop what is damaged (paid results only with
    ``drop_paid``) so the next `film make` makes it again."""
    ctx = open_context(project, out, create=False)
    with no_run_meanwhile(ctx.out_dir) if repair else contextlib.nullcontext():
        now = current(ctx)
        damaged = dict(now.plan.damaged)
        for slot, record in now.records.items():
            found = damage_of(ctx.store.root, record, full=True)
            if found is None or (ctx.store.remote and found.problem == "missing"):  # a mirror fetches on use
                if found is None:
                    ctx.store.remember_sizes(record)
                continue
            damaged[slot] = found
        findings = []
        for slot, damage in damaged.items():
            what = f"{slot[0]} · shot {slot[1]:02d}" if slot[1] is not None else slot[0]
            action, repaired = "", False
            if repair:
                action, repaired = _repair(ctx, slot, now.jobs.get(slot), damage.record, drop_paid)
            findings.append(Finding(what, damage.file, damage.problem, action, repaired))
        findings += _published(ctx, _last_film(ctx, now.plan), repair)
    return Verified(findings, len(now.records) + len(now.plan.damaged), ctx.store.root, ctx.out_dir)


def _repair(ctx: RunContext, slot: Slot, job: Job | None, record: Record, drop_paid: bool) -> tuple[str, bool]:
    """Drop a damaged artifact so the next run makes it again, unless it is paid and that was not allowed."""
    if is_paid(ctx, slot[0]) and not drop_paid:
        command, usd = redo(ctx, {slot: job}) if job is not None else (f"`{film_command(ctx)} --force {slot[0]}`", 0.0)
        return f"kept (paid): {command} buys it again for about ${usd:.4f}; or add --drop-paid", False
    ctx.store.drop(record)
    return "dropped: film make redoes it", True


def _last_film(ctx: RunContext, plan: Plan) -> Record | None:
    """The film the current screenplay makes, else (when it cannot be keyed now) the one made last."""
    film = plan.records.get((FILM_STAGE.name, None))
    last = previous_keys(ctx).get((FILM_STAGE.name, None))
    return film or (ctx.store.load(FILM_STAGE.name, last) if last else None)


def _published(ctx: RunContext, film: Record | None, repair: bool) -> list[Finding]:
    """film.mp4 and film.srt in the output folder that are not the bytes of the current film in the store."""
    if film is None:
        return []
    findings = []
    for name, target in (("main", ctx.out_dir / "film.mp4"), ("srt", ctx.out_dir / "film.srt")):
        if target.is_file() and file_digest(target) != film.digest_of(name):
            if repair:
                target.unlink()
            findings.append(Finding("published", target.name, "not the film in the store (damaged or edited)",
                                    "removed: film make publishes it again" if repair else "", repair))
    return findings


def collect_garbage(project: Path, out: Path | None, dry_run: bool,
                    shared_with: list[Path]) -> tuple[Collected, list[str]]:
    """Remove from the store of ``project`` every artifact that no current screenplay uses; a store folder that
    other projects share is collected only when ``shared_with`` lists every other project file that uses it."""
    ctx = open_context(project, out, create=False)
    contexts, notes = [ctx], []
    folder = ctx.project.store.folder(ctx.loaded.base_dir)
    if folder is not None and not shared_with:
        raise UserError(f"the store {folder} is a folder that other projects may share: what they use is not known "
                        "here", "list every other project file that uses it: film gc "
                        f"{project} --shared-with OTHER.yaml ... (each with its default output folder)")
    if folder is None and shared_with:
        raise UserError("--shared-with is for a store folder that projects share; this project's store is its own",
                        f"run {film_command(ctx, 'gc')} without it")
    for other in shared_with:
        octx = open_context(other, None, create=False)
        if octx.project.store.folder(octx.loaded.base_dir) != folder:
            raise UserError(f"{other} does not use the store {folder}", "list only the projects that share it")
        contexts.append(octx)
    if ctx.store.remote is not None:
        notes.append(f"only this machine's mirror ({ctx.store.root}) was collected; the store at "
                     f"{ctx.store.remote.url} is shared and left as it is")
    with contextlib.ExitStack() as locks:
        for each in contexts:
            locks.enter_context(no_run_meanwhile(each.out_dir))
        currents = [current(each) for each in contexts]
        keep = {name: set().union(*(now.keep[name] for now in currents))
                for name in currents[0].keep if all(name in now.keep for now in currents)}
        befores = [now.segments_before for now in currents]
        segments_before = None if None in befores else min(b for b in befores if b is not None)
        for stage in sorted({stage for now in currents for stage in now.unkeyed}):
            notes.append(f"{stage}: left as it is (some of its results cannot be keyed until what they are made "
                         "from is made: run film make first)")
        return collect(ctx.store.root, keep, segments_before, dry_run), notes
