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


def test_a_retry_is_said_on_its_stage_bar_until_the_next_job_of_that_stage_ends():
    bars = StageProgress()
    bars.planned({"images": (2, 3)})
    bars.retrying("images", 4, 45.0, "ideogram answered 429 to the shot 4 image: " + "too many requests " * 9)
    (task,) = bars.bars.tasks
    note = task.fields["note"]
    assert "shot 04 retries in 45 s: ideogram answered 429" in note and note.endswith("…[/]")
    bars.done("images", 2, computed=True)
    assert task.fields["note"] == "(1 cached)"


def test_a_retry_of_a_stage_without_a_bar_gets_a_line(monkeypatch):
    import io

    from rich.console import Console

    from pipeline import report

    screen = io.StringIO()
    monkeypatch.setattr(report, "console", Console(file=screen, width=200))
    StageProgress().retrying("script", None, 12.0, "anthropic answered 529 to the screenplay of part 1/2: Overloaded")
    assert "script retries in 12 s: anthropic answered 529" in screen.getvalue()
