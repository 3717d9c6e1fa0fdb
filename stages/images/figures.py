"""Stylised Regency figures for the characters present in a shot."""
from __future__ import annotations

import re

from PIL import Image, ImageDraw

from stages.contracts import Character, ImageRequest
from stages.images.paint import CREAM, HEADROOM, INK, SKIN, WHITE, WORK_WIDTH, mix, seeded_rng, soften

COLOURS = {
    "red": (168, 40, 40), "crimson": (150, 24, 46), "scarlet": (196, 34, 30), "claret": (110, 30, 40),
    "burgundy": (100, 26, 40), "maroon": (96, 30, 34), "pink": (232, 170, 184), "rose": (218, 140, 150),
    "orange": (222, 128, 50), "peach": (244, 190, 150), "yellow": (236, 206, 90), "primrose": (240, 226, 150),
    "gold": (206, 164, 60), "golden": (206, 164, 60), "green": (60, 110, 64), "emerald": (30, 120, 80),
    "sage": (160, 180, 140), "olive": (110, 112, 60), "teal": (40, 110, 116), "blue": (60, 90, 160),
    "navy": (34, 44, 84), "sapphire": (40, 70, 150), "purple": (104, 58, 124), "violet": (130, 90, 170),
    "lilac": (190, 160, 210), "lavender": (186, 170, 220), "white": (242, 240, 232), "ivory": (240, 234, 214),
    "cream": (238, 228, 200), "muslin": (240, 236, 224), "black": (30, 30, 34), "grey": (128, 128, 132),
    "gray": (128, 128, 132), "silver": (190, 192, 198), "brown": (104, 70, 44), "buff": (214, 196, 156),
    "tan": (196, 160, 114), "beige": (222, 206, 176),
}


HAIR = {"dark": (46, 34, 30), "black": (26, 24, 26), "fair": (214, 182, 118), "blonde": (222, 190, 120),
        "golden": (210, 168, 84), "auburn": (138, 62, 36), "red": (164, 72, 40), "brown": (98, 64, 40),
        "chestnut": (112, 58, 34), "grey": (160, 160, 160), "gray": (160, 160, 160), "white": (226, 226, 220)}


FEMININE = set("woman lady girl gown dress miss mrs sister daughter mother she her bonnet wife aunt niece".split())


MASCULINE = set("man gentleman coat mr sir father brother he his officer lord son husband uncle colonel".split())


HAIR_WORDS = set("hair haired curls locks ringlets".split())


GARMENTS = set("gown dress frock pelisse spencer coat tailcoat waistcoat jacket uniform cloak habit breeches".split())


def _look(character: Character) -> dict:
    """How a character is drawn, from their name and description alone (so the same in every shot)."""
    tokens = ["", *re.findall(r"[a-z]+", character.description.lower()), "", ""]
    named = tokens + re.findall(r"[a-z]+", character.name.lower())
    score = sum(t in FEMININE for t in named) - sum(t in MASCULINE for t in named)
    rng = seeded_rng("look", character.name, character.description)
    woman = score > 0 or (score == 0 and rng.random() < 0.5)
    hair = [HAIR[t] for t, nxt in zip(tokens, tokens[1:]) if t in HAIR and nxt in HAIR_WORDS]
    found = []  # (not said of a garment, position, colour): a gown's or coat's colour comes first
    for i, t in enumerate(tokens[1:-2], 1):
        if t in COLOURS and tokens[i + 1] not in HAIR_WORDS | {"eyes", "eyed"}:
            shade = {"pale": WHITE, "light": WHITE, "dark": INK, "deep": INK}.get(tokens[i - 1])
            colour = mix(COLOURS[t], shade, 0.45 if shade == WHITE else 0.4) if shade else COLOURS[t]
            found.append((not GARMENTS & set(tokens[i + 1 : i + 4]), i, colour))
    clothes = [colour for *_, colour in sorted(found)]
    if woman:  # muslin whites and pastels with a coloured sash
        main = [(244, 240, 230), (196, 214, 236), (236, 198, 204), (214, 226, 190), (240, 226, 178)]
        second = [(90, 120, 170), (180, 70, 90), (60, 110, 80), (200, 150, 60)]
    else:  # dark coats over buff or white breeches
        main = [(36, 48, 82), (48, 72, 52), (72, 52, 40), (34, 34, 40), (96, 40, 42)]
        second = [(214, 198, 160), (236, 230, 214)]
    pick = [HAIR["dark"], HAIR["brown"], HAIR["fair"], HAIR["auburn"]]
    return {"woman": woman, "main": (clothes or [main[int(rng.integers(len(main)))]])[0],
            "second": clothes[1] if len(clothes) > 1 else second[int(rng.integers(len(second)))],
            "hair": (hair or [pick[int(rng.integers(len(pick)))]])[0],
            "hat": not woman and ("hat" in tokens or rng.random() < 0.3)}


