"""CLI stage/shot flags become a Selection that says what runs, what is forced, for which shots."""
from __future__ import annotations

import pytest

from pipeline.errors import UserError
from pipeline.plan import ancestors, make_selection, parse_shots


def test_parse_shots():
    assert parse_shots("3,5-7") == {3, 5, 6, 7}
    assert parse_shots(" 2 ") == {2}
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
