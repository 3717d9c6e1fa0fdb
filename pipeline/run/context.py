"""Everything one run works with: the project, the output folder, the store and the screenplay."""
from __future__ import annotations

import os
import shlex
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from pipeline.config.project import LoadedProject, Project, load_project
from pipeline.config.screenplay_file import ScreenplayFiles
from pipeline.errors import RuntimeFailure, UserError
from pipeline.run.desk import Desk
from pipeline.store import Store
from stages.contracts import Screenplay, Shot


@dataclass
class RunContext:
    """A loaded project bound to its output folder."""

    loaded: LoadedProject
    out_dir: Path
    desk: Desk  # the run's till, provider slots and retries
    screenplay: Screenplay | None = None
    notes: list[str] = field(default_factory=list)  # things the user should hear about at the end

    @property
    def project(self) -> Project:
        """The validated project model."""
        return self.loaded.project

    @cached_property
    def store(self) -> Store:
        """The artifact store: <out>/.film/cache, the project's store folder, or a mirror here of its store URL."""
        config = self.project.store
        folder = config.folder(self.loaded.base_dir)
        if folder is not None:
            return Store(folder, shared=True)
        remote = None
        if config.is_url:
            from pipeline.store.remote import RemoteStore

            assert config.url is not None
            remote = RemoteStore(config.url, config.options)
        return Store(self.out_dir / ".film" / "cache", remote)

    @property
    def screenplay_files(self) -> ScreenplayFiles:
        """The user's screenplay and our state file for it."""
        return ScreenplayFiles(self.out_dir / "screenplay.yaml", self.out_dir / ".film" / "screenplay.json")

    def shots(self) -> tuple[Shot, ...]:
        """All shots of the loaded screenplay."""
        assert self.screenplay is not None, "screenplay not loaded yet"
        return self.screenplay.shots()


SHARED_SCREENPLAYS = "screenplays"  # the store's folder of the screenplays runs were made from


@dataclass(frozen=True)
class RunRef:
    """How a task finds its run from any process (a thread here or a Dask worker elsewhere): small and picklable."""

    project: str
    out: str
    run_id: str
    budget: float | None = None
    screenplay: str | None = None  # the store key of the run's screenplay (see script_stage.share_screenplay)


_OPEN: dict[RunRef, RunContext] = {}


def register(ref: RunRef, ctx: RunContext) -> None:
    """Make ``ctx`` the context of ``ref`` in this process (the flow's own, shared by its threads)."""
    _OPEN[ref] = ctx


def context_for(ref: RunRef) -> RunContext:
    """This process's context of the run: the flow's own, or (in a worker process) opened once from the
    project file with the screenplay the flow put in the store. A worker has its own Desk, so --budget and the
    provider limits hold per worker process there."""
    if ref not in _OPEN:
        from pipeline.config import screenplay_file

        ctx = open_context(Path(ref.project), Path(ref.out), ref.budget)
        shared = ctx.store.load(SHARED_SCREENPLAYS, ref.screenplay) if ref.screenplay else None
        if ref.screenplay and shared is None:
            raise RuntimeFailure(f"the run's screenplay {ref.screenplay} is not in the artifact store {ctx.store.root}",
                                 "workers must reach the run's store: see 'Artifact store' in the README")
        ctx.screenplay = screenplay_file.load(ctx.store.path_of(shared) if shared else ctx.screenplay_files.path)
        _OPEN[ref] = ctx
    return _OPEN[ref]


def default_out_dir(loaded: LoadedProject) -> Path:
    """``out/<project name>/`` in the current folder."""
    return Path("out") / loaded.project.name


def film_command(ctx: RunContext, command: str = "make") -> str:
    """``film <command>`` for this run's project and output folder (``--out`` only when it is not the default)."""
    own = ctx.out_dir == default_out_dir(ctx.loaded).resolve()
    out = "" if own else f" --out {shlex.quote(str(ctx.out_dir))}"
    return f"film {command} {shlex.quote(str(ctx.loaded.path))}{out}"


def make_command(ctx: RunContext, until: str) -> str:
    """The `film make` command that makes this run's results up to ``until``, in this run's output folder."""
    return f"{film_command(ctx)} --until {until}"


def force_command(ctx: RunContext, stage: str, shots: list[int]) -> str:
    """The `film make` command that makes ``stage`` again for ``shots`` (all of it when empty)."""
    listed = f" --shots {','.join(map(str, sorted(shots)))}" if shots else ""
    return f"{film_command(ctx)} --force {stage}{listed}"


def open_context(project_file: Path, out: Path | None, budget_usd: float | None = None,
                 create: bool = True) -> RunContext:
    """Load the project and make sure the output folder can be written (and exists, with ``create``)."""
    loaded = load_project(project_file)
    out_dir = (out or default_out_dir(loaded)).resolve()
    ensure_writable(out_dir, create)
    project = loaded.project
    store_folder = project.store.folder(loaded.base_dir)
    if store_folder is not None:
        ensure_writable(store_folder)
    desk = Desk(workers=project.workers, budget_usd=budget_usd, prices=dict(project.prices),
                concurrency=dict(project.concurrency), **project.retries.model_dump())
    ctx = RunContext(loaded=loaded, out_dir=out_dir, desk=desk)
    ctx.store.check()
    return ctx


def ensure_writable(folder: Path, create: bool = True) -> None:
    """Create ``folder`` if needed (without ``create``: check that it could be) and fail clearly when it
    cannot be written."""
    if not create and not folder.exists():
        folder = next(parent for parent in folder.parents if parent.exists())
        if not folder.is_dir():
            raise UserError(f"cannot create the output folder below {folder}: it is a file",
                            "choose another folder with --out")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UserError(f"cannot create the output folder {folder}: {exc.strerror}",
                        "choose another folder with --out") from None
    if not os.access(folder, os.W_OK | os.X_OK):
        raise UserError(f"the output folder {folder} is not writable",
                        "fix its permissions or choose another folder with --out")
