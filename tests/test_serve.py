"""`film serve` end to end: a real Prefect server, the served deployment film/film, a run started over REST.

The run is started the way the UI's **Custom run** does it (POST /deployments/<id>/create_flow_run with
parameters), redoes one shot's animation, and must leave everything else to the cache.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import urllib.error
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import write_project
from tests.prefect_server import REPO, api, film_env, flow_runs, make_film, task_run_names, wait_for

pytestmark = pytest.mark.slow

TERMINAL = {"COMPLETED", "FAILED", "CRASHED", "CANCELLED"}
REGISTER_TIMEOUT_S = 60.0
RUN_TIMEOUT_S = 120.0
STOP_TIMEOUT_S = 30.0
EVENTS_TIMEOUT_S = 30.0


def _heartbeats(server, flow_run_id: str) -> list[dict[str, Any]]:
    """The recorded heartbeat events of one flow run."""
    query = {"filter": {"event": {"name": ["prefect.flow-run.heartbeat"]},
                        "resource": {"id": [f"prefect.flow-run.{flow_run_id}"]}}, "limit": 5}
    return api(server, "/events/filter", query)["events"]


def _deployment(server) -> dict[str, Any] | None:
    try:
        return api(server, "/deployments/name/film/film")
    except urllib.error.HTTPError as exc:
        if exc.code == 404:
            return None
        raise


def _stop(process: subprocess.Popen, log: Path) -> None:
    """Ctrl-C `film serve` and wait for it; kill its process group (and fail) if it does not stop."""
    if process.poll() is None:
        os.kill(process.pid, signal.SIGINT)
        try:
            process.wait(STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
            pytest.fail(f"film serve did not stop within {STOP_TIMEOUT_S:.0f} s of SIGINT:\n{log.read_text(errors='replace')}")


def test_served_deployment_redoes_one_shot(prefect_server, tmp_path: Path) -> None:
    server = prefect_server
    project = write_project(tmp_path / "proj")
    out = tmp_path / "out"
    make_film(server, project, out)
    before = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    made = flow_runs(server)[0]["id"]  # a lasting server hears the run's heartbeats (a run's own server does not)
    wait_for(lambda: _heartbeats(server, made), EVENTS_TIMEOUT_S, f"a heartbeat of flow run {made}")

    log = tmp_path / "serve.log"
    # The runner polls for scheduled runs every 10 s by default; once a second keeps this test short.
    env = film_env(server, PREFECT_RUNNER_POLL_FREQUENCY="1")
    with open(log, "wb") as sink:
        serving = subprocess.Popen([sys.executable, "-m", "pipeline", "serve", str(project)], env=env, cwd=REPO,
                                   stdin=subprocess.DEVNULL, stdout=sink, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        def registered() -> dict[str, Any] | None:
            if serving.poll() is not None:
                pytest.fail(f"film serve exited ({serving.returncode}):\n{log.read_text(errors='replace')}")
            return _deployment(server)

        deployment = wait_for(registered, REGISTER_TIMEOUT_S, "deployment film/film")
        parameters = {"project": str(project), "out": str(out), "force": ["animation"], "shots": "2"}
        run = api(server, f"/deployments/{deployment['id']}/create_flow_run", {"parameters": parameters})

        def finished() -> dict[str, Any] | None:
            if serving.poll() is not None:
                pytest.fail(f"film serve exited ({serving.returncode}):\n{log.read_text(errors='replace')}")
            current = api(server, f"/flow_runs/{run['id']}")
            return current if current["state_type"] in TERMINAL else None

        final = wait_for(finished, RUN_TIMEOUT_S, f"flow run {run['id']} to finish", every=0.5)
        assert final["state_type"] == "COMPLETED", f"{final['state']}\n{log.read_text(errors='replace')}"
    finally:
        _stop(serving, log)
    said = log.read_text(errors="replace")
    assert serving.returncode == 0 and "Traceback" not in said, f"film serve after SIGINT ({serving.returncode}):\n{said}"

    assert final["deployment_id"] == deployment["id"]
    assert final["parameters"] == parameters
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    computed = {(stage, shot["shot"]) for shot in manifest["shots"]
                for stage, artifact in shot["artifacts"].items() if artifact["computed"]}
    computed |= {(stage, None) for stage in ("script", "stitch") if (manifest[stage] or {}).get("computed")}
    # The stitch's key is made of the clips' content digests: it is redone only if the redone clip differs
    # (the local Ken Burns backend is deterministic, so the film normally comes from the cache).
    clip = {shot["shot"]: shot["artifacts"]["animation"]["digest"] for shot in before["shots"]}
    redone = next(shot for shot in manifest["shots"] if shot["shot"] == 2)["artifacts"]["animation"]
    expected = {("animation", 2)} | ({("stitch", None)} if redone["digest"] != clip[2] else set())
    assert computed == expected
    assert [shot["shot"] for shot in manifest["shots"]] == [shot["shot"] for shot in before["shots"]]
    assert manifest["stitch"]["digest"] == before["stitch"]["digest"] or ("stitch", None) in computed
    assert manifest["summary"]["computed"] == len(computed)
    assert manifest["summary"]["refused"] == []
    names = task_run_names(server, run["id"])
    assert [name for name in names if name.startswith("animation ·")] == ["animation · shot 02"], names
    assert "stitch · film" in names, names
    assert not any(name.startswith(("images ·", "narration ·")) for name in names), names
