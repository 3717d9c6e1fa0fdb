"""What the run's own Prefect server skips: only what the user configured nothing about, and migrations only
where a note shows a server already brought this database to this Prefect's schema."""
from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path

import pytest

from pipeline.prefect import server_settings as settings
from pipeline.prefect.server_settings import BLOCKS, DATABASE, HEARTBEAT, MIGRATE

SPARE_ALL = {BLOCKS[0]: "false", MIGRATE[0]: "false"}


@pytest.fixture
def clean(monkeypatch, tmp_path):
    """No Prefect settings of the user's in the environment, and a working directory without settings files."""
    for name in BLOCKS + MIGRATE + HEARTBEAT + DATABASE + ("PREFECT_PROFILE", "PREFECT_PROFILES_PATH"):
        monkeypatch.delenv(name, raising=False)
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    return work


def _migrated_home(home: Path, package: Path, revision: str, migrations: list[str]) -> None:
    """A Prefect home whose database is at ``revision``, and a Prefect package shipping ``migrations``."""
    home.mkdir(exist_ok=True)
    with sqlite3.connect(home / "prefect.db") as db:
        db.execute("create table if not exists alembic_version (version_num varchar(32) not null)")
        db.execute("delete from alembic_version")
        db.execute("insert into alembic_version values (?)", (revision,))
    versions = package / "server" / "database" / "_migrations" / "versions" / "sqlite"
    shutil.rmtree(versions, ignore_errors=True)
    versions.mkdir(parents=True)
    for name in migrations:
        (versions / name).write_text("")


@pytest.fixture
def noted(tmp_path, clean):
    """A home whose database a migrating server left at rev2, as noted; and that Prefect package."""
    home, package = tmp_path / "home", tmp_path / "prefect"
    _migrated_home(home, package, "rev2", ["0001_a.py", "0002_b.py"])
    assert settings.spared_start_work(home, package, {}) == {BLOCKS[0]: "false"}  # nothing noted yet: migrate
    settings.write_note(*settings.database_note(home, package))
    assert settings.spared_start_work(home, package, {}) == SPARE_ALL
    return home, package


def test_migrations_are_skipped_only_while_the_note_matches_database_and_prefect(noted):
    home, package = noted
    _migrated_home(home, package, "rev2", ["0001_a.py", "0002_b.py", "0003_c.py"])  # a Prefect with a new migration
    assert MIGRATE[0] not in settings.spared_start_work(home, package, {})
    _migrated_home(home, package, "rev1", ["0001_a.py", "0002_b.py"])  # a database some other Prefect moved
    assert MIGRATE[0] not in settings.spared_start_work(home, package, {})
    (home / "prefect.db").unlink()  # no database: a server creates it
    assert MIGRATE[0] not in settings.spared_start_work(home, package, {})
    settings.write_note(*settings.database_note(home, package))  # a database without a revision: no note
    assert not (home / settings.DB_NOTE).exists()


@pytest.mark.parametrize("name", [*MIGRATE, *DATABASE])
@pytest.mark.parametrize("where", ["environment", "profile"])
def test_any_name_of_a_users_database_setting_keeps_the_migrations(noted, monkeypatch, name, where):
    home, package = noted
    value = "sqlite+aiosqlite:////elsewhere.db" if "CONNECTION_URL" in name else "true"
    if where == "environment":
        monkeypatch.setenv(name, value)
        profile = {}
    else:
        profile = {name: value}
    assert settings.spared_start_work(home, package, profile) == {BLOCKS[0]: "false"}
    assert settings.migrates({}, profile) == (name in MIGRATE)  # a user's "true" migrates; another database is not ours


@pytest.mark.parametrize("name", BLOCKS)
def test_a_users_block_setting_wins(noted, monkeypatch, name):
    monkeypatch.setenv(name, "true")
    assert settings.spared_start_work(*noted, {}) == {MIGRATE[0]: "false"}


@pytest.mark.parametrize("file, text", [("prefect.toml", "[server]\n"), (".env", "PREFECT_SERVER_DATABASE_HOST=db\n"),
                                        ("pyproject.toml", "[tool.prefect.server]\n")])
def test_prefect_settings_files_in_the_working_directory_turn_every_skip_off(noted, clean, file, text):
    (clean / file).write_text(text)
    home, _ = noted
    assert settings.spared_start_work(*noted, {}) == {}
    assert not settings.migrates({}, {}) and not settings.heartbeats_unset(home)


def test_an_unrelated_dotenv_changes_nothing(noted, clean):
    (clean / ".env").write_text("ANTHROPIC_API_KEY=sk-test\n")
    assert settings.spared_start_work(*noted, {}) == SPARE_ALL


def test_the_note_is_kept_only_from_a_server_that_surely_migrated(clean, monkeypatch):
    assert settings.migrates({}, {})
    assert not settings.migrates({MIGRATE[0]: "false"}, {})  # told to skip: it proves nothing
    monkeypatch.setenv(MIGRATE[1], "off")  # the user turned migrations off
    assert not settings.migrates({}, {})
    assert not settings.migrates({}, {MIGRATE[0]: "true", DATABASE[0]: "postgresql+asyncpg://db/prefect"})


@pytest.mark.parametrize("name", HEARTBEAT)
def test_a_users_heartbeat_setting_wins(clean, tmp_path, monkeypatch, name):
    home = tmp_path / "home"
    assert settings.heartbeats_unset(home)
    monkeypatch.setenv(name, "60")
    assert not settings.heartbeats_unset(home)
    monkeypatch.delenv(name)
    home.mkdir()
    (home / "profiles.toml").write_text(f'active = "mine"\n[profiles.mine]\n{name} = 45\n')
    assert not settings.heartbeats_unset(home)


def test_a_note_that_cannot_be_written_costs_nothing_but_the_saving(noted):
    home, package = noted
    (home / settings.DB_NOTE).unlink()
    (home / settings.DB_NOTE).mkdir()  # a folder in the way: neither replace nor unlink can work
    settings.write_note(*settings.database_note(home, package))
    settings.write_note(home / settings.DB_NOTE, {"revision": None, "migrations": "x"})
    assert settings.read_note(home) is None and MIGRATE[0] not in settings.spared_start_work(home, package, {})


def test_a_relative_home_is_read_like_an_absolute_one(noted, monkeypatch):
    home, package = noted
    monkeypatch.chdir(home.parent)
    assert settings.spared_start_work(Path(home.name), package, {}) == SPARE_ALL


def test_the_note_records_what_it_says(noted):
    home, _ = noted
    assert json.loads((home / settings.DB_NOTE).read_text())["revision"] == "rev2"
