"""Where the static inputs we ship (fonts, music, texts) live."""
from __future__ import annotations

import os
from pathlib import Path

ASSETS_DIR = Path(os.environ.get("FILM_ASSETS", Path(__file__).resolve().parent.parent / "assets"))
FONT_SERIF = ASSETS_DIR / "fonts" / "DejaVuSerif.ttf"
FONT_SERIF_ITALIC = ASSETS_DIR / "fonts" / "DejaVuSerif-Italic.ttf"
FONT_SANS = ASSETS_DIR / "fonts" / "DejaVuSans.ttf"
FONT_SANS_BOLD = ASSETS_DIR / "fonts" / "DejaVuSans-Bold.ttf"
