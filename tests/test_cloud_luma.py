"""The Luma animator against the fake Dream Machine API: the real lumaai SDK on the wire, faults on demand."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from stages import calls
from stages.animation.luma import LumaAnimator, LumaOptions, aspect_ratio, luma_prompt, luma_seconds
from stages.calls import Call, Till
from stages.cloud.download import LinkExpired
from stages.contracts import AnimationRequest, Animator, VideoFormat
from stages.errors import AuthError, BudgetExceeded, ContentRejected, InputError, StageError, TransientError
from stages.media import FrameReader
from tests.fakes import luma as fake_luma
from tests.conftest import write_project
from tests.fakes.server import FakeServer

KEY = "test-luma-key-123"
FMT = VideoFormat(width=64, height=36, fps=12)
DESCRIPTION = "The old mill on the hill, rain clearing over the fields"


@pytest.fixture(scope="module")
def server():
    server = FakeServer({"luma": fake_luma.install}).start()
    yield server
    server.stop()


@pytest.fixture(autouse=True)
def luma_env(server, monkeypatch):
    monkeypatch.setenv("FILM_LUMA_BASE_URL", server.url("luma") + "/dream-machine/v1")
    monkeypatch.setenv("LUMAAI_API_KEY", KEY)
    server.state.reset()
    with calls.using(Call()):  # a fresh unjournaled call per test: no job id carries over
        yield server.state


def request(server, **fields) -> AnimationRequest:
    url = server.state.host("still.png", b"\x89PNG not needed by the fake", "image/png")
    base = {"image_path": Path("/nonexistent/still.png"), "duration": 4.2, "motion": "slow push in",
            "format": FMT, "description": DESCRIPTION, "image_url": url}
    return AnimationRequest(**{**base, **fields})


def animator(**options) -> LumaAnimator:
    return LumaAnimator(LumaOptions(**{"poll_interval_s": 0.01, "timeout_s": 5.0, **options}))


def creates(state) -> int:
    return sum(1 for _, method, path in state.requests if method == "POST" and path.endswith("/generations/video"))


def frames_of(path: Path, fmt: VideoFormat) -> int:
    reader, count = FrameReader(path, (fmt.width, fmt.height), fmt.fps), 0
    try:
        while reader.read() is not None:
            count += 1
    finally:
        reader.close()
    return count


def test_generates_the_clip_from_the_hosted_still(server, tmp_path):
    req = request(server)
    with calls.using(Call()) as call:
        result = animator().animate(req, tmp_path / "clip.mp4")
    assert isinstance(animator(), Animator)
    assert result.path == tmp_path / "clip.mp4"
    assert result.duration == pytest.approx(5.0, abs=0.1)
    assert frames_of(result.path, FMT) == pytest.approx(60, abs=1)
    assert not list(tmp_path.glob(".*download*"))  # the raw download is gone
    (_, path, body), = server.state.bodies
    assert path == "/luma/dream-machine/v1/generations/video"
    assert body == {"prompt": f"slow push in, {DESCRIPTION}", "model": "ray-2", "duration": "5s",
                    "resolution": "720p", "aspect_ratio": "16:9", "loop": False,
                    "keyframes": {"frame0": {"type": "image", "url": req.image_url}}}
    job, = server.state.jobs.values()
    assert job["auth"] == f"Bearer {KEY}"
    assert server.state.paid["luma"] == 1
    assert [(c.item, c.units) for c in call.charges] == [("luma/ray-2:second", 5)]
    assert call.charges[0].usd == pytest.approx(0.7)


def test_options_choose_model_length_shape_and_loop(server, tmp_path):
    fmt = VideoFormat(width=36, height=64, fps=12)
    req = request(server, duration=7.0, format=fmt)
    result = animator(model="ray-flash-2", resolution="540p", loop=True).animate(req, tmp_path / "clip.mp4")
    assert result.duration == pytest.approx(9.0, abs=0.1)
    body = server.state.bodies[-1][2]
    assert (body["model"], body["duration"], body["aspect_ratio"], body["resolution"], body["loop"]) == (
        "ray-flash-2", "9s", "9:16", "540p", True)


def test_durations_aspects_prompt_and_estimate(server):
    assert [luma_seconds(s) for s in (0.5, 5.0, 5.2, 9.0, 14.0)] == [5, 5, 9, 9, 9]
    shapes = {(1920, 1080): "16:9", (1080, 1920): "9:16", (512, 512): "1:1", (640, 480): "4:3", (2560, 1080): "21:9"}
    for (w, h), ratio in shapes.items():
        assert aspect_ratio(VideoFormat(width=w, height=h, fps=24)) == ratio
    assert luma_prompt(request(server, description="")) == "slow push in"
    assert len(luma_prompt(request(server, description="x" * 6000))) == 5000
    assert animator().estimate(request(server, duration=3)) == [("ray-2:second", 5)]
    assert animator(model="ray-flash-2").estimate(request(server, duration=11)) == [("ray-flash-2:second", 9)]


def test_missing_key_is_an_auth_error_before_any_request(server, tmp_path, monkeypatch):
    monkeypatch.delenv("LUMAAI_API_KEY")
    with pytest.raises(AuthError, match="LUMAAI_API_KEY"):
        animator().animate(request(server), tmp_path / "clip.mp4")
    assert server.state.requests == []


def test_a_still_without_url_needs_a_hosting_image_backend_or_an_uploader(server, tmp_path):
    with pytest.raises(InputError) as caught:
        animator().animate(request(server, image_url=None), tmp_path / "clip.mp4")
    text = f"{caught.value} {caught.value.hint}"
    assert "URL" in text and "uploader: fal" in text and "FAL_KEY" in text and "ideogram" in text
    assert server.state.requests == []


def test_rate_limit_is_transient_with_retry_after(server, tmp_path):
    server.fault("luma", "429", route="generations/video", retry_after=0.2)
    with pytest.raises(TransientError) as caught:
        animator().animate(request(server), tmp_path / "clip.mp4")
    assert caught.value.retry_after == pytest.approx(0.2)
    assert server.state.paid["luma"] == 0


def test_server_error_is_transient(server, tmp_path):
    server.fault("luma", "500")
    with pytest.raises(TransientError, match="500"):
        animator().animate(request(server), tmp_path / "clip.mp4")


def test_slow_answer_past_the_timeout_is_transient(server, tmp_path):
    server.fault("luma", "slow", delay=1.0)
    with pytest.raises(TransientError):
        animator(timeout_s=0.2).animate(request(server), tmp_path / "clip.mp4")


def test_malformed_answer_is_a_stage_error(server, tmp_path):
    server.fault("luma", "malformed")
    with pytest.raises(StageError) as caught:
        animator().animate(request(server), tmp_path / "clip.mp4")
    assert "luma" in str(caught.value)


def test_refusal_at_create_is_content_rejected_naming_the_shot(server, tmp_path):
    server.fault("luma", "reject", route="generations/video")
    with pytest.raises(ContentRejected) as caught:
        animator().animate(request(server), tmp_path / "clip.mp4")
    assert "slow push in, The old mill" in str(caught.value) and "screenplay.yaml" in caught.value.hint
    assert server.state.paid["luma"] == 0


def test_moderated_generation_is_content_rejected_and_forgotten(server, tmp_path):
    server.fault("luma", "reject")
    journal = tmp_path / "j.json"
    with calls.using(Call(journal=journal)), pytest.raises(ContentRejected) as caught:
        animator().animate(request(server), tmp_path / "clip.mp4")
    assert "moderation" in str(caught.value) and 'clip "slow push in' in str(caught.value)
    assert json.loads(journal.read_text()).get("job_id") is None
    assert KEY not in str(caught.value) and KEY not in journal.read_text()


def test_failed_generation_is_a_stage_error_and_a_rerun_makes_a_new_one(server, tmp_path):
    server.fault("luma", "job_fails")
    journal = tmp_path / "j.json"
    with calls.using(Call(journal=journal)), pytest.raises(StageError) as caught:
        animator().animate(request(server), tmp_path / "clip.mp4")
    assert type(caught.value) is StageError and "Job failed" in str(caught.value)
    with calls.using(Call(journal=journal)):
        animator().animate(request(server), tmp_path / "clip.mp4")
    assert creates(server.state) == 2 and server.state.paid["luma"] == 2


@pytest.mark.parametrize("kind, skip", [("hollow", 0), ("hollow", 1), ("no_video", 0)],
                         ids=["create", "poll", "completed-without-video"])
def test_a_hollow_answer_is_transient_and_a_polled_job_is_kept(server, tmp_path, kind, skip):
    server.fault("luma", kind, route="generations/", skip=skip)
    journal = tmp_path / "j.json"
    with calls.using(Call(journal=journal)), pytest.raises(TransientError, match="unexpected body") as caught:
        animator().animate(request(server), tmp_path / "clip.mp4")
    assert 'shot 0 clip "slow push in' in str(caught.value)
    with calls.using(Call(journal=journal)):
        animator().animate(request(server), tmp_path / "clip.mp4")
    hollow_create = kind == "hollow" and skip == 0  # answered before the fake made (and billed) a generation
    assert creates(server.state) == 1 + hollow_create and server.state.paid["luma"] == 1


def test_an_expired_video_link_is_forgotten_and_the_retry_generates_anew(server, tmp_path):
    server.state.expire_files = 1
    journal = tmp_path / "j.json"
    with calls.using(Call(journal=journal)), pytest.raises(LinkExpired, match="no longer at its link") as caught:
        animator().animate(request(server), tmp_path / "clip.mp4")
    assert "LUMAAI_API_KEY" not in f"{caught.value} {caught.value.hint}"
    assert json.loads(journal.read_text()).get("job_id") is None
    with calls.using(Call(journal=journal)):
        animator().animate(request(server), tmp_path / "clip.mp4")
    assert creates(server.state) == 2 and server.state.paid["luma"] == 2


def test_truncated_download_is_collected_again_without_paying_twice(server, tmp_path):
    server.fault("luma", "truncated")
    journal = tmp_path / "j.json"
    with calls.using(Call(journal=journal)), pytest.raises(TransientError, match="download"):
        animator().animate(request(server), tmp_path / "clip.mp4")
    with calls.using(Call(journal=journal)):
        result = animator().animate(request(server), tmp_path / "clip.mp4")
    assert result.duration == pytest.approx(5.0, abs=0.1)
    assert creates(server.state) == 1 and server.state.paid["luma"] == 1


def test_poll_deadline_then_the_same_job_is_collected(server, tmp_path):
    journal = tmp_path / "j.json"
    with calls.using(Call(journal=journal)), pytest.raises(TransientError, match="not ready"):
        animator(deadline_s=0.05, poll_interval_s=0.1).animate(request(server), tmp_path / "clip.mp4")
    job_id = json.loads(journal.read_text())["job_id"]
    assert server.state.jobs[job_id]["state"] != "completed"
    with calls.using(Call(journal=journal)):
        result = animator().animate(request(server), tmp_path / "clip.mp4")
    assert frames_of(result.path, FMT) > 0
    assert creates(server.state) == 1 and server.state.paid["luma"] == 1


def test_budget_stops_the_paid_request_before_it_is_sent(server, tmp_path):
    with calls.using(Call(till=Till(budget_usd=0.0))), pytest.raises(BudgetExceeded):
        animator().animate(request(server), tmp_path / "clip.mp4")
    assert creates(server.state) == 0 and server.state.paid["luma"] == 0


def test_a_vanished_generation_is_forgotten_and_made_anew(server, tmp_path):
    journal = tmp_path / "j.json"
    Call(journal=journal).remember("job_id", "0b7e5d1c-gone")
    with calls.using(Call(journal=journal)), pytest.raises(TransientError, match="no longer knows"):
        animator().animate(request(server), tmp_path / "clip.mp4")
    with calls.using(Call(journal=journal)):
        animator().animate(request(server), tmp_path / "clip.mp4")
    assert creates(server.state) == 1 and server.state.paid["luma"] == 1


def test_an_unknown_uploader_is_refused_naming_the_known_ones(cli, tmp_path):
    project = write_project(tmp_path / "proj", stages="{animation: {backend: luma, options: {uploader: imgur}}}")
    code, text = cli("check", project)
    flat = " ".join(text.split())
    assert code == 2 and "stages.animation.options.uploader" in flat and "known: fal" in flat, text


def test_the_uploaders_key_is_checked_before_any_paid_call(cli, tmp_path, monkeypatch):
    monkeypatch.delenv("FAL_KEY", raising=False)
    project = write_project(tmp_path / "proj", stages="{animation: {backend: luma, options: {uploader: fal}}}")
    code, text = cli("check", project)
    flat = " ".join(text.split())
    assert code == 2 and "FAL_KEY" in flat and "uploader 'fal'" in flat, text
    monkeypatch.setenv("FAL_KEY", "fal-test-key")
    assert cli("check", project)[0] == 0
