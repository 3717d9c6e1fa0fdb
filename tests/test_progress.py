"""The terminal's stage bars: every job planned as work ends its bar, even one that turns out cached."""
from __future__ import annotations

from pipeline.report import StageProgress


def test_planned_jobs_that_turn_out_cached_still_finish_their_bars():
    bars = StageProgress()
    bars.planned({"images": (2, 3), "narration": (0, 3), "stitch": (1, 1)})
    bars.done("images", 1, computed=True)
    bars.done("images", 2, computed=True)
    bars.done("stitch", None, computed=False)  # planned pending (its clips might change), found in the cache
    bars.done("script", None, computed=False)  # the screenplay was current: no bar for it
    shown = {task.description: task for task in bars.bars.tasks}
    assert sorted(shown) == ["images", "stitch"]
    assert shown["images"].finished and shown["images"].fields["note"] == "(1 cached)"
    assert shown["stitch"].finished


def test_a_regenerated_script_gets_a_finished_bar():
    bars = StageProgress()
    bars.done("script", None, computed=True)
    (task,) = bars.bars.tasks
    assert task.description == "script" and task.finished
