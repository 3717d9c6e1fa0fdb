"""The Ideogram images backend, over real HTTP (requests, httpx) against the fake Ideogram server."""
from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
from PIL import Image

from stages import calls
from stages.calls import Call, Charge, Till
from stages.cloud.download import LinkExpired
from stages.contracts import Character, ImageRequest
from stages.errors import AuthError, BudgetExceeded, ContentRejected, InputError, StageError, TransientError
from stages.images.ideogram import IdeogramImages, aspect_ratio
from tests.fakes.ideogram import install
from tests.fakes.server import FakeServer

KEY = "test-ideogram-key"
PROMPT = "A tall young man in a grey coat at the door of an old mill on a hill, rain clearing"
CHARACTER_PRICES = {"ideogram/V_3_CHARACTER:QUALITY": 0.20}


@pytest.fixture(scope="module")
def server():
    fake = FakeServer({"ideogram": install}).start()
    yield fake
    fake.stop()


@pytest.fixture(autouse=True)
def fresh(server, monkeypatch):
    """Point the backend at the fake, with a clean server state and a fresh, unjournaled call per test."""
    monkeypatch.setenv("FILM_IDEOGRAM_BASE_URL", server.url("ideogram"))
    monkeypatch.setenv("IDEOGRAM_API_KEY", KEY)
    server.state.reset()
    with calls.using(Call()):
        yield


def shot(number: int = 3, width: int = 64, height: int = 36, seed: int = 7, **kw) -> ImageRequest:
    return ImageRequest(number=number, prompt=PROMPT, width=width, height=height, seed=seed, **kw)


def generated(server) -> list[dict]:
    return [body for provider, path, body in server.state.bodies if path.endswith("/v1/ideogram-v3/generate")]


def picture(path: Path, size: tuple[int, int]) -> Path:
    Image.new("RGB", size, (200, 40, 40)).save(path)
    return path


def test_success_writes_fitted_png_and_sends_ideogram_fields(server, tmp_path):
    out = tmp_path / "still.png"
    before = time.time()
    result = IdeogramImages().make_image(shot(), out)
    with Image.open(out) as image:
        assert (image.format, image.size) == ("PNG", (64, 36))
        expected = tuple(hashlib.sha256(b"7").digest()[:3])  # the fake's colour for seed 7
        assert all(abs(a - b) <= 2 for a, b in zip(image.convert("RGB").getpixel((32, 18)), expected))
    assert result.path == out and "/ideogram/api/images/ephemeral/" in result.url
    assert before + 3600 <= result.url_expires_at <= time.time() + 3600
    [body] = generated(server)
    assert body["api_key"] == KEY
    assert body["fields"] == {"prompt": PROMPT, "seed": "7", "aspect_ratio": "16x9", "rendering_speed": "TURBO",
                              "magic_prompt": "OFF", "num_images": "1"}
    assert body["files"] == {}
    assert calls.current().charges == [Charge("ideogram/V_3:TURBO", 1, 0.03)]
    assert server.state.paid["ideogram"] == 1


def test_options_style_images_and_character_reference(server, tmp_path):
    styles = (picture(tmp_path / "s1.png", (40, 30)), picture(tmp_path / "s2.png", (30, 40)))
    face = picture(tmp_path / "ann.png", (32, 32))
    people = (Character(name="Mr. Hale"), Character(name="Ann Hale", reference_image=face))
    backend = IdeogramImages(IdeogramImages.parse_options(
        {"rendering_speed": "QUALITY", "negative_prompt": "text, watermark", "style_images": ["s1.png", "s2.png"]},
        base=tmp_path))
    assert backend.options.style_images == styles
    with calls.using(Call(prices=CHARACTER_PRICES)) as call:
        result = backend.make_image(shot(width=36, height=64, seed=2**40 + 5, characters=people), tmp_path / "o.png")
    with Image.open(result.path) as image:
        assert image.size == (36, 64)
    [body] = generated(server)
    fields, files = body["fields"], body["files"]
    assert (fields["aspect_ratio"], fields["rendering_speed"], fields["seed"]) == ("9x16", "QUALITY", str(5))
    assert fields["negative_prompt"] == "text, watermark"
    assert [(name, kind) for name, kind, size in files["style_reference_images"]] == [("s1.jpg", "image/jpeg"),
                                                                                      ("s2.jpg", "image/jpeg")]
    assert [name for name, kind, size in files["character_reference_images"]] == ["ann.jpg"]
    assert call.charges == [Charge("ideogram/V_3_CHARACTER:QUALITY", 1, 0.20)]


