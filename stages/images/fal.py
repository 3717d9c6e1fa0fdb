"""FLUX stills on fal.ai (schnell or dev), drawn at about a megapixel and fitted to the film's frame.

fal keeps the still at a public URL for a while, so the result carries it (``url``/``url_expires_at``)
for an animation backend that fetches its keyframe by URL.
"""
from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Literal

from pydantic import Field

from stages.cloud.base import URL_LIFETIME, CloudBackend, CloudOptions
from stages.cloud.fal import FalBackend, rejected
from stages.contracts import ImageRequest, ImageResult

MULTIPLE = 16  # FLUX works on 16-pixel patches
MIN_SIDE = 320  # so the hosted still also serves as a keyframe (Kling takes 300 px a side at least)
MAX_PIXELS = 1_000_000  # fal prices FLUX by the megapixel: one image, one megapixel at most


class FalImagesOptions(CloudOptions):
    """Which FLUX model draws, and how long fal's hosted copy of a still is trusted to stay reachable."""

    model: Literal["fal-ai/flux/schnell", "fal-ai/flux/dev"] = Field("fal-ai/flux/schnell", description="FLUX model "
                                                                     "that draws; dev is finer and costs more")
    url_lifetime_s: float = Field(default=3600.0, gt=0, description=URL_LIFETIME)


def generation_size(width: int, height: int) -> tuple[int, int]:
    """The size to ask FLUX for: the frame's aspect, at most a megapixel, sides at least
    ``MIN_SIDE`` and multiples of ``MULTIPLE`` (the still is fitted to the exact frame afterwards)."""
    scale = max(MIN_SIDE / min(width, height), min(1.0, math.sqrt(MAX_PIXELS / (width * height))))
    width, height = (max(MIN_SIDE, int(side * scale) // MULTIPLE * MULTIPLE) for side in (width, height))
    return width, height


def flux_prompt(request: ImageRequest) -> str:
    """The shot's prompt with who is in it (as described in the project), its mood and its light."""
    parts = [request.prompt.strip().rstrip(".")]
    parts += [f"{c.name}: {c.description.strip().rstrip('.')}" for c in request.characters if c.description.strip()]
    parts.append(f"{request.mood} mood, {request.time_of_day} light")
    return ". ".join(parts)


class FalImages(FalBackend):
    """Text-to-image with FLUX.1 [schnell] or [dev] on fal.ai's queue."""

    name = "fal"
    version = "1"
    Options = FalImagesOptions
    options: FalImagesOptions
    unkeyed_options = CloudBackend.unkeyed_options | {"url_lifetime_s"}

    def estimate(self, request: ImageRequest) -> list[tuple[str, float]]:
        """One image of the chosen model."""
        return [(f"{self.options.model}:image", 1)]

    def make_image(self, request: ImageRequest, out_path: Path) -> ImageResult:
        """Draw the still (or collect the one already paid for) and fit it to the frame as PNG."""
        model, what = self.options.model, f"shot {request.number} image"
        width, height = generation_size(request.width, request.height)
        arguments = {"prompt": flux_prompt(request), "seed": request.seed,
                     "image_size": {"width": width, "height": height}, "num_images": 1,
                     "enable_safety_checker": True}
        result = self.collect(model, lambda: arguments, f"{model}:image", 1, what, request.prompt)
        flags = result.get("has_nsfw_concepts")
        if any(flags) if isinstance(flags, list) else bool(flags):
            self.forget()
            raise rejected(what, request.prompt, "the safety checker flagged the image as NSFW")
        url = self.result_url(result, ("images", 0, "url"), what)
        self.collect_still(url, out_path, (request.width, request.height), what)
        return ImageResult(path=out_path, url=url, url_expires_at=time.time() + self.options.url_lifetime_s)
