"""Shots on a Dask LocalCluster of two worker processes make the same film as the thread runner."""
from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.conftest import write_project

pytestmark = pytest.mark.slow

DETERMINISTIC = """\
stages:
  narration: {backend: piper, options: {noise_scale: 0, noise_w_scale: 0}}
runner: {kind: threads, workers: 2}
"""


def digests(out: Path) -> dict[str, str]:
    manifest = json.loads((out / "manifest.json").read_text())
    found = {f"{stage}:{shot['shot']}": art["digest"] for shot in manifest["shots"]
             for stage, art in shot["artifacts"].items()}
    return found | {"stitch": manifest["stitch"]["digest"]}


def test_dask_local_cluster_makes_the_same_film_as_threads(cli, tmp_path):
    project = write_project(tmp_path / "proj", DETERMINISTIC)
    code, out = cli("make", project, "--out", tmp_path / "threads")
    assert code == 0, out
    code, out = cli("make", project, "--out", tmp_path / "dask", "--runner", "dask")
    assert code == 0, out
    threads, dask = digests(tmp_path / "threads"), digests(tmp_path / "dask")
    assert len(threads) > 10 and dask == threads
    manifest = json.loads((tmp_path / "dask" / "manifest.json").read_text())
    assert manifest["summary"]["computed"] == len(threads) + 1  # every shot job and the script, none cached
    cache = tmp_path / "dask" / ".film" / "cache"
    pids = {json.loads((cache / stage / f"{art['key']}.json").read_text())["info"]["pid"]
            for shot in manifest["shots"] for stage, art in shot["artifacts"].items()}
    assert len(pids) == 2 and os.getpid() not in pids  # the shots ran in the two worker processes


def test_unknown_runner_is_a_user_error(cli, project_file):
    code, out = cli("make", project_file, "--runner", "spark")
    assert code == 2 and "--runner threads or --runner dask" in out
