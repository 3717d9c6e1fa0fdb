"""Live smoke test: a two-sentence film through the real Claude, Ideogram, Luma and ElevenLabs APIs.

Costs about USD 1. Runs only with FILM_LIVE=1 and the four keys set; otherwise reported as skipped.
"""
from __future__ import annotations

import json
import os

import pytest

from tests.conftest import write_project
from tests.film_checks import stream_info

KEYS = ("ANTHROPIC_API_KEY", "IDEOGRAM_API_KEY", "LUMAAI_API_KEY", "ELEVENLABS_API_KEY")
LIVE = os.environ.get("FILM_LIVE") == "1" and all(os.environ.get(k) for k in KEYS)

pytestmark = [pytest.mark.live, pytest.mark.skipif(not LIVE, reason="live: set FILM_LIVE=1 and " + ", ".join(KEYS))]

TINY = """\
stages:
  script: {backend: anthropic, options: {model: claude-sonnet-4-6, max_tokens: 2000}}
  images: {backend: ideogram, options: {rendering_speed: TURBO}}
  animation: {backend: luma, options: {model: ray-flash-2, resolution: 540p}}
  narration: {backend: elevenlabs, options: {model_id: eleven_flash_v2_5}}
  stitch: {backend: moviepy}
"""


def test_a_tiny_film_through_the_real_providers(cli, tmp_path):
    project = write_project(tmp_path / "live", TINY, name="live", source="{path: story.txt, start: 'The rain', end: 'church.\"'}")
    out = tmp_path / "out"
    code, text = cli("make", project, "--out", out, "--budget", "3")
    assert code == 0, text
    assert "Video: h264" in stream_info(out / "film.mp4")
    spend = json.loads((out / "manifest.json").read_text())["spend"]
    assert 0 < spend["total_usd"] <= 3
    code, text = cli("make", project, "--out", out)
    assert code == 0 and "spent: $" not in text, "a rerun paid again"
