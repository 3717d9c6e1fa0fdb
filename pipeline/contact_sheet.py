"""Contact sheet: every shot's still as a numbered thumbnail in one PNG grid."""
from __future__ import annotations

import os
from pathlib import Path

from pipeline.store import temp_sibling

BACKGROUND, BADGE, INK = (24, 22, 28), (246, 239, 222), (24, 22, 28)


def sheet_size(count: int, columns: int, thumb_width: int, thumb_height: int) -> tuple[int, int]:
    """Pixel size of a sheet of ``count`` thumbnails of the given size in ``columns`` columns."""
    gap = max(4, thumb_width // 40)
    cols = max(1, min(columns, count))
    rows = -(-count // cols)
    return cols * thumb_width + (cols + 1) * gap, rows * thumb_height + (rows + 1) * gap


def make_contact_sheet(stills: list[tuple[int, Path]], out_path: Path, columns: int = 6, thumb_width: int = 320) -> Path:
    """Lay the numbered stills out in a grid and write the sheet atomically as PNG."""
    from PIL import Image, ImageDraw, ImageFont, ImageOps

    from stages import assets

    if not stills:
        raise ValueError("a contact sheet needs at least one still")
    with Image.open(stills[0][1]) as first:
        ratio = first.height / first.width
    thumb_height = max(1, round(thumb_width * ratio))
    gap = max(4, thumb_width // 40)
    cols = max(1, min(columns, len(stills)))
    sheet = Image.new("RGB", sheet_size(len(stills), columns, thumb_width, thumb_height), BACKGROUND)
    draw = ImageDraw.Draw(sheet)
    font = ImageFont.truetype(str(assets.FONT_SANS_BOLD), max(8, thumb_width // 16))
    pad = max(2, thumb_width // 80)
    for index, (number, path) in enumerate(stills):
        x = gap + (index % cols) * (thumb_width + gap)
        y = gap + (index // cols) * (thumb_height + gap)
        with Image.open(path) as still:  # every still is fitted into the first one's frame
            thumb = ImageOps.pad(still.convert("RGB"), (thumb_width, thumb_height), Image.LANCZOS, color=BACKGROUND)
        sheet.paste(thumb, (x, y))
        left, top, right, bottom = draw.textbbox((x + 3 * pad, y + 3 * pad), str(number), font=font)
        draw.rounded_rectangle([left - 2 * pad, top - 2 * pad, right + 2 * pad, bottom + 2 * pad], radius=2 * pad, fill=BADGE)
        draw.text((x + 3 * pad, y + 3 * pad), str(number), font=font, fill=INK)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_sibling(out_path)
    try:
        sheet.save(tmp, format="PNG")
        os.replace(tmp, out_path)
    finally:
        tmp.unlink(missing_ok=True)
    return out_path
