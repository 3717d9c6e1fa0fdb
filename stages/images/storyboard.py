"""Storyboard stills: a procedural, painterly picture of each shot, drawn offline with Pillow and numpy."""
from __future__ import annotations

import colorsys
import re
import threading
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont
from pydantic import Field

from stages import assets
from stages.backend import Backend
from stages.contracts import Frozen, ImageRequest, ImageResult
from stages.images.figures import draw_figures
from stages.images.paint import CREAM, INK, SAFE, WHITE, WORK_WIDTH, mix, seeded_rng, soften
from stages.text import NOT_AFTER_TITLE

PALETTES = {  # mood -> sky top, horizon, ground, accent
    "calm": ((138, 176, 210), (226, 229, 214), (118, 146, 104), (92, 122, 160)),
    "cheerful": ((96, 168, 232), (252, 236, 186), (128, 176, 84), (226, 146, 62)),
    "tense": ((62, 66, 88), (156, 132, 112), (76, 80, 70), (150, 48, 42)),
    "romantic": ((206, 138, 164), (252, 208, 176), (146, 140, 104), (186, 78, 108)),
    "somber": ((88, 98, 114), (160, 160, 158), (84, 90, 84), (70, 74, 100)),
    "comic": ((112, 196, 228), (255, 238, 150), (150, 200, 86), (240, 104, 76)),
    "eager": ((120, 164, 230), (255, 218, 150), (138, 178, 96), (232, 116, 46)),
}
MOOD_ALIASES = {alias: mood for mood, aliases in {
    "cheerful": "happy joyful light lively triumphant", "comic": "playful ironic amused witty bewildered sarcastic",
    "tense": "anxious angry dramatic awkward proud mysterious fearful indignant scornful",
    "eager": "excited hopeful curious", "romantic": "tender loving warm affectionate nostalgic",
    "somber": "sad grave melancholy wistful gloomy solemn pensive",
    "calm": "peaceful quiet formal neutral serene reflective",
}.items() for alias in aliases.split()}
TIMES = {  # time -> brightness, tint, tint amount, light colour
    "day": (1.0, WHITE, 0.0, (255, 250, 232)),
    "morning": (0.95, (255, 226, 182), 0.22, (255, 228, 170)),
    "evening": (0.78, (250, 130, 84), 0.34, (255, 160, 88)),
    "night": (0.42, (34, 52, 112), 0.55, (214, 224, 255)),
}
TIME_ALIASES = {"dawn": "morning", "sunrise": "morning", "noon": "day", "afternoon": "day",
                "dusk": "evening", "sunset": "evening", "twilight": "evening", "midnight": "night"}
INTERIOR = set("room house hall ball ballroom parlour parlor library drawing chamber inside indoors interior dining "
               "table assembly church chapel bedroom study breakfast dinner staircase window fireside kitchen gallery "
               "sitting dressing inn cottage".split())
EXTERIOR = set("park garden gardens road lane field fields outside outdoors grounds meadow wood woods path hill hills "
               "village street lawn shrubbery carriage walk walking estate river lake sky terrace stables forest shore "
               "heath common".split())
GRAND = set("ball ballroom assembly hall church dance dancers dancing".split())
ROADS = set("road lane path walk walking avenue street carriage".split())
WATER = set("lake river pond stream water".split())
MANSION = set("house estate hall manor netherfield pemberley rosings longbourn".split())
WOODED = set("park garden gardens wood woods grounds shrubbery".split())


class StoryboardOptions(Frozen):
    """Whether to draw the caption band and the shot number tag."""

    caption: bool = Field(True, description="draw the shot's key words in a caption near the top")
    shot_number: bool = Field(True, description="draw the shot's number as a tag beside the caption")


def _palette(mood: str, time_of_day: str) -> dict:
    m, t = mood.strip().lower(), time_of_day.strip().lower()
    m = MOOD_ALIASES.get(m, m)
    base: Sequence[tuple[int, ...]] | None = PALETTES.get(m)
    if base is None:  # an unknown mood still gets its own, stable palette
        hue = seeded_rng("mood", m).random()
        base = [tuple(int(255 * c) for c in colorsys.hls_to_rgb((hue + dh) % 1, lum, sat))
                for dh, lum, sat in ((0, 0.62, 0.45), (0.08, 0.85, 0.55), (0.3, 0.45, 0.3), (0.5, 0.45, 0.55))]
    bright, tint, amount, light = TIMES.get(TIME_ALIASES.get(t, t), TIMES["day"])
    top, horizon, ground, accent = (tuple(int(c * bright) for c in mix(col, tint, amount)) for col in base)
    return {"top": top, "horizon": horizon, "ground": ground, "accent": accent, "light": light,
            "bright": bright, "night": bright < 0.5}


