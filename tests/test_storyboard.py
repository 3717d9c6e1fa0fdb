"""The storyboard stills (exact, deterministic, varied, with figures and a readable caption) and the music bed."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageFont

from stages import assets
from stages.contracts import Character, ImageMaker, ImageRequest
from stages.images.storyboard import SAFE, StoryboardImages, StoryboardOptions, caption_text
from stages.registry import backend_class
from stages.text import TITLES

ANN = Character(name="Ann Hale", description="a cheerful woman in a green dress")
HALE = Character(name="Mr. Hale", description="a tall young man in a grey coat", aliases=("he",))
MUSIC = assets.ASSETS_DIR / "music" / "regency_air.ogg"


def request(**fields) -> ImageRequest:
    base = {"number": 4, "prompt": "The old mill on the hill, rain clearing over the fields", "mood": "calm",
            "time_of_day": "day", "width": 320, "height": 180, "seed": 1}
    return ImageRequest(**{**base, **fields})


def render(tmp_path: Path, req: ImageRequest, name: str = "still.png", **options) -> np.ndarray:
    path = tmp_path / name
    result = StoryboardImages(StoryboardOptions(**options)).make_image(req, path)
    assert result.path == path
    with Image.open(path) as img:
        assert img.format == "PNG"
        return np.asarray(img.convert("RGB"), dtype=np.int16)


def difference(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a - b).mean())


def test_registered_and_speaks_the_protocol():
    assert backend_class("images", "storyboard") is StoryboardImages
    assert isinstance(StoryboardImages(), ImageMaker)
    assert StoryboardImages.problems() == []


@pytest.mark.parametrize("size", [(320, 180), (333, 201), (180, 320), (1920, 1080)])
def test_exact_size(tmp_path, size):
    width, height = size
    assert render(tmp_path, request(width=width, height=height, characters=(ANN,))).shape == (height, width, 3)


def test_same_request_same_bytes_other_seed_other_picture(tmp_path):
    req = request(characters=(ANN, HALE), speaker="Ann Hale")
    backend = StoryboardImages()
    backend.make_image(req, tmp_path / "a.png")
    backend.make_image(req, tmp_path / "b.png")
    assert (tmp_path / "a.png").read_bytes() == (tmp_path / "b.png").read_bytes()
    backend.make_image(req.model_copy(update={"seed": 2}), tmp_path / "c.png")
    assert (tmp_path / "a.png").read_bytes() != (tmp_path / "c.png").read_bytes()


def test_moods_times_and_places_look_clearly_different(tmp_path):
    calm = render(tmp_path, request(prompt="The drawing room at Longbourn", mood="calm", time_of_day="morning"))
    tense = render(tmp_path, request(prompt="A dark road outside the village", mood="tense", time_of_day="night"))
    assert difference(calm, tense) > 25
    # same place and seed, other mood and hour: the palette alone must show
    somber = render(tmp_path, request(prompt="The drawing room at Longbourn", mood="somber", time_of_day="evening"))
    assert difference(calm, somber) > 12
    # an unknown mood still gets a stable palette of its own
    odd = render(tmp_path, request(prompt="The drawing room at Longbourn", mood="zany", time_of_day="morning"))
    assert difference(calm, odd) > 5


def test_figures_only_where_characters_stand(tmp_path):
    empty = render(tmp_path, request())
    people = render(tmp_path, request(characters=(ANN, HALE)))
    h, w, _ = empty.shape
    middle = (slice(int(0.3 * h), int(0.85 * h)), slice(int(0.25 * w), int(0.75 * w)))
    corner = (slice(0, int(0.15 * h)), slice(int(0.85 * w), w))
    assert difference(empty[middle], people[middle]) > 10
    assert difference(empty[corner], people[corner]) == 0  # the rest of the picture is untouched


def test_speaker_stands_larger(tmp_path):
    empty = render(tmp_path, request())

    def figure_height(speaker: str) -> int:
        still = render(tmp_path, request(characters=(HALE,), speaker=speaker))
        rows = np.nonzero((np.abs(still - empty).max(axis=2) > 40).any(axis=1))[0]
        return int(rows.max() - rows.min())

    assert figure_height("Mr. Hale") > figure_height("narrator") * 1.08
    assert figure_height("he") == figure_height("Mr. Hale")  # aliases count


def test_crowds_and_tiny_frames(tmp_path):
    crowd = tuple(Character(name=f"Guest {i}", description="a lady" if i % 2 else "a gentleman") for i in range(9))
    assert render(tmp_path, request(characters=crowd, width=64, height=36)).shape == (36, 64, 3)


def test_fonts_have_the_typographic_glyphs():
    font = ImageFont.truetype(str(assets.FONT_SERIF_ITALIC), 40)
    tofu = bytes(font.getmask("\ue000"))  # a private-use code point: no glyph, the .notdef box
    for char in "—“”‘’…":
        assert bytes(font.getmask(char)) != tofu, f"{char!r} would render as a box"
    left, top, right, bottom = font.getmask("—").getbbox()
    assert right - left > 4 * (bottom - top)  # a long thin dash, not a box


def test_caption_band_and_shot_tag_sit_inside_the_safe_area(tmp_path):
    req = request(prompt="Elizabeth turns — “Netherfield is let at last!”")
    assert caption_text(req.prompt) == "Elizabeth turns — “Netherfield is let at last!”"
    full = render(tmp_path, req)
    bare = render(tmp_path, req, caption=False, shot_number=False)
    h, w, _ = full.shape
    row = (slice(int(SAFE * h), int((SAFE + 0.07) * h)), slice(int(0.3 * w), int(0.85 * w)))
    assert difference(full[row], bare[row]) > 15 and full[row].max() > 200  # light letters on a dark band
    tag = (slice(int(SAFE * h), int((SAFE + 0.07) * h)), slice(int(SAFE * w), int(0.2 * w)))
    assert difference(full[tag], bare[tag]) > 10
    inside = np.zeros((h, w), bool)
    inside[int(SAFE * h):h - int(SAFE * h), int(SAFE * w):w - int(SAFE * w)] = True
    changed = np.abs(full.astype(int) - bare.astype(int)).max(axis=2) > 0
    assert changed.any() and not (changed & ~inside).any()  # a pan or zoom never crops them
    assert not changed[int(0.2 * h):].any()  # clear of the subtitles at the bottom of the frame


def test_caption_text_is_short_and_cut_at_words():
    assert caption_text("A ball at Netherfield. Everyone dances.") == "A ball at Netherfield"
    assert caption_text("Is it true? She asks.") == "Is it true?"
    prompt = "Mr. Hale speaking to Ann Hale about rain; the kitchen, daylight, calm mood. Mr. Hale: a tall man."
    assert caption_text(prompt) == "Mr. Hale speaking to Ann Hale about rain"
    assert caption_text("The park, Pemberley, a long lake, a great house beyond it on rising ground") == \
        "The park, Pemberley, a long lake"
    long = caption_text("Elizabeth walks alone across three muddy miles of country lanes towards Netherfield Park")
    assert len(long) <= 60 and long.endswith("…") and not long.endswith(" …")


@pytest.mark.parametrize("title", TITLES)
def test_a_caption_never_ends_on_a_title_of_the_one_list(title):
    prompt = f"{title}. Dufour speaking to {title}. Roux; the shop, daylight, calm mood. {title}. Dufour: tall."
    assert caption_text(prompt) == f"{title}. Dufour speaking to {title}. Roux"


def test_music_bed_decodes_loops_and_is_gentle():
    import soundfile

    data, rate = soundfile.read(str(MUSIC), always_2d=True)
    assert rate == 44100
    assert 60 <= len(data) / rate <= 90
    assert 20 * np.log10(np.abs(data).max()) <= -3.0
    assert 20 * np.log10(np.sqrt(np.mean(data**2))) > -35  # audible, not silence
    step = np.median(np.abs(np.diff(data, axis=0)))
    assert np.abs(data[-1] - data[0]).max() < 4 * step + 1e-3  # the end runs into the start without a jump
    assert MUSIC.stat().st_size < 1.5 * 1024 * 1024


@pytest.mark.parametrize("size", [(720, 1280), (320, 568)])
def test_a_portrait_still_keeps_a_readable_caption_inside_the_safe_area(tmp_path, size):
    req = request(prompt="Elizabeth walks alone across three muddy miles of country lanes towards Netherfield Park",
                  width=size[0], height=size[1], number=12)
    full = render(tmp_path, req)
    bare = render(tmp_path, req, caption=False, shot_number=False)
    h, w, _ = full.shape
    changed = np.abs(full - bare).max(axis=2) > 0
    inside = np.zeros((h, w), bool)
    inside[int(SAFE * h):h - int(SAFE * h), int(SAFE * w):w - int(SAFE * w)] = True
    assert changed.any() and not (changed & ~inside).any()
    rows = np.flatnonzero(changed.any(axis=1))
    assert rows.max() - rows.min() >= 0.05 * w  # a row sized by the narrow side, not a sliver


def test_no_head_rises_into_the_row_of_the_shot_tag_and_caption(tmp_path):
    from stages.images.paint import HEADROOM

    for seed in range(12):  # wide, medium and close shots, one to three figures
        cast = (ANN, HALE)[:1 + seed % 2]
        req = request(seed=seed, characters=cast, speaker=cast[0].name)
        people = render(tmp_path, req, caption=False, shot_number=False)
        empty = render(tmp_path, request(seed=seed), caption=False, shot_number=False)
        top = slice(0, int(HEADROOM * people.shape[0]) - 1)
        # a close shot softens the whole room a little; a head would differ by far more
        assert np.abs(people[top] - empty[top]).max() < 40, seed