def _figure(d: ImageDraw.ImageDraw, x: float, feet: float, H: float, look: dict, pal: dict) -> None:
    """One standing figure, ``H`` tall with feet at (x, feet): a Regency gown or a tail coat."""
    def lit(c):
        return mix(tuple(int(v * (0.5 + 0.5 * pal["bright"])) for v in c), pal["light"], 0.08)

    line, ow = lit(INK), max(1, int(H / 140))
    at = lambda u, v: (x + u * H, feet - v * H)  # noqa: E731  (u across, v up, in heights)

    def poly(points, fill, edge=True):
        d.polygon([at(u, v) for u, v in points], fill=fill, outline=line if edge else None, width=ow)

    def oval(u, v, ru, rv, fill, edge=True):
        d.ellipse([*at(u - ru, v + rv), *at(u + ru, v - rv)], fill=fill, outline=line if edge else None, width=ow)

    def box(u, v0, v1, half, fill, edge=True):
        poly([(u - half, v0), (u + half, v0), (u + half, v1), (u - half, v1)], fill, edge)

    main, second, skin, dark, hair = (lit(c) for c in (look["main"], look["second"], SKIN, (30, 26, 24), look["hair"]))
    oval(0, 0, 0.22, 0.03, (*INK, 90), edge=False)  # shadow
    if look["woman"]:  # an Empire-line gown: high waist, puffed sleeves, long skirt
        for s in (-1, 1):
            d.line([at(s * 0.09, 0.82), at(s * 0.1, 0.56)], fill=skin, width=int(0.03 * H))
        poly([(-0.075, 0.716), (0.075, 0.716), (0.17, 0), (0, -0.01), (-0.17, 0)], main)
        poly([(-0.085, 0.846), (0.085, 0.846), (0.075, 0.716), (-0.075, 0.716)], main)
        d.line([at(-0.078, 0.716), at(0.078, 0.716)], fill=second, width=int(0.022 * H))
        for s in (-1, 1):
            oval(s * 0.085, 0.82, 0.04, 0.035, main)
    else:  # a tail coat, breeches and boots
        poly([(-0.08, 0.506), (0.08, 0.506), (0.1, 0.266), (-0.1, 0.266)], mix(main, INK, 0.25), edge=False)
        for s in (-1, 1):
            box(s * 0.045, 0.486, 0.17, 0.037, second)
            box(s * 0.045, 0.18, 0, 0.039, dark, edge=False)
            d.line([at(s * 0.1, 0.816), at(s * 0.115, 0.466)], fill=mix(main, INK, 0.15), width=int(0.05 * H))
        poly([(-0.1, 0.846), (0.1, 0.846), (0.085, 0.466), (-0.085, 0.466)], main)
        poly([(-0.035, 0.856), (0.035, 0.856), (0, 0.756)], lit(CREAM), edge=False)  # cravat
    oval(0, 0.93, 0.07, 0.07, skin)
    d.chord([*at(-0.0735, 1.007), *at(0.0735, 0.867)], 180, 360, fill=hair)
    if look["woman"]:
        oval(0, 1.0, 0.035, 0.031, hair, edge=False)  # the knot of hair
    elif look["hat"]:  # a top hat
        box(0, 1.091, 0.979, 0.056, dark, edge=False)
        box(0, 0.99, 0.972, 0.091, dark, edge=False)


def draw_figures(img: Image.Image, request: ImageRequest, rng, pal: dict) -> Image.Image:
    """Draw the characters present across the frame, the speaker larger and in front."""
    n, (w, h) = len(request.characters), img.size
    if not n:
        return img
    layer = Image.new("RGBA", (2 * w, 2 * h), (0, 0, 0, 0))  # drawn at twice the size: smooth edges
    d, speaker = ImageDraw.Draw(layer, "RGBA"), request.speaker.strip().lower()
    zoom = float(rng.choice([1.0, 1.45, 1.9], p=[0.5, 0.3, 0.2])) if n <= 3 else 1.0  # wide, medium or close
    img = soften(img, (zoom - 1) * 2.5 * w / WORK_WIDTH)  # the closer the shot, the softer the room behind
    spacing, offset, placed = min(0.24 * zoom, 0.8 / n), rng.uniform(-0.08, 0.08), []
    height = 2 * min(h, 0.75 * w) * 0.52 * zoom * min(1.0, (3 / n) ** 0.5)  # crowds stand smaller; so in portrait
    for i, ch in enumerate(request.characters):
        speaks = speaker in {ch.name.lower(), *(a.lower() for a in ch.aliases)}
        x = 2 * w * (0.5 + offset + (i - (n - 1) / 2) * spacing + rng.uniform(-0.015, 0.015))
        feet = 2 * h * (0.81 + (zoom - 1) * 0.42 + (0.05 if speaks else rng.uniform(-0.02, 0.01)))
        tall = height * (1 + 0.18 / zoom if speaks else 1.0)
        feet = max(feet, 2 * h * HEADROOM + 1.05 * tall)  # a close shot crops legs, not heads under the caption
        placed.append((speaks, feet, x, tall, _look(ch)))
    for _, feet, x, tall, look in sorted(placed, key=lambda p: (p[0], p[1])):  # back to front, speaker last
        _figure(d, x, feet, tall, look, pal)
    layer = layer.reduce(2)
    img.paste(layer, (0, 0), layer)
    return img
