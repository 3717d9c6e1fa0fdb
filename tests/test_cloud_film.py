"""The cloud film end to end: Claude → Ideogram → Luma → ElevenLabs against the local fake providers,
with faults injected, refusals, a rerun that pays nothing, --estimate and --budget."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import write_project
from tests.fakes import anthropic, elevenlabs, ideogram, luma
from tests.fakes.server import FakeServer
from tests.film_checks import stream_info

PROVIDERS = {"anthropic": anthropic.install, "ideogram": ideogram.install, "luma": luma.install,
             "elevenlabs": elevenlabs.install}
PATHS = {"luma": "/dream-machine/v1"}  # the SDK's base URL includes its API path
KEYS = {"anthropic": "ANTHROPIC_API_KEY", "ideogram": "IDEOGRAM_API_KEY", "luma": "LUMAAI_API_KEY",
        "elevenlabs": "ELEVENLABS_API_KEY"}
CLOUD_STAGES = """\
stages:
  script: {backend: anthropic}
  images: {backend: ideogram}
  animation: {backend: luma, options: {poll_interval_s: 0.05}}
  narration: {backend: elevenlabs, options: {timeout_s: 1.5}}
  stitch: {backend: moviepy}
retries: {attempts: 4, backoff_s: 0.05, max_backoff_s: 0.2}
concurrency: {ideogram: 3, luma: 3, elevenlabs: 2}
"""


@pytest.fixture
def server(monkeypatch):
    fake = FakeServer(PROVIDERS).start()
    for provider, env in KEYS.items():
        monkeypatch.setenv(f"FILM_{provider.upper()}_BASE_URL", fake.url(provider) + PATHS.get(provider, ""))
        monkeypatch.setenv(env, anthropic.KEY if provider == "anthropic" else f"test-key-{provider}")
    yield fake
    fake.stop()


@pytest.fixture
def cloud_project(tmp_path) -> Path:
    return write_project(tmp_path / "proj", CLOUD_STAGES, name="cloud")


def manifest(project: Path) -> dict:
    return json.loads((project.parent / "out" / "cloud" / "manifest.json").read_text())


def make(cli, project: Path, *flags: str) -> tuple[int, str]:
    return cli("make", project, "--out", project.parent / "out" / "cloud", *flags)


def test_cloud_film_survives_faults_and_a_rerun_pays_nothing(cli, server, cloud_project):
    server.fault("anthropic", "500")
    server.fault("ideogram", "429", retry_after=0.3)
    server.fault("luma", "500")
    server.fault("elevenlabs", "slow", delay=3.0)
    code, out = make(cli, cloud_project)
    assert code == 0, out
    shots = manifest(cloud_project)["shots"]
    n = len(shots)
    assert n >= 3
    assert server.state.paid == {"anthropic": 1, "ideogram": n, "luma": n, "elevenlabs": n}
    film = cloud_project.parent / "out" / "cloud" / "film.mp4"
    info = stream_info(film)
    assert "Video: h264" in info and "Audio: aac" in info
    spend = manifest(cloud_project)["spend"]
    assert set(spend["by_stage"]) == {"script", "images", "animation", "narration"}
    assert all(v > 0 for v in spend["by_stage"].values())
    assert all(shot["artifacts"]["animation"]["spend_usd"] > 0 for shot in shots)
    assert "spent: $" in out
    written = "".join(p.read_text(errors="ignore") for p in (cloud_project.parent / "out").rglob("*")
                      if p.is_file() and p.suffix in (".json", ".yaml", ".srt"))
    assert "test-key-" not in written and anthropic.KEY not in written and "test-key-" not in out
    seen = len(server.state.requests)
    code, out = make(cli, cloud_project)
    assert code == 0, out
    assert len(server.state.requests) == seen, "a rerun talked to a provider"


def test_a_refused_shot_is_listed_and_the_film_goes_on(cli, server, cloud_project):
    server.fault("ideogram", "reject")
    code, out = make(cli, cloud_project)
    assert code == 2, out
    refused = manifest(cloud_project)["summary"]["refused"]
    assert [r["stage"] for r in refused] == ["images", "animation"]
    shot = refused[0]["shot"]
    assert f"refused: shot {shot:02d} images" in out and "screenplay.yaml" in out
    assert (cloud_project.parent / "out" / "cloud" / "film.mp4").is_file()
    paid = dict(server.state.paid)
    code, out = make(cli, cloud_project)  # the fault is gone: only the refused shot is made now
    assert code == 0, out
    assert server.state.paid["ideogram"] == paid["ideogram"] + 1
    assert server.state.paid["luma"] == paid["luma"] + 1
    assert server.state.paid["elevenlabs"] == paid["elevenlabs"]


def test_estimate_calls_nobody_and_a_budget_stops_before_paying(cli, server, cloud_project):
    code, out = make(cli, cloud_project, "--estimate")
    assert code == 0, out
    assert "total $" in out and "ideogram/V_3:TURBO" in out and "luma/ray-2:second" in out
    assert server.state.requests == []
    code, out = make(cli, cloud_project, "--budget", "0")
    assert code == 2, out
    assert "budget" in out
    assert sum(server.state.paid.values()) == 0


def test_a_damaged_paid_still_stops_the_run_before_paying(cli, server, cloud_project):
    code, out = make(cli, cloud_project)
    assert code == 0, out
    shot = manifest(cloud_project)["shots"][1]
    number, still = shot["shot"], cloud_project.parent / "out" / "cloud" / shot["artifacts"]["images"]["path"]
    still.write_bytes(still.read_bytes()[:100])  # cut short after it was bought
    paid = dict(server.state.paid)
    code, out = cli("status", cloud_project, "--out", cloud_project.parent / "out" / "cloud")
    assert code == 0 and "damaged" in out, out
    code, out = make(cli, cloud_project)
    said = " ".join(out.split())
    assert code == 2, out
    assert f"images of shot {number} is damaged" in said and still.name in said
    assert f"--force images --shots {number}`" in said and "about $0.0300" in said  # one TURBO still
    assert server.state.paid == paid, "a damaged paid result was bought again unasked"
    code, out = make(cli, cloud_project, "--force", "images", "--shots", str(number))
    assert code == 0, out
    assert server.state.paid["ideogram"] == paid["ideogram"] + 1


@pytest.mark.slow
def test_the_pride_cloud_project_makes_the_chapter_against_the_fakes(cli, server, tmp_path):
    """projects/pride-cloud.yaml as shipped (only the frame made small and Luma polled faster), the whole
    chapter, one command."""
    import yaml

    shipped = Path(__file__).resolve().parents[1] / "projects" / "pride-cloud.yaml"
    data = yaml.safe_load(shipped.read_text())
    data["source"]["path"] = str((shipped.parent / data["source"]["path"]).resolve())
    data["finish"]["music"] = str((shipped.parent / data["finish"]["music"]).resolve())
    data["format"] = {"width": 320, "height": 180, "fps": 12, "aspect": "16:9"}
    data["stages"]["animation"]["options"]["poll_interval_s"] = 0.05
    project = tmp_path / "pride-cloud.yaml"
    project.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True))
    out = tmp_path / "out"
    code, text = cli("make", project, "--out", out)
    assert code == 0, text
    shots = json.loads((out / "manifest.json").read_text())["shots"]
    assert len(shots) > 20
    assert server.state.paid == {"anthropic": 1, "ideogram": len(shots), "luma": len(shots),
                                 "elevenlabs": len(shots)}
    assert "Video: h264" in stream_info(out / "film.mp4")
