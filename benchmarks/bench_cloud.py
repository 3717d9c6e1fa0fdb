"""Benchmark the cloud film's concurrency against simulated provider latency (no network, no keys).

    .venv/bin/python benchmarks/bench_cloud.py [--project projects/pride-cloud.yaml] [--until animation]

Starts the local fake providers (tests/fakes) with a fixed latency per request, makes the film with
`film make`, then compares the wall time of the provider work (script start to last shot finished) with
its lower bound: the script, then the longest of (a) the slowest shot chain, still or narration then
clip, and (b) each provider's total job time divided by its concurrency limit. Also prints the
request and paid-call counts per provider, and checks that a rerun makes no request at all.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

LATENCY = {"anthropic": 3.0, "ideogram": 1.5, "luma": 0.3, "elevenlabs": 0.8}  # seconds per request
PATHS = {"luma": "/dream-machine/v1"}
KEYS = {"ideogram": "IDEOGRAM_API_KEY", "luma": "LUMAAI_API_KEY", "elevenlabs": "ELEVENLABS_API_KEY"}


def start_fakes():
    """The fake providers with their latency, keys and base URLs set in this process's environment."""
    from tests.fakes import anthropic, elevenlabs, ideogram, luma
    from tests.fakes.server import FakeServer

    server = FakeServer({"anthropic": anthropic.install, "ideogram": ideogram.install, "luma": luma.install,
                         "elevenlabs": elevenlabs.install}).start()
    server.state.latency.update(LATENCY)
    os.environ["ANTHROPIC_API_KEY"] = anthropic.KEY
    for provider, env in KEYS.items():
        os.environ[env] = f"bench-{provider}"
    for provider in LATENCY:
        os.environ[f"FILM_{provider.upper()}_BASE_URL"] = server.url(provider) + PATHS.get(provider, "")
    return server


def jobs(out: Path) -> list[dict]:
    """Every job record this run computed: stage, shot, start and end (epoch seconds)."""
    manifest = json.loads((out / "manifest.json").read_text())
    arts = [(stage, art) for shot in manifest["shots"] for stage, art in shot["artifacts"].items()]
    arts += [("script", manifest["script"])] if manifest.get("script") else []
    found = []
    for stage, art in arts:
        if art["computed"]:
            record = json.loads((out / ".film" / "cache" / stage / f"{art['key']}.json").read_text())
            found.append({"stage": stage, "shot": record["info"].get("shot"), "busy": record["info"].get("busy_s"),
                          "start": record["finished_at"] - record["wall_s"], "end": record["finished_at"]})
    return found


def lower_bound(found: list[dict], limits: dict[str, int]) -> float:
    """The least wall time the same jobs could take with unlimited threads but the providers' limits
    (each job's time is the time it held a provider slot, not its wait for one)."""
    took = {(j["stage"], j["shot"]): j["busy"] if j["busy"] is not None else j["end"] - j["start"] for j in found}
    shots = {j["shot"] for j in found if j["shot"] is not None}
    chain = max((max(took.get(("images", s), 0), took.get(("narration", s), 0)) + took.get(("animation", s), 0)
                 for s in shots), default=0.0)
    lanes = [sum(t for (stage, _), t in took.items() if stage == name) / limit for name, limit in limits.items()]
    return took.get(("script", None), 0.0) + max([chain, *lanes])


def main() -> None:
    """Make the film against the fakes, report, rerun."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--project", type=Path, default=ROOT / "projects" / "pride-cloud.yaml")
    parser.add_argument("--until", default="animation")
    args = parser.parse_args()
    os.environ.setdefault("PREFECT_HOME", tempfile.mkdtemp(prefix="film-bench-prefect-"))
    server = start_fakes()
    from typer.testing import CliRunner

    from pipeline.cli import app
    from pipeline.run.context import open_context

    out = Path(tempfile.mkdtemp(prefix="film-bench-cloud-"))
    started = time.perf_counter()
    result = CliRunner().invoke(app, ["make", str(args.project), "--out", str(out), "--until", args.until])
    wall = time.perf_counter() - started
    if result.exit_code != 0:
        sys.exit(f"film make failed ({result.exit_code}):\n{result.output}")
    found = jobs(out)
    ctx = open_context(args.project, out)
    stage_of = {"images": "images", "narration": "narration", "animation": "animation"}
    limits = {stage_of[stage]: ctx.desk.slots_of(backend) for stage, backend in ctx.loaded.backends.items()
              if stage in stage_of}
    span = max(j["end"] for j in found) - min(j["start"] for j in found)
    bound = lower_bound(found, limits)
    requests = {p: sum(1 for r in server.state.requests if r[0] == p) for p in LATENCY}
    print(f"shots: {len({j['shot'] for j in found if j['shot']})}, latency per request: {LATENCY}")
    print(f"requests per provider: {requests}; paid calls: {dict(server.state.paid)}")
    print(f"provider work: {span:.1f} s wall vs lower bound {bound:.1f} s -> {span / bound:.2f}x (goal <= 1.2x); "
          f"whole command {wall:.1f} s; limits {limits}")
    seen = len(server.state.requests)
    rerun = CliRunner().invoke(app, ["make", str(args.project), "--out", str(out), "--until", args.until])
    print(f"rerun: exit {rerun.exit_code}, {len(server.state.requests) - seen} requests")
    server.stop()


if __name__ == "__main__":
    main()
