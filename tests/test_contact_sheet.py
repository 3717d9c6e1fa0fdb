"""The contact sheet: one numbered thumbnail per still, in a grid of the expected size, written atomically."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from pipeline.outputs.contact_sheet import make_contact_sheet


def stills(folder, count, size=(64, 36)):
    folder.mkdir(parents=True, exist_ok=True)
    made = []
    for i in range(count):
        path = folder / f"{i + 1}.png"
        Image.new("RGB", size, ((i * 37) % 256, (i * 91) % 256, 200)).save(path)
        made.append((i + 1, path))
    return made


def expected_size(count, columns=6, thumb=40, thumb_h=22, gap=4):
    cols = min(columns, count)
    rows = -(-count // cols)
    return cols * thumb + (cols + 1) * gap, rows * thumb_h + (rows + 1) * gap


@pytest.mark.parametrize("count", [1, 5, 6, 7, 13, 200])
def test_grid_size(tmp_path, count):
    out = make_contact_sheet(stills(tmp_path / "s", count), tmp_path / "sheet.png", columns=6, thumb_width=40)
    with Image.open(out) as sheet:
        assert sheet.size == expected_size(count)


def test_thumbnails_in_order_with_number_badges(tmp_path):
    made = stills(tmp_path / "s", 8)
    out = make_contact_sheet(made, tmp_path / "sheet.png", columns=3, thumb_width=160)
    sheet = np.asarray(Image.open(out).convert("RGB"), dtype=np.int16)
    thumb_h, gap = 90, 4
    for index, (_, path) in enumerate(made):
        x, y = gap + (index % 3) * (160 + gap), gap + (index // 3) * (thumb_h + gap)
        colour = np.asarray(Image.open(path).getpixel((0, 0)))
        assert np.abs(sheet[y + thumb_h - 10, x + 20] - colour).max() <= 2  # the still, in its cell
        badge = sheet[y : y + 30, x + 120 : x + 160]
        assert (badge.min(axis=2) > 210).sum() > 50  # a light badge with the number, top right
    assert sheet.shape == (3 * thumb_h + 4 * gap, 3 * 160 + 4 * gap, 3)


def test_any_aspect_ratio_is_padded_into_the_cell(tmp_path):
    made = stills(tmp_path / "wide", 2) + stills(tmp_path / "tall", 1, size=(36, 64))
    out = make_contact_sheet(made, tmp_path / "sheet.png", columns=6, thumb_width=40)
    with Image.open(out) as sheet:
        assert sheet.size == expected_size(3)


def test_title_row_and_atomic_replace(tmp_path):
    made = stills(tmp_path / "s", 4)
    target = tmp_path / "out" / "sheet.png"
    target.parent.mkdir()
    target.write_bytes(b"old")
    make_contact_sheet(made, target, columns=6, thumb_width=40, title="The Mill — storyboard")
    with Image.open(target) as sheet:
        width, height = sheet.size
    assert width == expected_size(4)[0] and height > expected_size(4)[1]
    assert [p.name for p in target.parent.iterdir()] == ["sheet.png"]  # no temporary left behind


def test_no_stills_is_an_error(tmp_path):
    with pytest.raises(ValueError):
        make_contact_sheet([], tmp_path / "sheet.png")


def test_the_sheet_follows_film_order_after_a_reorder(tmp_path, monkeypatch):
    """Shots moved in screenplay.yaml appear on the sheet where the film shows them, not by number."""
    from types import SimpleNamespace

    import pipeline.outputs.contact_sheet
    from pipeline.outputs.finish import _stored_sheet
    from pipeline.run.jobs import Outcome

    seen = []
    monkeypatch.setattr(pipeline.outputs.contact_sheet, "make_contact_sheet", lambda stills, path: seen.extend(stills))
    store = SimpleNamespace(root=tmp_path, path_of=lambda record: Path(record.digest))
    ctx = SimpleNamespace(store=store, shots=lambda: [SimpleNamespace(shot=n) for n in (3, 1, 2)])
    outcomes = {("images", n): Outcome("images", n, f"k{n}", SimpleNamespace(digest=f"still{n}"), True, 0.0) for n in (1, 2, 3)}
    outcomes[("narration", 1)] = Outcome("narration", 1, "v", SimpleNamespace(digest="voice"), True, 0.0)
    _stored_sheet(ctx, outcomes)
    assert seen == [(3, Path("still3")), (1, Path("still1")), (2, Path("still2"))]
