"""`film ui`: a real Prefect server that `film make` finds through the Prefect home and reports its runs to."""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from pipeline.prefect import env as prefect_env
from pipeline.prefect import ui
from pipeline.prefect.server import ServerProcess
from pipeline.errors import UserError
from tests.conftest import write_project

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
SHOT_TASKS = [f"{stage} · shot 01" for stage in ("images", "narration", "animation")] + ["stitch · film"]


def free_port() -> int:
    """A loopback port nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind((ui.HOST, 0))
        return probe.getsockname()[1]


def film_make(project: Path, out: Path, home: Path, *args: str) -> subprocess.CompletedProcess:
    """`film make` in a fresh process with PREFECT_HOME set and no PREFECT_API_URL: only the UI file can route it."""
    env = {k: v for k, v in os.environ.items() if k != "PREFECT_API_URL"}
    env["PREFECT_HOME"] = str(home)
    return subprocess.run([sys.executable, "-m", "pipeline", "make", str(project), "--out", str(out), *args],
                          env=env, cwd=ROOT, capture_output=True, text=True, timeout=180)


def api(server: ServerProcess, path: str, body: dict) -> list[dict]:
    """POST to the server's REST API."""
    reply = httpx.post(f"{server.url}/api{path}", json=body, timeout=10, trust_env=False)
    reply.raise_for_status()
    return reply.json()


@pytest.fixture(scope="module")
def place(tmp_path_factory) -> dict[str, Path]:
    """One Prefect home, project and output folder shared by the module (its database is migrated once)."""
    root = tmp_path_factory.mktemp("ui")
    return {"home": root / ".prefect", "project": write_project(root / "proj"), "out": root / "out"}


@pytest.fixture(scope="module")
def server(place):
    """A real Prefect server started through pipeline.prefect.ui on a free loopback port."""
    started = ui.start_server(place["home"], free_port())
    print(f"\nPrefect server ready in {started.seconds:.1f} s")
    yield started
    ui.stop_server(started)


def test_start_records_the_server_for_film_make(server, place):
    record = json.loads(prefect_env.ui_file(place["home"]).read_text())
    assert record["url"] == server.url == f"http://{ui.HOST}:{server.url.rsplit(':', 1)[1]}"
    assert record["pid"] == server.pid
    assert prefect_env.running_ui(place["home"])["url"] == server.url
    assert os.getpgid(server.pid) == server.pid, "the server runs in its own process group"


def test_film_make_sends_its_runs_to_the_ui(server, place):
    started = time.perf_counter()
    done = film_make(place["project"], place["out"], place["home"])
    print(f"\nfilm make against the server: {time.perf_counter() - started:.1f} s")
    assert done.returncode == 0, done.stdout + done.stderr
    assert (place["out"] / "film.mp4").is_file()
    runs = [r for r in api(server, "/flow_runs/filter", {}) if r["name"].startswith("short")]
    assert len(runs) == 1, [r["name"] for r in runs]
    assert runs[0]["state_type"] == "COMPLETED"
    tasks = api(server, "/task_runs/filter", {"flow_runs": {"id": {"any_": [runs[0]["id"]]}}, "limit": 200})
    states = {t["name"]: t["state_type"] for t in tasks}
    for name in SHOT_TASKS:
        assert states.get(name) == "COMPLETED", (name, sorted(states))


def test_configure_finds_the_ui_but_a_user_set_api_url_wins(server, place, own_environ):
    os.environ.pop("PREFECT_API_URL", None)
    os.environ["PREFECT_HOME"] = str(place["home"])
    assert prefect_env.configure(place["project"].parent) == server.url
    assert os.environ["PREFECT_API_URL"] == f"{server.url}/api"
    mine = f"http://127.0.0.1:{free_port()}/api"
    os.environ["PREFECT_API_URL"] = mine
    assert prefect_env.configure(place["project"].parent) is None
    assert os.environ["PREFECT_API_URL"] == mine
    assert prefect_env.ui_file(place["home"]).is_file(), "a live server's file stays"


def test_a_second_ui_for_the_same_home_is_refused(server, place):
    with pytest.raises(UserError) as caught:
        ui.start_server(place["home"], free_port())
    assert server.url in str(caught.value) and "already running" in str(caught.value)


def test_stop_ends_the_server_and_removes_its_file(server, place):
    started = time.perf_counter()
    ui.stop_server(server)
    print(f"\nstopped in {time.perf_counter() - started:.1f} s")
    assert server.process.poll() is not None
    with pytest.raises(ProcessLookupError):
        os.killpg(server.pid, 0)
    assert not prefect_env.ui_file(place["home"]).exists()
    assert not prefect_env.answers(server.url)