def test_aspect_ratio_picks_the_closest_allowed():
    assert aspect_ratio(1920, 1080) == "16x9"
    assert aspect_ratio(1080, 1920) == "9x16"
    assert aspect_ratio(1024, 1024) == "1x1"
    assert aspect_ratio(1280, 800) == "16x10"
    assert aspect_ratio(640, 480) == "4x3"
    assert aspect_ratio(1880, 800) == "2x1"
    assert aspect_ratio(3000, 1000) == "3x1"


def test_missing_key_is_auth_error_before_any_request(server, tmp_path, monkeypatch):
    monkeypatch.delenv("IDEOGRAM_API_KEY")
    with pytest.raises(AuthError, match="IDEOGRAM_API_KEY"):
        IdeogramImages().make_image(shot(), tmp_path / "o.png")
    assert server.state.requests == []


def test_429_is_transient_with_retry_after_and_not_charged(server, tmp_path):
    server.fault("ideogram", "429", retry_after=1.5)
    with pytest.raises(TransientError) as caught:
        IdeogramImages().make_image(shot(), tmp_path / "o.png")
    assert caught.value.retry_after == pytest.approx(1.5)
    assert "shot 3 image" in str(caught.value) and KEY not in str(caught.value)
    assert calls.current().charges == [] and calls.current().till.spent_usd == 0


def test_500_is_transient(server, tmp_path):
    server.fault("ideogram", "500")
    with pytest.raises(TransientError, match="500"):
        IdeogramImages().make_image(shot(), tmp_path / "o.png")


def test_slow_answer_past_timeout_is_transient(server, tmp_path):
    server.fault("ideogram", "slow", delay=1.5)
    backend = IdeogramImages(IdeogramImages.Options(timeout_s=0.3))
    with pytest.raises(TransientError):
        backend.make_image(shot(), tmp_path / "o.png")


def test_malformed_json_is_a_stage_error(server, tmp_path):
    server.fault("ideogram", "malformed")
    with pytest.raises(TransientError, match="unexpected body") as caught:
        IdeogramImages().make_image(shot(), tmp_path / "o.png")
    assert isinstance(caught.value, StageError)


def test_a_hollow_answer_is_transient_naming_the_shot(server, tmp_path):
    server.fault("ideogram", "hollow")
    with pytest.raises(TransientError, match="shot 3 image with an unexpected body"):
        IdeogramImages().make_image(shot(number=3), tmp_path / "o.png")


def test_safety_refusal_names_the_shot_and_prompt(server, tmp_path):
    server.fault("ideogram", "reject")
    with pytest.raises(ContentRejected) as caught:
        IdeogramImages().make_image(shot(number=5), tmp_path / "o.png")
    assert "shot 5" in str(caught.value) and PROMPT[:40] in str(caught.value)
    assert "screenplay.yaml" in caught.value.hint
    assert server.state.paid["ideogram"] == 0 and calls.current().charges == []


def test_unsafe_image_is_content_rejected(server, tmp_path):
    server.fault("ideogram", "unsafe")
    with pytest.raises(ContentRejected, match="shot 3.*safety check"):
        IdeogramImages().make_image(shot(), tmp_path / "o.png")


