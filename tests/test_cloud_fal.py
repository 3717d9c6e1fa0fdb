"""The fal image and animation backends and the still uploader against the fake fal queue and storage APIs."""
from __future__ import annotations

import io
import json
import time
from pathlib import Path

import httpx
import pytest
from PIL import Image

from stages import calls
from stages.animation.fal import KLING, LTX, FalAnimator, FalAnimatorOptions, clip_seconds
from stages.calls import Call, Till
from stages.cloud.download import LinkExpired
from stages.cloud.fal import JOURNAL
from stages.cloud.uploads import upload_still
from stages.contracts import AnimationRequest, Animator, Character, ImageMaker, ImageRequest, VideoFormat
from stages.errors import AuthError, BudgetExceeded, ContentRejected, InputError, StageError, TransientError
from stages.images.fal import FalImages, FalImagesOptions, generation_size
from stages.media import FrameReader
from tests.fakes import fal as fake_fal
from tests.fakes.server import FakeServer

KEY = "test-fal-key-123"
FMT = VideoFormat(width=64, height=36, fps=12)
PROMPT = "The old mill on the hill at dusk, rain clearing over the fields"
FAST = {"poll_interval_s": 0.01, "timeout_s": 5.0}


@pytest.fixture(scope="module")
def server():
    server = FakeServer({"fal": fake_fal.install}).start()
    yield server
    server.stop()


@pytest.fixture(autouse=True)
def fal_env(server, monkeypatch):
    monkeypatch.setenv("FILM_FAL_BASE_URL", server.url("fal"))
    monkeypatch.setenv("FAL_KEY", KEY)
    server.state.reset()
    return server.state


def image_request(**fields) -> ImageRequest:
    base = {"number": 3, "prompt": PROMPT, "mood": "calm", "time_of_day": "evening", "width": 64, "height": 36,
            "seed": 7, "characters": (Character(name="Ann Hale", description="a cheerful woman in a green dress"),)}
    return ImageRequest(**{**base, **fields})


def still(tmp_path: Path) -> Path:
    path = tmp_path / "still.png"
    Image.new("RGB", (64, 36), (90, 140, 60)).save(path)
    return path


def clip_request(server, tmp_path: Path, hosted: bool = True, **fields) -> AnimationRequest:
    url = server.state.host("still.png", b"\x89PNG not needed by the fake", "image/png") if hosted else None
    base = {"image_path": still(tmp_path), "duration": 4.2, "motion": "slow push in", "format": FMT,
            "description": PROMPT, "image_url": url, "seed": 11}
    return AnimationRequest(**{**base, **fields})


def make(stage: str, server, tmp_path: Path, **options):
    """Run the fal backend of ``stage`` ("images" or "animation") once on the standard request."""
    if stage == "images":
        return FalImages(FalImagesOptions(**{**FAST, **options})).make_image(image_request(), tmp_path / "s.png")
    return FalAnimator(FalAnimatorOptions(**{**FAST, **options})).animate(clip_request(server, tmp_path),
                                                                           tmp_path / "c.mp4")


def submits(state) -> list[tuple[str, dict]]:
    return [(path, body) for _, path, body in state.bodies if "/storage/" not in path]


def posted(state) -> int:
    return sum(1 for _, method, path in state.requests if method == "POST" and "/storage/" not in path)


def frames_of(path: Path, fmt: VideoFormat) -> int:
    reader, count = FrameReader(path, (fmt.width, fmt.height), fmt.fps), 0
    try:
        while reader.read() is not None:
            count += 1
    finally:
        reader.close()
    return count


STAGES = pytest.mark.parametrize("stage", ["images", "animation"])


# --- images ------------------------------------------------------------------------------------------


