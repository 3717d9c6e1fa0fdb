"""Luma Dream Machine animator: the still as the first keyframe of a Ray 2 image-to-video generation.

Luma fetches the keyframe itself, so the still must be reachable at a URL: the image backend's hosted
copy (``request.image_url``) or an upload through another provider (option ``uploader``). The generation
id is journaled the moment it exists, so a retry after a poll deadline or a cut-short download collects
the same (paid) generation instead of making a new one.
"""
from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, field_validator

from stages import calls
from stages.cloud.base import CloudBackend, CloudOptions, shot_label
from stages.cloud.http import REJECTION_WORDS, redact, unexpected_answer
from stages.cloud.uploads import UPLOADERS, known_uploader, upload_still
from stages.contracts import AnimationRequest, AnimationResult, VideoFormat
from stages.errors import ContentRejected, InputError, StageError, TransientError

DURATIONS = (5, 9)  # seconds Ray 2 generates, as "5s" / "9s"
ASPECTS = ("1:1", "16:9", "9:16", "4:3", "3:4", "21:9", "9:21")
PROMPT_CHARS = 5000  # Luma's documented prompt limit
# Luma's failure reasons for refused content ("Contains blacklisted words", "Frame moderation failed", ...).
MODERATION_WORDS = (*REJECTION_WORDS, "blacklist")
WORKING = ("queued", "dreaming")


class LumaOptions(CloudOptions):
    """Which Ray model and resolution to generate, whether the clip loops, how the still reaches Luma."""

    model: Literal["ray-2", "ray-flash-2"] = Field("ray-2", description="Ray model; ray-flash-2 is faster and "
                                                                          "cheaper")
    resolution: Literal["540p", "720p", "1080p", "4k"] = Field("720p", description="resolution Luma generates at")
    loop: bool = Field(False, description="ask for a clip whose end flows back into its start")
    uploader: str | None = Field(None, description="provider that hosts the still when the image backend did not: "
                                                   "fal (needs FAL_KEY)")

    _known_uploader = field_validator("uploader")(known_uploader)


def luma_seconds(duration: float) -> int:
    """The shortest Luma duration covering ``duration`` seconds, else the longest there is."""
    return next((s for s in DURATIONS if s >= duration - 1e-6), DURATIONS[-1])


def aspect_ratio(fmt: VideoFormat) -> str:
    """The Luma aspect ratio closest to the film's frame."""
    want = math.log(fmt.width / fmt.height)

    def distance(ratio: str) -> float:
        w, h = ratio.split(":")
        return abs(math.log(int(w) / int(h)) - want)

    return min(ASPECTS, key=distance)


def luma_prompt(request: AnimationRequest) -> str:
    """The camera move, then what the still shows, cut to Luma's limit."""
    text = ", ".join(part.strip() for part in (request.motion, request.description) if part.strip())
    return text[:PROMPT_CHARS]


class LumaAnimator(CloudBackend):
    """Image-to-video with Luma's Dream Machine API (Ray 2 / Ray Flash 2), the still as frame 0."""

    name = "luma"
    Options = LumaOptions
    options: LumaOptions
    packages = ("lumaai",)
    env_keys = ("LUMAAI_API_KEY",)  # what the lumaai SDK itself reads
    provider = "luma"
    concurrency = 4  # Luma's Build tier allows 10 concurrent Ray generations
    default_url = "https://api.lumalabs.ai/dream-machine/v1"
    unkeyed_options = CloudBackend.unkeyed_options | {"uploader"}

    def estimate(self, request: AnimationRequest) -> list[tuple[str, float]]:
        """One generation, billed per second of the Luma duration asked for."""
        return [(f"{self.options.model}:second", luma_seconds(request.duration))]

    def animate(self, request: AnimationRequest, out_path: Path) -> AnimationResult:
        """Generate the clip from the still (or collect the one already paid for), fitted to the film."""
        from lumaai import LumaAI

        prompt = luma_prompt(request)
        what = shot_label(request.number, "clip", prompt)
        client = LumaAI(auth_token=self.key(), base_url=self.endpoint(), max_retries=0,
                        timeout=self.options.timeout_s)
        call = calls.current()
        with client:
            job_id = call.recall("job_id") or self._create(client, call, request, prompt, what)
            video_url = self.poll(lambda: self._check(client, job_id, what), what)
        return AnimationResult(path=out_path, duration=self.collect_clip(video_url, out_path, request.format, what))

    def problems_with_options(self) -> list[str]:
        """Luma's own needs, plus the uploader's key when one is set."""
        found = self.problems()
        key = UPLOADERS.get(self.options.uploader or "")
        if key and not os.environ.get(key):
            found.append(f"missing key: set the environment variable {key} (for the uploader "
                         f"'{self.options.uploader}')")
        return found

    def forget(self) -> None:
        """Drop the journaled generation id."""
        calls.current().forget("job_id")

    def _still_url(self, request: AnimationRequest) -> str:
        """A URL Luma can fetch the still from."""
        if request.image_url:
            return request.image_url
        if self.options.uploader:
            return upload_still(request.image_path, via=self.options.uploader)
        raise InputError(
            "luma needs the shot's still as a URL it can fetch, and the image backend did not host one",
            hint="use an image backend that hosts its stills (such as ideogram or fal), or set "
                 "'stages.animation.options.uploader: fal' in the project and export FAL_KEY")

    def _create(self, client: Any, call: calls.Call, request: AnimationRequest, prompt: str, what: str) -> str:
        """Start the paid generation and journal its id at once."""
        opts, seconds = self.options, luma_seconds(request.duration)
        keyframes = {"frame0": {"type": "image", "url": self._still_url(request)}}
        generation = self.paid(f"{opts.model}:second", seconds, what, lambda: client.generations.create(
            prompt=prompt, model=opts.model, keyframes=keyframes, duration=f"{seconds}s",
            resolution=opts.resolution, aspect_ratio=aspect_ratio(request.format), loop=opts.loop))
        if not generation.id:
            raise unexpected_answer(self.provider, what, generation.to_dict())
        call.remember("job_id", generation.id)
        return generation.id

    def _check(self, client: Any, job_id: str, what: str) -> tuple[bool, str | None]:
        """One poll: (done, video URL); a failed or vanished generation is forgotten so a rerun makes a new one."""
        try:
            generation = client.generations.get(job_id)
        except Exception as exc:
            if getattr(exc, "status_code", None) != 404:
                raise
            self.forget()
            raise TransientError(f"luma no longer knows generation {job_id} of the {what}",
                                 hint="the next attempt starts a new generation") from None  # see talking()
        if not generation.state:  # a hollow answer, not a failed generation: it stays journaled
            raise unexpected_answer(self.provider, what, generation.to_dict())
        if generation.state in WORKING:
            return False, None
        video = generation.assets.video if generation.assets else None
        if generation.state == "completed":
            if not video:  # finished and paid for: the next attempt polls it again
                raise unexpected_answer(self.provider, what, generation.to_dict())
            return True, video
        self.forget()
        reason = redact(generation.failure_reason or f"state {generation.state!r} without a video")
        if any(word in reason.lower() for word in MODERATION_WORDS):
            raise ContentRejected(f"luma refused the {what}: {reason}",
                                  hint="reword this shot's image prompt or motion in screenplay.yaml, then rerun")
        raise StageError(f"luma: the generation of the {what} failed: {reason}",
                         hint="rerun to try a new generation (Luma refunds failed ones)")
