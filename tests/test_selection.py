"""CLI stage/shot flags become a Selection that says what runs, what is forced, for which shots."""
from __future__ import annotations

import pytest

from pipeline.errors import UserError
from pipeline.plan.graph import ancestors
from pipeline.plan.selection import make_selection, parse_shots


def test_parse_shots():
    assert [n for n in range(10) if n in parse_shots("3,5-7")] == [3, 5, 6, 7]
    assert [n for n in range(10) if n in parse_shots(" 2 ")] == [2]
    assert parse_shots(None) is None
    with pytest.raises(UserError):
        parse_shots("a-b")


def test_until_runs_ancestors_only():
    assert make_selection(None, None, None, "images").run == {"script", "images"}
    assert make_selection(None, None, None, "animation").run == {"script", "images", "narration", "animation"}
    assert ancestors("stitch") == {"script", "images", "narration", "animation", "stitch"}


def test_only_with_shots_limits_scope():
    sel = make_selection(["images,narration"], None, "2", None)
    assert sel.in_scope("images", 2) and not sel.in_scope("images", 3)
    assert not sel.in_scope("animation", 2)


def test_force_with_shots_forces_only_those():
    sel = make_selection(None, ["animation"], "4", None)
    assert sel.forced("animation", 4) and not sel.forced("animation", 5)
    assert sel.in_scope("animation", 5)  # other shots still run if stale
    assert not sel.forced("images", 4)


def test_shot_ranges_stay_ranges():
    """A huge range is neither expanded in memory nor listed in full when it names missing shots."""
    shots = parse_shots("1-999999999,4")
    assert 500_000_000 in shots and 0 not in shots and 1_000_000_000 not in shots
    sel = make_selection(None, ["images"], "2,5-999999999", None)
    with pytest.raises(UserError) as caught:
        sel.check_shots(tuple(_shot(n) for n in (1, 2, 3, 6)))
    assert "no shot 5, 7-999999999 in the screenplay" in caught.value.args[0]


@pytest.mark.parametrize("flags", [
    dict(only=None, force=["images"], shots="", until=None),
    dict(only=None, force=None, shots=None, until=""),
    dict(only=[" , "], force=None, shots=None, until=None),
    dict(only=None, force=None, shots=None, until="images,script"),
])
def test_empty_or_several_values_are_refused(flags):
    with pytest.raises(UserError):
        make_selection(**flags)


def _shot(number):
    from stages.contracts import Shot

    return Shot(shot=number, narration="A line.", image_prompt="a room")
