"""Content-addressed artifact store: every result keyed by a hash of what made it, written atomically."""
from __future__ import annotations

import logging
import os
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from pipeline.errors import FilmError
from pipeline.store.keys import file_digest
from pipeline.store.records import Record, RecordInfo
from pipeline.store.verify import Damage, damage_of, file_sizes
from stages.files import TEMP_MARK, host_tag, temp_sibling, temp_writer, write_json_atomic, write_text_atomic

if TYPE_CHECKING:
    from pipeline.store.remote import RemoteStore

log = logging.getLogger("film.store")
SHARED_TEMP_AGE_S = 6 * 3600  # a temp file this old in a shared store belongs to no running job


class Store:
    """Artifacts live at ``root/<stage>/<key>.<ext>`` with a ``<key>.json`` record written last.

    With a ``remote`` (an fsspec URL every worker of a cluster reaches), ``root`` is this process's mirror:
    records are looked up here first, then there; files come down when first used (``path_of``); what is
    made here goes up, files first and the record last. A ``<key>.pushed`` marker names the remote that holds
    an artifact, so an upload cut short (or a new store URL) is finished on the next load, never lost.
    """

    def __init__(self, root: Path, remote: RemoteStore | None = None, shared: bool = False) -> None:
        self.root = root
        self.remote = remote
        self.shared = shared  # other runs (other out folders, other machines) write in ``root`` too
        self._shared_journals: set[Path] = set()  # journals this process found on, or put on, the remote

    def check(self) -> None:
        """Fail before any work when the remote cannot be reached (a no-op without one)."""
        if self.remote:
            self.remote.check()

    def record_path(self, stage: str, key: str) -> Path:
        """Where the JSON record of an artifact lives."""
        return self.root / stage / f"{key}.json"

    def load(self, stage: str, key: str) -> Record | None:
        """The record of a finished artifact, or None when it is not (fully, soundly) there. With a remote, a
        record found there is kept here at once and its files come down when first used (``path_of``)."""
        return self.inspect(stage, key)[0]

    def inspect(self, stage: str, key: str) -> tuple[Record | None, Damage | None]:
        """The record of a finished artifact to reuse, or None with the damage found when one of its files is
        missing or not the size it was made (checked every time: it costs a stat per file)."""
        path = self.record_path(stage, key)
        try:
            record = Record.model_validate_json(path.read_bytes())
        except (OSError, ValueError):  # missing, cut short, or not a record (pydantic's errors are ValueErrors)
            shared = _record_or_none(self.remote.read_json(f"{stage}/{key}.json")) if self.remote else None
            if shared is not None:
                write_json_atomic(path, shared.as_json())
                self._mark_pushed(shared)
            return shared, None
        damage = damage_of(self.root, record)
        if self.remote and self._pushed(record):  # the remote holds sound copies: these come down when used
            if damage is not None:
                self._forget_local_copies(record)
            return record, None
        if damage is not None:
            return None, damage
        if self.remote:
            self._push(record)  # made here by a run whose upload was cut short
        return record, None

    def _forget_local_copies(self, record: Record) -> None:
        """Remove the local copies of an artifact's files that are not the size they were made."""
        for name, rel in record.files.items():
            local = self.root / rel
            if local.is_file() and record.size_of(name) not in (None, local.stat().st_size):
                local.unlink()

    def drop(self, record: Record) -> int:
        """Remove an artifact (its record first, then its files) so the next run makes it again; bytes freed."""
        freed = 0
        record_path = self.record_path(record.stage, record.key)
        files = (self.root / rel for rel in record.files.values())
        for path in (record_path, record_path.with_suffix(".pushed"), *files):
            try:
                freed += path.stat().st_size
                path.unlink()
            except FileNotFoundError:
                continue
        return freed

    def remember_sizes(self, record: Record) -> Record:
        """Write the sizes of a record's (verified) files into a record that has none; the record as stored."""
        if record.sizes:
            return record
        sized = record.model_copy(update={"sizes": file_sizes(self.root, record)})
        write_json_atomic(self.record_path(record.stage, record.key), sized.as_json())
        return sized

    def local_path(self, record: Record, name: str = "main") -> Path:
        """Where one file of an artifact is (or will be, once fetched) in this process's store."""
        return self.root / record.files[name]

    def fetch(self, record: Record) -> None:
        """Make every file of an artifact local (a no-op without a remote)."""
        for name in record.files:
            self.path_of(record, name)

    def path_of(self, record: Record, name: str = "main") -> Path:
        """Absolute local path of one file of an artifact record (downloaded from the remote when needed)."""
        path = self.local_path(record, name)
        if self.remote and not path.is_file():
            self.remote.fetch(record.files[name], path, record.digest_of(name))
        return path

    def journal_path(self, stage: str, key: str) -> Path:
        """Where a job's provider journal lives in this process's store."""
        return self.root / stage / f"{key}.journal.json"

    def journal(self, stage: str, key: str) -> Path:
        """Where a job keeps its provider journal (a copy of the remote's when another worker left one)."""
        path = self.journal_path(stage, key)
        if self.remote and not path.is_file():
            found = self.remote.read_json(f"{stage}/{path.name}")
            if found is not None:
                write_json_atomic(path, found)
                self._shared_journals.add(path)
        return path

    def journal_saved(self, path: Path) -> None:
        """Share a journal just written, so a job paid for here can be collected from any worker (best effort:
        the local journal is kept either way)."""
        if self.remote:
            try:
                self.remote.upload(path, str(path.relative_to(self.root)))
                self._shared_journals.add(path)
            except FilmError as exc:
                log.warning("could not share the provider journal %s: %s", path.name, exc)

    def drop_journal(self, stage: str, key: str) -> None:
        """Forget a job's journal once its result is stored."""
        path = self.journal_path(stage, key)
        path.unlink(missing_ok=True)
        if path in self._shared_journals:
            self._shared_journals.discard(path)
            try:
                self._shared.remove(f"{stage}/{path.name}")
            except FilmError as exc:  # a stale journal only costs a status check of a finished job later
                log.warning("could not remove the shared provider journal %s: %s", path.name, exc)

    @property
    def _shared(self) -> RemoteStore:
        """The remote, for the code that runs only when there is one."""
        assert self.remote is not None, "only a store with a remote shares its artifacts"
        return self.remote

    def _pushed(self, record: Record) -> bool:
        marker = self.record_path(record.stage, record.key).with_suffix(".pushed")
        try:
            return marker.read_text(encoding="utf-8") == self._shared.url
        except OSError:
            return False

    def _mark_pushed(self, record: Record) -> None:
        """Note which remote holds this artifact (a changed store URL gets everything uploaded again)."""
        write_text_atomic(self.record_path(record.stage, record.key).with_suffix(".pushed"), self._shared.url)

    def _push(self, record: Record) -> None:
        """Upload a finished artifact made here: files first, the record last, then mark it pushed."""
        for rel in record.files.values():
            self._shared.upload(self.root / rel, rel)
        self._shared.write_json(f"{record.stage}/{record.key}.json", record.as_json())
        self._mark_pushed(record)

    def produce(
        self,
        stage: str,
        key: str,
        suffixes: dict[str, str],
        make: Callable[[dict[str, Path]], dict[str, Any]],
        info: dict[str, Any] | None = None,
    ) -> Record:
        """Run ``make`` on temporary paths, then rename them into place and write the record last."""
        folder = self.root / stage
        folder.mkdir(parents=True, exist_ok=True)
        finals = {name: folder / f"{key}{'' if name == 'main' else '.' + name}{suffix}"
                  for name, suffix in suffixes.items()}
        temps = {name: temp_sibling(path) for name, path in finals.items()}
        started = time.perf_counter()
        try:
            result = make(temps)
            for name, tmp in temps.items():
                os.replace(tmp, finals[name])
        finally:
            for tmp in temps.values():
                tmp.unlink(missing_ok=True)
        record = Record(
            stage=stage,
            key=key,
            files={name: str(path.relative_to(self.root)) for name, path in finals.items()},
            digest=file_digest(finals["main"]),
            digests={name: file_digest(path) for name, path in finals.items() if name != "main"},
            sizes={name: path.stat().st_size for name, path in finals.items()},
            result=result,
            info=RecordInfo(**(info or {})),
            wall_s=round(time.perf_counter() - started, 3),
            finished_at=round(time.time(), 3),
            created=time.strftime("%Y-%m-%dT%H:%M:%S"),
        )
        self.record_path(stage, key).with_suffix(".pushed").unlink(missing_ok=True)  # a forced redo goes up again
        write_json_atomic(self.record_path(stage, key), record.as_json())
        if self.remote:
            self._push(record)
        return record

    def sweep_temporaries(self, *folders: Path) -> int:
        """Remove temp files and folders (named ``*.tmp-*``) left by an interrupted run, anywhere in the store
        and directly in ``folders``; returns how many. Only those whose writer is gone (``writer_gone``)."""
        count = 0
        pattern = f"*{TEMP_MARK}*"
        found = [*(self.root.rglob(pattern) if self.root.is_dir() else ()),
                 *(tmp for folder in folders if folder.is_dir() for tmp in folder.glob(pattern))]
        for tmp in found:
            try:
                if not writer_gone(tmp, self.shared):
                    continue
                if tmp.is_dir():
                    shutil.rmtree(tmp)
                else:
                    tmp.unlink()
                count += 1
            except FileNotFoundError:
                continue
        return count


def writer_gone(tmp: Path, shared: bool) -> bool:
    """Whether no process can still be writing the temporary ``tmp``: its writer's pid is dead on this host; a
    temp of another host's (in a shared store) is older than SHARED_TEMP_AGE_S; a temp whose name does not say
    its writer is in a store of this run's alone, or that old."""
    writer = temp_writer(tmp.name)
    if writer is not None and writer[0] == host_tag():
        return not _alive(writer[1])
    if writer is None and not shared:
        return True
    return tmp.stat().st_mtime < time.time() - SHARED_TEMP_AGE_S


def _alive(pid: int) -> bool:
    """Whether a process with this pid runs on this host (a zombie counts as gone)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's: alive
        return True
    try:
        return Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0] != "Z"
    except (OSError, IndexError):  # no /proc (not Linux): the signal said it is there
        return True


def _record_or_none(found: dict[str, Any] | None) -> Record | None:
    """A record read from the remote, or None when there is none there or it is not one."""
    if found is None:
        return None
    try:
        return Record.model_validate(found)
    except ValidationError:
        return None
