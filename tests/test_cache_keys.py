"""Cache keys are a promise to every user's cache: the keys of projects/pride.yaml recorded before the pipeline's
restructuring (tests/data/pride_keys.json) must come out the same, so a film made then reruns as a no-op.

Animation and stitch keys hash upstream results (a still's digest, a narration's length); those come from
synthetic records here, the same ones the recording used. When a change of key is intended (a backend's new
version), record the keys anew: ``python tests/test_cache_keys.py > tests/data/pride_keys.json``.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RECORDED = ROOT / "tests" / "data" / "pride_keys.json"


def upstream(stage: str, shot: int, index: int):
    """A stored result of ``stage`` for ``shot``, as the recording made it up."""
    from pipeline.store import Record

    return Record(stage=stage, key=f"{stage}{shot:03d}", files={"main": f"{stage}/{stage}{shot:03d}.bin"},
                  digest=f"{stage[:3]}{shot:021d}",
                  result={"duration": 4.0 + index * 0.37,
                          "timings": [{"text": "Word.", "start": 0.1, "end": 1.0 + index * 0.1}]})


def pride_keys(out: Path) -> dict[str, str]:
    """Every cache key of the pride film: the script's, each shot's still, narration and clip, and the film's."""
    from pipeline.plan.graph import FILM_STAGE, SHOT_GRAPH
    from pipeline.run.context import open_context
    from pipeline.run.script import script_job

    ctx = open_context(ROOT / "projects" / "pride.yaml", out)
    job = script_job(ctx)
    ctx.screenplay = ctx.loaded.backends["script"].write(job.request)
    keys = {"script": job.key}
    parts = []
    for index, shot in enumerate(ctx.shots()):
        made = {name: upstream(name, shot.shot, index) for name in ("images", "narration", "animation")}
        for stage in SHOT_GRAPH:
            keys[f"{stage.name}:{shot.shot}"] = stage.job(ctx, shot, made).key
        parts.append((shot, made))
    keys[FILM_STAGE.name] = FILM_STAGE.job(ctx, parts).key
    return keys


def test_pride_keys_are_the_recorded_ones(tmp_path):
    recorded = json.loads(RECORDED.read_text(encoding="utf-8"))
    keys = pride_keys(tmp_path / "out")
    assert len(keys) == len(recorded) > 100
    changed = sorted(name for name in recorded if keys.get(name) != recorded[name])
    assert not changed, f"cache keys changed for {changed[:8]}: every existing film would be remade"


if __name__ == "__main__":
    json.dump(pride_keys(Path("/tmp/film-pride-keys")), sys.stdout, indent=1)
    print()