def test_a_stale_file_is_ignored_and_removed(place, own_environ):
    record = prefect_env.ui_file(place["home"])
    place["home"].mkdir(parents=True, exist_ok=True)
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    dead_url = f"http://127.0.0.1:{free_port()}"
    # a live pid whose server does not answer: configure() in this process ignores and removes it
    record.write_text(json.dumps({"url": dead_url, "pid": os.getpid()}))
    os.environ.pop("PREFECT_API_URL", None)
    os.environ["PREFECT_HOME"] = str(place["home"])
    assert prefect_env.configure(place["project"].parent) is None
    assert "PREFECT_API_URL" not in os.environ and not record.exists()
    # a dead pid: `film make` runs ephemerally as usual (it would fail if it went to the dead URL)
    record.write_text(json.dumps({"url": dead_url, "pid": gone.pid}))
    cached = (place["out"] / "film.mp4").is_file()
    done = film_make(place["project"], place["out"], place["home"], *(["--force", "stitch"] if cached else []))
    assert done.returncode == 0, done.stdout + done.stderr
    assert not record.exists()


def test_a_port_in_use_is_the_users_to_fix(tmp_path):
    with socket.socket() as taken:
        taken.bind((ui.HOST, 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(UserError) as caught:
            ui.start_server(tmp_path / ".prefect", port)
    assert f"port {port}" in str(caught.value) and "--port" in caught.value.hint
    assert not (tmp_path / ".prefect" / prefect_env.UI_FILE).exists()


def _ignore_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)


@pytest.mark.parametrize("started", ["in a terminal", "in the background of a script"])
def test_ctrl_c_stops_film_ui_cleanly(place, started):
    """`film ui` as the user runs it: Ctrl-C (SIGINT to its process group) stops the server; exit 0, no traceback.
    Started with `&` from a script, a process begins with SIGINT ignored: SIGINT must stop it all the same."""
    env = dict(os.environ, PREFECT_HOME=str(place["home"]), PYTHONUNBUFFERED="1")
    env.pop("PREFECT_API_URL", None)
    port = free_port()
    argv = [sys.executable, "-m", "pipeline", "ui", "--port", str(port)]
    preexec = _ignore_sigint if started == "in the background of a script" else None
    proc = subprocess.Popen(argv, env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True, preexec_fn=preexec)
    lines = []
    for line in proc.stdout:
        lines.append(line)
        if "Ctrl-C" in line:
            break
    output = "".join(lines)
    assert "Prefect UI: http://127.0.0.1:" in output, output
    pid = json.loads(prefect_env.ui_file(place["home"]).read_text())["pid"]
    os.killpg(proc.pid, signal.SIGINT)  # what the terminal does; the server has its own group
    try:
        rest, _ = proc.communicate(timeout=30)
    except subprocess.TimeoutExpired:  # leave no server behind: kill both groups, then fail
        for group in (proc.pid, pid):
            os.killpg(group, signal.SIGKILL)
        pytest.fail(f"film ui did not stop within 30 s of SIGINT ({started}):\n{output}")
    output += rest
    assert proc.returncode == 0, output
    assert "Traceback" not in output and "stopped the Prefect server" in output, output
    assert not prefect_env.pid_alive(pid)
    with pytest.raises(ProcessLookupError):
        os.killpg(pid, 0)
    assert not prefect_env.ui_file(place["home"]).exists()


def test_film_ui_in_a_workspace_root_shows_a_make_of_a_project_below(tmp_path):
    """A newcomer's order: `film ui` in the repository's root, then the README's `film make projects/….yaml`
    from there, with no PREFECT_HOME: both use ``<root>/.prefect``, so the run shows in that UI."""
    root = tmp_path / "repo"
    (root / ".git").mkdir(parents=True)
    write_project(root / "projects")
    env = {k: v for k, v in os.environ.items() if k not in ("PREFECT_API_URL", "PREFECT_HOME")}
    env.update(PYTHONUNBUFFERED="1", PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")])))
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "pipeline", "ui", "--port", str(port)], env=env, cwd=root,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try:
        said = ""
        for line in proc.stdout:
            said += line
            if "Ctrl-C" in line:
                break
        squeezed = "".join(said.split())  # the console wraps long lines
        assert f"Prefecthome:{root / '.prefect'}" in squeezed, said
        done = subprocess.run([sys.executable, "-m", "pipeline", "make", "projects/project.yaml", "--out", "out",
                               "--until", "images"], env=env, cwd=root, capture_output=True, text=True, timeout=180)
        assert done.returncode == 0, done.stdout + done.stderr
        assert f"thisrunshowsinthePrefectUIathttp://{ui.HOST}:{port}" in "".join(done.stderr.split()), done.stderr
        runs = httpx.post(f"http://{ui.HOST}:{port}/api/flow_runs/filter", json={}, timeout=10, trust_env=False).json()
        assert [run["name"].split(" · ")[0] for run in runs] == ["short"], runs
    finally:
        os.killpg(proc.pid, signal.SIGINT)
        try:
            proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
    assert not prefect_env.ui_file(root / ".prefect").exists()
