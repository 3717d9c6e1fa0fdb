"""What the run's own Prefect server may skip, decided from the user's Prefect settings and a note on its database.

A run's server needs no block types (film's flow uses none; `film ui`'s server registers them), no migrations of
a database a server already brought to this Prefect's schema, and its run needs no heartbeats (nothing outlives
the run to watch for them). Each is skipped only where the user configured nothing about it: any name Prefect
reads the setting under, in the environment or the active profile, and no Prefect settings file (prefect.toml, a
.env naming PREFECT_ settings, a [tool.prefect] table) in the working directory. This module never imports Prefect.
"""
from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import tomllib
from collections.abc import Mapping
from pathlib import Path

from stages.files import write_json_atomic

DB_NOTE = "film-db.json"  # the revision a migrating server left the database at, and the migrations that made it
# Every name Prefect reads each setting under (current name first).
BLOCKS = ("PREFECT_SERVER_REGISTER_BLOCKS_ON_START", "PREFECT_API_BLOCKS_REGISTER_ON_START")
MIGRATE = ("PREFECT_SERVER_DATABASE_MIGRATE_ON_START", "PREFECT_API_DATABASE_MIGRATE_ON_START")
HEARTBEAT = ("PREFECT_FLOWS_HEARTBEAT_FREQUENCY", "PREFECT_RUNNER_HEARTBEAT_FREQUENCY")
DATABASE = tuple(f"PREFECT_{scope}_DATABASE_{field}" for scope in ("SERVER", "API")
                 for field in ("CONNECTION_URL", "DRIVER", "HOST", "NAME"))
_FALSE = ("0", "false", "f", "no", "n", "off")


def active_profile(home: Path) -> dict[str, object]:
    """The settings of the active Prefect profile (empty when there is no readable profiles file)."""
    path = Path(os.environ.get("PREFECT_PROFILES_PATH", home / "profiles.toml")).expanduser()
    try:
        profiles = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    active = os.environ.get("PREFECT_PROFILE") or profiles.get("active") or "ephemeral"
    return dict(profiles.get("profiles", {}).get(active, {}))


def user_setting(names: tuple[str, ...], profile: Mapping[str, object]) -> str | None:
    """The user's value of a setting Prefect knows by ``names``: from the environment, else the profile."""
    for source in (os.environ, profile):
        for name in names:
            if name in source:
                return str(source[name])
    return None


def settings_files(folder: Path) -> bool:
    """Whether ``folder`` (Prefect's working directory) holds Prefect settings we do not read ourselves."""
    def mentions(name: str, text: str) -> bool:
        try:
            return text in (folder / name).read_text(encoding="utf-8", errors="replace")
        except OSError:
            return False

    return ((folder / "prefect.toml").exists() or mentions(".env", "PREFECT_")
            or mentions("pyproject.toml", "tool.prefect"))


def spared_start_work(home: Path, package: Path, profile: Mapping[str, object]) -> dict[str, str]:
    """Settings that spare the run's server start-up work it does not need (~0.25 s each, before the run can
    begin): block types, and migrations where the database note still matches the database and ``package``."""
    if settings_files(Path.cwd()):
        return {}
    spare = {} if user_setting(BLOCKS, profile) is not None else {BLOCKS[0]: "false"}
    noted = user_setting(MIGRATE + DATABASE, profile) is None and read_note(home)
    if noted and noted == database_note(home, package):
        spare[MIGRATE[0]] = "false"
    return spare


def default_database(profile: Mapping[str, object]) -> bool:
    """Whether a server started here surely uses Prefect's default database (``prefect.db`` in its home)."""
    return user_setting(DATABASE, profile) is None and not settings_files(Path.cwd())


def migrates(spare: Mapping[str, str], profile: Mapping[str, object]) -> bool:
    """Whether a server started with ``spare`` surely migrates Prefect's default database in its home."""
    if MIGRATE[0] in spare or not default_database(profile):
        return False
    said = user_setting(MIGRATE, profile)
    return said is None or said.strip().lower() not in _FALSE


def heartbeats_unset(home: Path) -> bool:
    """Whether the user left flow-run heartbeats at Prefect's default."""
    return user_setting(HEARTBEAT, active_profile(home)) is None and not settings_files(Path.cwd())


def database_note(home: Path, package: Path) -> tuple[Path, dict[str, str | None]]:
    """Where the database note goes and what it says now: the revision of ``home``'s database (None when it has
    none) and a digest of the migrations ``package`` (Prefect) ships (None when they cannot be listed)."""
    try:
        names = sorted(os.listdir(package / "server" / "database" / "_migrations" / "versions" / "sqlite"))
        migrations = hashlib.sha256("\n".join(names).encode()).hexdigest()
    except OSError:
        migrations = None
    try:
        with sqlite3.connect(f"{(home / 'prefect.db').resolve().as_uri()}?mode=ro", uri=True) as db:
            revision = db.execute("select version_num from alembic_version").fetchone()[0]
    except (sqlite3.Error, TypeError, ValueError, OSError):  # no database yet, or no revision in it
        revision = None
    return home / DB_NOTE, {"revision": revision, "migrations": migrations}


def read_note(home: Path) -> tuple[Path, dict[str, str]] | None:
    """The database note last written in ``home``, when it records a revision and the migrations that made it."""
    try:
        note = json.loads((home / DB_NOTE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(note, dict) or None in (note.get("revision"), note.get("migrations")):
        return None
    return home / DB_NOTE, note


def write_note(path: Path, note: dict[str, str | None]) -> None:
    """Write the database note (atomically), or remove it when the database shows no revision; a failure only
    costs later runs their migration check."""
    try:
        if None in note.values():
            path.unlink(missing_ok=True)
        else:
            write_json_atomic(path, note)
    except OSError:
        pass
