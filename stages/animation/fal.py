"""Image-to-video on fal.ai (Kling 2.1 standard, or LTX-Video): the still set in motion, fitted to the film.

The model fetches the still by URL: the image backend's hosted copy when it made a fresh one, else the
still uploaded to fal storage. Both models take the frame's aspect from the still itself.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, get_args

from pydantic import Field

from stages.cloud.base import CloudOptions, shot_label
from stages.cloud.fal import FalBackend, upload
from stages.contracts import AnimationRequest, AnimationResult

VideoModel = Literal["fal-ai/kling-video/v2.1/standard/image-to-video", "fal-ai/ltx-video/image-to-video"]
KLING, LTX = get_args(VideoModel)
PROMPT_CHARS = 2000


@dataclass(frozen=True)
class Model:
    """What a model generates and takes: clip lengths (seconds) and whether it is asked for one, a seed."""

    durations: tuple[int, ...]
    takes_duration: bool
    takes_seed: bool


MODELS = {
    KLING: Model(durations=(5, 10), takes_duration=True, takes_seed=False),
    LTX: Model(durations=(5,), takes_duration=False, takes_seed=True),  # one fixed clip length
}


class FalAnimatorOptions(CloudOptions):
    """Which image-to-video model runs."""

    model: VideoModel = Field(KLING, description="image-to-video model: Kling makes 5 or 10 s clips, LTX "
                                                         "5 s ones")


def clip_seconds(model: str, duration: float) -> int:
    """The shortest clip ``model`` makes covering ``duration`` seconds, else its longest."""
    lengths = MODELS[model].durations
    return next((s for s in lengths if s >= duration - 1e-6), lengths[-1])


def motion_prompt(request: AnimationRequest) -> str:
    """The camera move, then what the still shows, cut to a length every model takes."""
    text = ". ".join(part.strip().rstrip(".") for part in (request.motion, request.description) if part.strip())
    return text[:PROMPT_CHARS]


class FalAnimator(FalBackend):
    """Image-to-video with a fal-hosted model on fal.ai's queue."""

    name = "fal"
    version = "1"
    Options = FalAnimatorOptions
    options: FalAnimatorOptions

    def estimate(self, request: AnimationRequest) -> list[tuple[str, float]]:
        """One clip, billed per second of the length the model makes."""
        model = self.options.model
        return [(f"{model}:second", clip_seconds(model, request.duration))]

    def animate(self, request: AnimationRequest, out_path: Path) -> AnimationResult:
        """Generate the clip from the still (or collect the one already paid for), fitted to the film."""
        model = self.options.model
        spec, seconds, prompt = MODELS[model], clip_seconds(model, request.duration), motion_prompt(request)
        what = shot_label(request.number, "clip", prompt)

        def arguments() -> dict[str, Any]:
            still = request.image_url or upload(request.image_path, self.options.base_url, self.options.timeout_s)
            body: dict[str, Any] = {"prompt": prompt, "image_url": still}
            if spec.takes_duration:
                body["duration"] = str(seconds)
            if spec.takes_seed:
                body["seed"] = request.seed
            return body

        result = self.collect(model, arguments, f"{model}:second", seconds, what, prompt)
        url = self.result_url(result, ("video", "url"), what)
        return AnimationResult(path=out_path, duration=self.collect_clip(url, out_path, request.format, what))