def test_image_success_sends_flux_request_and_fits_still(fal_env, tmp_path):
    backend = FalImages(FalImagesOptions(**FAST))
    assert isinstance(backend, ImageMaker)
    before = time.time()
    result = backend.make_image(image_request(), tmp_path / "still.png")
    with Image.open(result.path) as image:
        assert image.format == "PNG" and image.size == (64, 36)
    [(path, body)] = submits(fal_env)
    assert path == "/fal/fal-ai/flux/schnell"
    assert body["seed"] == 7 and body["num_images"] == 1 and body["enable_safety_checker"] is True
    assert body["image_size"] == {"width": 560, "height": 320}
    assert PROMPT in body["prompt"] and "green dress" in body["prompt"] and "evening" in body["prompt"]
    job = next(j for j in fal_env.jobs.values() if "model" in j)
    assert job["auth"] == f"Key {KEY}" and job["polls"] == 3  # queued, in progress, completed
    assert result.url and result.url.endswith(".png")
    assert before + 3595 < result.url_expires_at < time.time() + 3605
    assert fal_env.paid["fal"] == 1
    assert not list(tmp_path.glob(".*download*"))
    assert KEY not in json.dumps(result.model_dump(mode="json"))


def test_image_dev_model_and_estimate(fal_env, tmp_path):
    backend = FalImages(FalImagesOptions(model="fal-ai/flux/dev", **FAST))
    assert backend.estimate(image_request()) == [("fal-ai/flux/dev:image", 1)]
    assert FalImages().estimate(image_request()) == [("fal-ai/flux/schnell:image", 1)]
    assert "url_lifetime_s" not in backend.identity()["options"]
    backend.make_image(image_request(), tmp_path / "s.png")
    assert submits(fal_env)[0][0] == "/fal/fal-ai/flux/dev"


@pytest.mark.parametrize("size, expected", [((64, 36), (560, 320)), ((1920, 1080), (1328, 736)),
                                            ((1024, 1024), (992, 992)), ((1080, 1920), (736, 1328))])
def test_generation_size(size, expected):
    assert generation_size(*size) == expected


def test_image_nsfw_flag_is_rejected_naming_shot_and_prompt(server, tmp_path):
    server.fault("fal", "reject")
    call = Call(journal=tmp_path / "j.json")
    with calls.using(call), pytest.raises(ContentRejected) as caught:
        make("images", server, tmp_path)
    assert "shot 3" in str(caught.value) and "The old mill" in str(caught.value) and "NSFW" in str(caught.value)
    assert "screenplay.yaml" in caught.value.hint
    assert call.recall(JOURNAL) is None  # a rerun asks anew


# --- animation ---------------------------------------------------------------------------------------


def test_clip_success_kling(server, fal_env, tmp_path):
    backend = FalAnimator(FalAnimatorOptions(**FAST))
    assert isinstance(backend, Animator)
    request = clip_request(server, tmp_path)
    result = backend.animate(request, tmp_path / "clip.mp4")
    [(path, body)] = submits(fal_env)
    assert path == f"/fal/{KLING}"
    assert body == {"prompt": f"slow push in. {PROMPT}", "image_url": request.image_url, "duration": "5"}
    assert result.duration == pytest.approx(5.0, abs=0.1)
    assert frames_of(result.path, FMT) == round(result.duration * FMT.fps)
    assert fal_env.paid["fal"] == 1 and not any("/storage/" in p for _, _, p in fal_env.requests)
    assert not list(tmp_path.glob(".*download*"))


def test_clip_long_shot_asks_ten_seconds(server, fal_env, tmp_path):
    backend = FalAnimator(FalAnimatorOptions(**FAST))
    request = clip_request(server, tmp_path, duration=7)
    assert backend.estimate(request) == [(f"{KLING}:second", 10)]
    assert backend.estimate(clip_request(server, tmp_path, duration=12)) == [(f"{KLING}:second", 10)]
    assert backend.animate(request, tmp_path / "c.mp4").duration == pytest.approx(10.0, abs=0.1)
    assert submits(fal_env)[0][1]["duration"] == "10"