def _gradient(w: int, h: int, stops: list[tuple[float, tuple]]) -> np.ndarray:
    ys = np.linspace(0, 1, h, dtype=np.float32)
    cols = np.stack([np.interp(ys, [s[0] for s in stops], [s[1][i] for s in stops]) for i in range(3)], -1)
    return np.repeat(cols[:, None, :].astype(np.float32), w, axis=1)


def _glow(arr: np.ndarray, cx: float, cy: float, radius: float, colour, strength: float) -> None:
    x0, y0 = max(0, int(cx - 3 * radius)), max(0, int(cy - 3 * radius))  # beyond 3 radii it is nil
    part = arr[y0 : max(y0, int(cy + 3 * radius)), x0 : max(x0, int(cx + 3 * radius))]
    yy, xx = np.ogrid[y0 : y0 + part.shape[0], x0 : x0 + part.shape[1]]
    g = np.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / (2 * radius**2)).astype(np.float32)[..., None]
    part += (np.asarray(colour, np.float32) - part) * g * strength


def _image(arr: np.ndarray) -> Image.Image:
    return Image.fromarray(arr.clip(0, 255).astype(np.uint8))


def _oval(d: ImageDraw.ImageDraw, cx: float, cy: float, rx: float, ry: float, fill) -> None:
    d.ellipse([cx - rx, cy - ry, cx + rx, cy + ry], fill=fill)


