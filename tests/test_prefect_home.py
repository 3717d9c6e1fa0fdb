"""One Prefect home per workspace: `film ui` in the workspace's root and `film make` of a project below it agree."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from pipeline.prefect import env as prefect_env
from pipeline.prefect import ui


@pytest.fixture
def workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A repository root (a ``.git`` folder) with a project file in ``projects/``; no PREFECT_HOME set."""
    root = tmp_path / "repo"
    (root / ".git").mkdir(parents=True)
    (root / "projects").mkdir()
    (root / "projects" / "x.yaml").write_text("name: x\n", encoding="utf-8")
    monkeypatch.delenv("PREFECT_HOME", raising=False)
    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    return root


def test_film_ui_in_the_root_and_film_make_of_a_project_below_use_the_same_home(workspace, monkeypatch, own_environ):
    monkeypatch.chdir(workspace)
    looked_at = ui.prefect_home()  # `film ui`, no argument
    prefect_env.configure(workspace / "projects")  # `film make projects/x.yaml`: its folder
    assert Path(os.environ["PREFECT_HOME"]) == looked_at == workspace / ".prefect"
    assert ui.prefect_home(workspace / "projects" / "x.yaml") == looked_at  # `film ui PROJECT` still works
    monkeypatch.chdir(workspace / "projects")
    assert ui.prefect_home() == looked_at  # from anywhere inside the workspace


@pytest.mark.parametrize("marker", [".film-workspace", "pyproject.toml", ".git"])
def test_the_nearest_folder_with_a_marker_is_the_workspace(workspace, marker):
    inner = workspace / "projects" / "team"
    inner.mkdir()
    assert prefect_env.workspace(inner) == workspace
    (workspace / "projects" / marker).touch()
    assert prefect_env.workspace(inner) == workspace / "projects"
    assert prefect_env.prefect_home(inner) == workspace / "projects" / ".prefect"


def test_a_prefect_home_set_by_the_user_wins(workspace, monkeypatch, tmp_path):
    monkeypatch.setenv("PREFECT_HOME", str(tmp_path / "mine"))
    monkeypatch.chdir(workspace)
    assert ui.prefect_home() == prefect_env.prefect_home(workspace / "projects") == tmp_path / "mine"


def test_without_a_marker_the_starting_folder_is_the_workspace(tmp_path, monkeypatch):
    if any((folder / marker).exists() for folder in tmp_path.parents for marker in prefect_env.WORKSPACE_MARKERS):
        pytest.skip("the temporary folder lies inside a workspace")
    monkeypatch.delenv("PREFECT_HOME", raising=False)
    assert prefect_env.prefect_home(tmp_path) == tmp_path / ".prefect"


def test_a_run_says_where_it_is_recorded(workspace, monkeypatch, own_environ):
    prefect_env.configure(workspace / "projects")
    assert prefect_env.where_recorded(None) == (f"this run is recorded in {workspace / '.prefect'} "
                                                "(`film ui` shows it)")
    assert prefect_env.where_recorded("http://127.0.0.1:4200").endswith("Prefect UI at http://127.0.0.1:4200")