def test_clip_ltx_sends_seed_not_duration(server, fal_env, tmp_path):
    backend = FalAnimator(FalAnimatorOptions(model=LTX, **FAST))
    assert backend.estimate(clip_request(server, tmp_path, duration=8)) == [(f"{LTX}:second", 5)]
    backend.animate(clip_request(server, tmp_path), tmp_path / "c.mp4")
    [(path, body)] = submits(fal_env)
    assert path == f"/fal/{LTX}" and body["seed"] == 11 and "duration" not in body
    assert clip_seconds(LTX, 30) == 5 and clip_seconds(KLING, 5.0) == 5


def test_clip_without_hosted_still_uploads_it(server, fal_env, tmp_path):
    FalAnimator(FalAnimatorOptions(**FAST)).animate(clip_request(server, tmp_path, hosted=False), tmp_path / "c.mp4")
    [(_, body)] = submits(fal_env)
    assert body["image_url"].startswith(fal_env.base_url + "/files/") and body["image_url"].endswith("still.jpg")
    [upload] = [j for k, j in fal_env.jobs.items() if k.startswith("upload:")]
    assert upload["auth"] == f"Key {KEY}" and upload["put_auth"] is None


def test_clip_content_policy_422_is_rejected(server, tmp_path):
    server.fault("fal", "reject")
    call = Call(journal=tmp_path / "j.json")
    with calls.using(call), pytest.raises(ContentRejected) as caught:
        make("animation", server, tmp_path)
    assert "clip" in str(caught.value) and "slow push in" in str(caught.value) and "422" in str(caught.value)
    assert call.recall(JOURNAL) is None


# --- both backends -----------------------------------------------------------------------------------


@STAGES
def test_missing_key_sends_nothing(stage, server, fal_env, monkeypatch, tmp_path):
    monkeypatch.delenv("FAL_KEY")
    with pytest.raises(AuthError, match="FAL_KEY"):
        make(stage, server, tmp_path)
    assert fal_env.requests == []


@STAGES
def test_429_is_transient_with_retry_after(stage, server, fal_env, tmp_path):
    server.fault("fal", "429", retry_after=7)
    with pytest.raises(TransientError) as caught:
        make(stage, server, tmp_path)
    assert caught.value.retry_after == pytest.approx(7)
    assert fal_env.paid["fal"] == 0


@STAGES
@pytest.mark.parametrize("kind, error", [("500", TransientError), ("slow", TransientError),
                                         ("malformed", StageError)])
def test_generic_faults(stage, kind, error, server, tmp_path):
    server.fault("fal", kind, delay=1.5)
    with pytest.raises(error, match="fal"):
        make(stage, server, tmp_path, timeout_s=0.3)


@STAGES
@pytest.mark.parametrize("route, skip", [("fal-ai", 0), ("/status", 0), ("/requests/", 3)],
                         ids=["submit", "status", "result"])
def test_a_hollow_answer_is_transient_and_the_retry_pays_once(stage, route, skip, server, fal_env, tmp_path):
    server.fault("fal", "hollow", route=route, skip=skip)  # skip: the three polls before the result
    journal = tmp_path / "j.json"
    with calls.using(Call(journal=journal)), pytest.raises(TransientError, match="unexpected body") as caught:
        make(stage, server, tmp_path)
    assert "shot" in str(caught.value)
    with calls.using(Call(journal=journal)):
        make(stage, server, tmp_path)
    assert fal_env.paid["fal"] == 1


@STAGES
def test_an_expired_result_link_is_forgotten_and_the_retry_submits_anew(stage, server, fal_env, tmp_path):
    fal_env.expire_files = 1
    journal = tmp_path / "j.json"
    with calls.using(Call(journal=journal)), pytest.raises(LinkExpired, match="no longer at its link") as caught:
        make(stage, server, tmp_path)
    assert "key" not in f"{caught.value} {caught.value.hint}".lower()
    with calls.using(Call(journal=journal)) as call:
        assert call.recall(JOURNAL) is None
        make(stage, server, tmp_path)
    assert fal_env.paid["fal"] == 2


@STAGES
def test_a_submit_answered_with_only_its_id_is_collected_at_fals_own_urls(stage, server, fal_env, tmp_path):
    server.fault("fal", "bare_submit")
    make(stage, server, tmp_path)
    assert fal_env.paid["fal"] == 1 and posted(fal_env) == 1


