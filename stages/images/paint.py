"""Painting primitives the storyboard modules share: seeded randomness, colour mixing, blur."""
from __future__ import annotations

import hashlib

import numpy as np
from PIL import Image, ImageFilter

# Of the width and of the height at each edge: what an animator's pan or zoom may crop away (kenburns' default
# 12 % move keeps the middle 79 % of a still in every view; a larger zoom option can crop more), so text drawn
# on a still stays inside it.
SAFE = 0.12
HEADROOM = SAFE + 0.09  # of the height: figures' heads stay below the shot tag and caption drawn there
WORK_WIDTH = 640  # the scene is painted at most this wide, then scaled up: soft by design, and fast


INK, CREAM, SKIN, WHITE = (22, 20, 26), (246, 239, 222), (232, 200, 172), (255, 255, 255)


def seeded_rng(*parts: object) -> np.random.Generator:
    """A generator seeded by a stable hash of ``parts``."""
    blob = "\x00".join(str(p) for p in parts).encode("utf-8")
    return np.random.default_rng(int.from_bytes(hashlib.sha256(blob).digest()[:8], "big"))


def mix(a, b, t: float) -> tuple[int, int, int]:
    """Colour ``a`` moved ``t`` of the way to ``b``."""
    red, green, blue = (int(round(x * (1 - t) + y * t)) for x, y in zip(a, b))
    return red, green, blue


def soften(img: Image.Image, radius: float) -> Image.Image:
    """Gaussian blur, skipped when too small to see."""
    return img.filter(ImageFilter.GaussianBlur(radius)) if radius > 0.3 else img