def _exterior(w: int, h: int, rng, pal: dict, words: set[str]) -> Image.Image:
    """Sky, sun or moon, clouds, hills, perhaps a house, a lake or a road, and trees framing the sides."""
    hz, side = rng.uniform(0.42, 0.6), rng.choice([0.2, 0.8]) + rng.uniform(-0.08, 0.08)
    sun_y = (0.16 if pal["night"] else 0.14 if pal["bright"] >= 0.97 else hz - 0.07) * h
    ground = mix(pal["ground"], pal["horizon"], 0.3)
    arr = _gradient(w, h, [(0, pal["top"]), (hz, pal["horizon"]), (hz + 0.01, ground), (1, mix(ground, INK, 0.4))])
    _glow(arr, side * w, sun_y, 0.22 * w, pal["light"], 0.55)
    img = _image(arr)
    d, thin = ImageDraw.Draw(img, "RGBA"), max(1, w // 320)
    _oval(d, side * w, sun_y, 0.035 * w, 0.035 * w, pal["light"])
    for _ in range(int(rng.integers(2, 6))):  # clouds
        cx, cy, cw = rng.uniform(0, w), rng.uniform(0.05, hz - 0.1) * h, rng.uniform(0.1, 0.25) * w
        for k in range(4):
            _oval(d, cx + (k - 1.5) * cw * 0.22, cy + rng.uniform(-0.02, 0.02) * h, cw * 0.2, cw * 0.07,
                  (*mix(pal["horizon"], WHITE, 0.4), 90))
    for layer, fade in ((0, 0.62), (1, 0.35)):  # far hills, paler with distance
        amp, phase, freq = rng.uniform(0.04, 0.1) * h, rng.uniform(0, 6.3), rng.uniform(8, 20)
        xs = np.linspace(0, 1, 40)
        ys = (hz + layer * 0.03) * h - amp * (0.6 + 0.4 * np.sin(xs * freq + phase)) * (1 + 0.3 * np.sin(xs * 11))
        xs = xs * w
        d.polygon([(0, h), *zip(xs, ys), (w, h)], fill=mix(pal["ground"], pal["horizon"], fade))
        if layer == 0 and (words & MANSION or rng.random() < 0.35):  # a house in its park
            hx, hw, hh = rng.uniform(0.15, 0.7) * w, rng.uniform(0.12, 0.2) * w, rng.uniform(0.06, 0.09) * h
            base, wall = (hz + 0.02) * h, mix(mix((214, 200, 176), pal["horizon"], 0.45), INK, 1 - pal["bright"])
            d.rectangle([hx, base - hh, hx + hw, base], fill=wall)
            eaves, ridge, roof = base - hh, base - hh * 1.5, mix(wall, INK, 0.4)
            d.polygon([(hx, eaves), (hx + hw, eaves), (hx + hw * 0.85, ridge), (hx + hw * 0.15, ridge)], fill=roof)
            lamp = (255, 214, 130) if pal["night"] else mix(wall, INK, 0.45)
            for wx in hx + hw * (0.08 + 0.15 * np.arange(6)):
                d.rectangle([wx, base - hh * 0.75, wx + hw * 0.05, base - hh * 0.35], fill=lamp)
    if words & WATER:  # a still lake mirroring the sky, with glints
        top, depth = (hz + rng.uniform(0.03, 0.06)) * h, rng.uniform(0.1, 0.16) * h
        water = mix(pal["top"], (70, 104, 136), 0.4)
        d.ellipse([rng.uniform(-0.6, 0.1) * w, top, rng.uniform(0.9, 1.6) * w, top + depth], fill=water)
        for y, x0 in zip(top + depth * np.arange(1, 5) / 5, rng.uniform(0.1, 0.6, 4) * w):
            d.line([(x0, y), (x0 + rng.uniform(0.1, 0.3) * w, y)], fill=(*pal["light"], 120), width=thin)
    for _ in range(6):  # meadow light and shade
        tone = (*mix(pal["ground"], pal["light"] if rng.random() < 0.5 else INK, 0.25), 50)
        left, y, right = rng.uniform(-0.5, 0.5) * w, rng.uniform(hz + 0.06, 0.96) * h, rng.uniform(0.6, 1.5) * w
        d.ellipse([left, y, right, h], fill=tone)
    img = soften(img, 2.5 * w / WORK_WIDTH)
    d = ImageDraw.Draw(img, "RGBA")
    if words & ROADS:
        vx, path = rng.uniform(0.35, 0.65) * w, mix(mix((200, 180, 140), pal["horizon"], 0.3), INK, 1 - pal["bright"])
        d.polygon([(vx, (hz + 0.03) * h), (vx + 0.45 * w, h), (vx - 0.35 * w, h)], fill=path)
    leaf = mix(mix(pal["ground"], (52, 84, 46), 0.5), INK, 0.2)
    for depth in sorted(rng.uniform(0, 1, int(rng.integers(2, 5)) + 3 * bool(words & WOODED))):  # far to near
        tx = rng.uniform(-0.05, 1.05) if depth < 0.4 else rng.choice([-1, 1]) * rng.uniform(0.3, 0.6) + 0.5
        tx, base, th = tx * w, (hz + 0.03 + 0.25 * depth) * h, (0.16 + 0.36 * depth) * h  # near trees frame the sides
        green = mix(leaf, pal["horizon"], 0.45 * (1 - depth))
        d.rectangle([tx - th * 0.03, base - th * 0.5, tx + th * 0.03, base], fill=mix(green, (60, 40, 30), 0.5))
        for k in range(8):  # crown: clustered blobs, lit on the sun's side
            lean, rr, up = rng.uniform(-1, 1), th * rng.uniform(0.12, 0.2), th * rng.uniform(0.5, 0.85)
            lit = 0.25 * max(0.0, lean * (1 if side > 0.5 else -1)) + 0.03 * k
            _oval(d, tx + lean * 0.22 * th, base - up, rr, rr * 0.85, mix(green, pal["light"], lit))
    return soften(img, 0.8 * w / WORK_WIDTH)


def _interior(w: int, h: int, rng, pal: dict, words: set[str]) -> Image.Image:
    """A panelled room: windows with curtains and sunlight (arched and many in a ballroom), a fire or chandeliers."""
    floor, grand, side = rng.uniform(0.6, 0.72), bool(words & GRAND), float(rng.choice([0.0, 1.0]))
    wall = mix(mix(pal["horizon"], pal["accent"], 0.3), INK, 0.15)
    boards = mix(mix(pal["ground"], (120, 84, 56), 0.65), INK, 0.2 + 0.5 * (1 - pal["bright"]))
    stops = [(0, mix(wall, INK, 0.25)), (floor - 0.001, wall), (floor, mix(boards, INK, 0.3)), (1, boards)]
    arr = _gradient(w, h, stops)
    arr *= (0.8 + 0.3 * np.abs(side - np.linspace(1, 0, w, dtype=np.float32)))[None, :, None]  # lighter by the windows
    img = _image(arr)
    d, thin, rail = ImageDraw.Draw(img, "RGBA"), max(1, w // 320), (floor - 0.13) * h
    d.rectangle([0, rail, w, floor * h], fill=(*INK, 40))  # wainscot and dado rail
    d.line([(0, rail), (w, rail)], fill=(*CREAM, 70), width=thin)
    vx = rng.uniform(0.3, 0.7) * w
    for i in range(-8, 9):  # floor boards in perspective
        d.line([(vx + i * 0.04 * w, floor * h), (vx + i * 0.25 * w, h)], fill=(*INK, 45), width=thin)
    glass = (28, 38, 84) if pal["night"] else mix(pal["light"], (170, 206, 236), 0.5)
    n = int(rng.integers(3, 5)) if grand else int(rng.integers(1, 4))
    fire = not grand and (pal["night"] or "fire" in words or rng.random() < 0.4)
    fx = ((0.06 if side else 0.64) + rng.uniform(0, 0.1)) * w  # the fireplace stands away from the windows
    lo, span = ((0.4 if side else 0.0) * w, 0.6 * w) if fire else (0.0, w)
    ww, top, bottom, lean = 0.09 * w, rng.uniform(0.1, 0.18) * h, (floor - 0.17) * h, (1 - 2 * side) * 0.25 * w
    shafts = Image.new("L", (w, h), 0)
    for i in range(n):
        x = lo + (i + 0.5) / n * span + rng.uniform(-0.03, 0.03) * w - ww / 2
        d.rectangle([x - ww * 0.25, top - ww * 0.1, x + ww * 1.25, bottom + ww * 0.1], fill=mix(wall, CREAM, 0.4))
        if grand:  # arched tops
            d.ellipse([x, top - ww * 0.5, x + ww, top + ww * 0.5], fill=glass)
        d.rectangle([x, top, x + ww, bottom], fill=glass)
        for y in (top + (bottom - top) / 3, top + 2 * (bottom - top) / 3):
            d.line([(x, y), (x + ww, y)], fill=CREAM, width=thin)
        d.line([(x + ww / 2, top), (x + ww / 2, bottom)], fill=CREAM, width=thin)
        for cx in (x - ww * 0.35, x + ww * 1.05):  # curtains
            hem, rod, cloth = floor * h, top - ww * 0.2, mix(pal["accent"], wall, 0.3)
            d.polygon([(cx, rod), (cx + ww * 0.3, rod), (cx + ww * 0.36, hem), (cx - ww * 0.06, hem)], fill=cloth)
        sun = [(x, top), (x + ww, top), (x + ww + lean, (floor + 0.25) * h), (x + lean, (floor + 0.25) * h)]
        ImageDraw.Draw(shafts).polygon(sun, fill=255)
    if fire:
        d.rectangle([fx - 0.02 * w, (floor - 0.2) * h, fx + 0.2 * w, floor * h], fill=mix(wall, CREAM, 0.5))
        d.rectangle([fx + 0.03 * w, (floor - 0.13) * h, fx + 0.15 * w, floor * h], fill=(30, 20, 16))
    if not grand and rng.random() < 0.6:  # a settee against the wall
        sx, sy, cloth = rng.uniform(0.05, 0.7) * w, floor * h, mix(mix(pal["accent"], INK, 0.3), pal["light"], 0.1)
        d.rounded_rectangle([sx, sy - 0.12 * h, sx + 0.24 * w, sy + 0.03 * h], radius=0.03 * h, fill=cloth)
        d.rectangle([sx - 0.01 * w, sy - 0.03 * h, sx + 0.25 * w, sy + 0.05 * h], fill=mix(cloth, CREAM, 0.15))
        for lx in (sx, sx + 0.23 * w):
            d.rectangle([lx, sy + 0.05 * h, lx + 0.01 * w, sy + 0.08 * h], fill=(50, 34, 24))
    img = soften(img, 1.2 * w / WORK_WIDTH)
    if not pal["night"]:  # sunlight falling through the windows
        shafts = soften(shafts, 0.02 * w).point(lambda v: int(v * 0.3))
        img = Image.composite(Image.new("RGB", (w, h), pal["light"]), img, shafts)
    arr = np.asarray(img, np.float32).copy()
    for i in range(int(rng.integers(1, 3)) if grand else 0):  # chandeliers
        _glow(arr, (i + 0.5) / 2 * w + rng.uniform(-0.1, 0.1) * w, 0.1 * h, 0.07 * w, (255, 226, 160), 0.8)
    if fire:
        _glow(arr, fx + 0.09 * w, (floor - 0.03) * h, 0.08 * w, (255, 150, 60), 0.75)
    if pal["night"]:
        _glow(arr, rng.uniform(0.2, 0.8) * w, floor * h * 0.7, 0.35 * w, (255, 196, 120), 0.35)  # candlelight
    return _image(arr)


def _texture(img: Image.Image, rng) -> Image.Image:
    """Mottled paint and a soft vignette: the hand-made part of the look."""
    w, h = img.size
    arr: np.ndarray = np.asarray(img, np.float32)
    for cell, amount in ((w / 10, 0.1), (w / 60, 0.04)):
        small = (rng.random((int(h / cell) + 2, int(w / cell) + 2)) * 255).astype(np.uint8)
        noise = np.asarray(Image.fromarray(small).resize((w, h), Image.Resampling.BICUBIC), np.float32) / 255 - 0.5
        arr = arr * (1 + amount * noise[..., None])
    yy, xx = np.ogrid[-1 : 1 : complex(0, h), -1 : 1 : complex(0, w)]
    return _image(arr * (1 - 0.38 * np.clip(xx**2 * 0.8 + yy**2 - 0.25, 0, None))[..., None])


@lru_cache(maxsize=64)
def _load_font(path: Path, size: int, thread: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(str(path), size)


def _font(path: Path, size: int) -> ImageFont.FreeTypeFont:
    return _load_font(path, size, threading.get_ident())  # one FreeType face per thread: faces are not thread-safe


_CAPTION_END = re.compile(rf"(?<=[.!?]){NOT_AFTER_TITLE}\s+|\s*;\s*")  # a sentence's end, never a title's stop


def caption_text(prompt: str, limit: int = 60) -> str:
    """The shot's key words: the prompt's first sentence, shortened by clauses, then words, to ``limit`` chars."""
    text = _CAPTION_END.split(" ".join(prompt.split()), maxsplit=1)[0].rstrip(".:,")
    while len(text) > limit and "," in text:
        text = text.rsplit(",", 1)[0]
    return text if len(text) <= limit else text[: limit - 1].rsplit(" ", 1)[0].rstrip(",;:—- ") + "…"


def _annotate(img: Image.Image, request: ImageRequest, options: StoryboardOptions) -> None:
    """The shot tag and the caption in one row at the top of the safe area: inside every view an animator's pan
    or zoom keeps, and clear of the subtitles burned in at the bottom of the film."""
    w, h = img.size
    d = ImageDraw.Draw(img, "RGBA")
    left, top, right = round(w * SAFE), round(h * SAFE), w - round(w * SAFE)
    row, pad = max(14, round(min(w, h) * 0.07)), max(2, round(min(w, h) * 0.012))  # portrait: sized by the width
    if options.shot_number:
        font = _font(assets.FONT_SANS_BOLD, max(7, round(row * 0.45)))
        tag = f"Shot {request.number}"
        width = round(font.getlength(tag)) + 2 * pad
        d.rounded_rectangle([left, top, left + width - 1, top + row - 1], radius=pad, fill=(*INK, 170))
        d.text((left + width / 2, top + row / 2), tag, font=font, fill=CREAM, anchor="mm")
        left += width + pad
    if options.caption and right - left > row:
        text, room = caption_text(request.prompt), (right - left) * 0.94
        font = _font(assets.FONT_SERIF_ITALIC, max(7, round(row * 0.5)))
        if font.getlength(text) > room:
            font = _font(assets.FONT_SERIF_ITALIC, max(6, int(font.size * room / font.getlength(text))))
        while font.getlength(text) > room and " " in text:  # still too long at the smallest size: fewer words
            text = text.rsplit(" ", 1)[0].rstrip(",;:—-… ") + "…"
        d.rounded_rectangle([left, top, right - 1, top + row - 1], radius=pad, fill=(*INK, 165))
        d.text(((left + right) / 2, top + row / 2), text, font=font, fill=CREAM, anchor="mm")


class StoryboardImages(Backend):
    """Offline stills: mood-coloured, composed per shot, with figures for the characters present."""

    name = "storyboard"
    version = "2"  # tag and caption inside the safe area
    Options = StoryboardOptions
    options: StoryboardOptions
    packages = ("PIL", "numpy")

    def make_image(self, request: ImageRequest, out_path: Path) -> ImageResult:
        """Paint the shot's still at exactly the requested size and save it as PNG."""
        rng, paper = seeded_rng(request.seed, request.prompt), seeded_rng(request.seed, request.prompt, "paper")
        scale = min(1.0, WORK_WIDTH / request.width)
        w, h = max(16, round(request.width * scale)), max(9, round(request.height * scale))
        words = set(re.findall(r"[a-z]+", request.prompt.lower()))
        pal = _palette(request.mood, request.time_of_day)
        inside = len(words & INTERIOR) - len(words & EXTERIOR) - 2 * ("outside" in words)
        paint = _interior if inside > 0 or (inside == 0 and rng.random() < 0.5) else _exterior
        img = _texture(draw_figures(paint(w, h, rng, pal, words), request, rng, pal), paper)
        if img.size != (request.width, request.height):
            img = img.resize((request.width, request.height), Image.Resampling.BICUBIC)
        _annotate(img, request, self.options)
        img.save(out_path, format="PNG", compress_level=1)  # level 1: a third of the time of the default
        return ImageResult(path=out_path)