@STAGES
def test_job_failure_is_a_stage_error_and_forgotten(stage, server, fal_env, tmp_path):
    server.fault("fal", "job_fails")
    journal = tmp_path / "j.json"
    with calls.using(Call(journal=journal)), pytest.raises(StageError, match="Runner disconnected") as caught:
        make(stage, server, tmp_path)
    assert not isinstance(caught.value, (TransientError, ContentRejected)) and KEY not in str(caught.value)
    with calls.using(Call(journal=journal)) as call:
        assert call.recall(JOURNAL) is None
        make(stage, server, tmp_path)  # a rerun submits a new job
    assert fal_env.paid["fal"] == 2


@STAGES
def test_truncated_download_then_retry_pays_once(stage, server, fal_env, tmp_path):
    server.fault("fal", "truncated")
    journal = tmp_path / "j.json"
    with calls.using(Call(journal=journal)), pytest.raises(TransientError):
        make(stage, server, tmp_path)
    assert json.loads(journal.read_text())[JOURNAL]["request_id"] and KEY not in journal.read_text()
    with calls.using(Call(journal=journal)):
        make(stage, server, tmp_path)
    assert fal_env.paid["fal"] == 1 and posted(fal_env) == 1


@STAGES
def test_poll_deadline_then_retry_pays_once(stage, server, fal_env, tmp_path):
    journal = tmp_path / "j.json"
    with calls.using(Call(journal=journal)), pytest.raises(TransientError, match="not ready"):
        make(stage, server, tmp_path, deadline_s=0.005, poll_interval_s=0.05)
    with calls.using(Call(journal=journal)):
        make(stage, server, tmp_path)
    assert fal_env.paid["fal"] == 1


def test_429_while_polling_keeps_the_job(server, fal_env, tmp_path):
    server.fault("fal", "429", route="/status")
    journal = tmp_path / "j.json"
    with calls.using(Call(journal=journal)), pytest.raises(TransientError):
        make("images", server, tmp_path)
    with calls.using(Call(journal=journal)):
        make("images", server, tmp_path)
    assert fal_env.paid["fal"] == 1


@STAGES
def test_budget_refuses_before_any_paid_request(stage, server, fal_env, tmp_path):
    with calls.using(Call(till=Till(budget_usd=0.0))), pytest.raises(BudgetExceeded):
        make(stage, server, tmp_path)
    assert posted(fal_env) == 0 and fal_env.paid["fal"] == 0


# --- uploads -----------------------------------------------------------------------------------------


def test_upload_still_hosts_a_jpeg(fal_env, tmp_path):
    url = upload_still(still(tmp_path), via="fal")
    assert url.startswith(fal_env.base_url + "/files/")
    response = httpx.get(url)
    assert response.headers["content-type"] == "image/jpeg"
    assert Image.open(io.BytesIO(response.content)).size == (64, 36)
    [upload] = [j for k, j in fal_env.jobs.items() if k.startswith("upload:")]
    assert upload["auth"] == f"Key {KEY}" and upload["put_auth"] is None  # the signed URL never sees the key


def test_upload_refusals(fal_env, monkeypatch, tmp_path):
    with pytest.raises(InputError, match="known: fal"):
        upload_still(still(tmp_path), via="imgur")
    monkeypatch.delenv("FAL_KEY")
    with pytest.raises(AuthError, match="FAL_KEY"):
        upload_still(still(tmp_path), via="fal")
    assert fal_env.requests == []


def test_upload_500_is_transient(server, tmp_path):
    server.fault("fal", "500", route="/storage/")
    with pytest.raises(TransientError, match="upload"):
        upload_still(still(tmp_path), via="fal")


def test_a_hollow_upload_answer_is_transient(server, tmp_path):
    server.fault("fal", "hollow", route="/storage/")
    with pytest.raises(TransientError, match="upload of the still still.png with an unexpected body"):
        upload_still(still(tmp_path), via="fal")