def test_truncated_download_then_retry_collects_without_paying_again(server, tmp_path):
    journal = tmp_path / "j.json"
    server.fault("ideogram", "truncated")
    with calls.using(Call(journal=journal)):
        with pytest.raises(TransientError):
            IdeogramImages().make_image(shot(), tmp_path / "o.png")
    assert json.loads(journal.read_text())["url"]
    with calls.using(Call(journal=journal)) as call:  # a later attempt, as after a crash or a rerun
        result = IdeogramImages().make_image(shot(), tmp_path / "o.png")
    assert call.charges == []
    with Image.open(result.path) as image:
        assert image.size == (64, 36)
    assert server.state.paid["ideogram"] == 1 and len(generated(server)) == 1


def test_expired_remembered_url_is_forgotten_and_generated_anew(server, tmp_path):
    journal = tmp_path / "j.json"
    with calls.using(Call(journal=journal)):
        first = IdeogramImages().make_image(shot(), tmp_path / "o.png")
    server.state.files.clear()  # the signed URL has expired
    with calls.using(Call(journal=journal)):
        second = IdeogramImages().make_image(shot(), tmp_path / "o.png")
    assert second.url != first.url and json.loads(journal.read_text())["url"] == second.url
    assert server.state.paid["ideogram"] == 2


def test_a_fresh_link_that_is_already_gone_is_transient_and_the_retry_generates_anew(server, tmp_path):
    journal = tmp_path / "j.json"
    server.state.expire_files = 1
    with calls.using(Call(journal=journal)), pytest.raises(LinkExpired, match="shot 3 image") as caught:
        IdeogramImages().make_image(shot(), tmp_path / "o.png")
    assert "IDEOGRAM_API_KEY" not in f"{caught.value} {caught.value.hint}"  # a link, not the key, was refused
    assert json.loads(journal.read_text()).get("url") is None
    with calls.using(Call(journal=journal)):
        IdeogramImages().make_image(shot(), tmp_path / "o.png")
    assert server.state.paid["ideogram"] == 2


GCS_EXPIRED = "<Error><Code>ExpiredToken</Code><Message>Invalid argument.</Message></Error>"


@pytest.mark.parametrize("answer", [(400, GCS_EXPIRED), (400, "Bad Request")], ids=["400-expired", "400-other"])
def test_a_remembered_link_refused_otherwise_is_dropped_too(server, tmp_path, answer):
    journal = tmp_path / "j.json"
    with calls.using(Call(journal=journal)):
        first = IdeogramImages().make_image(shot(), tmp_path / "o.png")
    server.state.expire_files, server.state.expired_answer = 1, answer
    with calls.using(Call(journal=journal)):
        second = IdeogramImages().make_image(shot(), tmp_path / "o.png")
    assert second.url != first.url and server.state.paid["ideogram"] == 2


def test_budget_refuses_before_any_paid_request(server, tmp_path):
    with calls.using(Call(till=Till(budget_usd=0.0))):
        with pytest.raises(BudgetExceeded):
            IdeogramImages().make_image(shot(), tmp_path / "o.png")
    assert generated(server) == [] and server.state.requests == []


def test_missing_style_image_is_input_error(server, tmp_path):
    backend = IdeogramImages(IdeogramImages.Options(style_images=(tmp_path / "nope.png",)))
    with pytest.raises(InputError, match="style image"):
        backend.make_image(shot(), tmp_path / "o.png")
    assert server.state.requests == []


def test_estimate_and_identity(tmp_path):
    assert IdeogramImages().estimate(shot()) == [("V_3:TURBO", 1)]
    face = Character(name="Ann", reference_image=picture(tmp_path / "ann.png", (8, 8)))
    quality = IdeogramImages(IdeogramImages.Options(rendering_speed="QUALITY", url_lifetime_s=60))
    assert quality.estimate(shot(characters=(face,))) == [("V_3_CHARACTER:QUALITY", 1)]
    assert quality.identity()["options"] == IdeogramImages(IdeogramImages.Options(rendering_speed="QUALITY")
                                                           ).identity()["options"]


def test_import_is_light():
    code = "import sys, stages.images.ideogram; print('requests' in sys.modules, 'httpx' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                          cwd=Path(__file__).resolve().parents[1])
    assert done.stdout.split() == ["False", "False"]
