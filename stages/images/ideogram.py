"""Ideogram 3.0 stills over its REST API (multipart form, ``Api-Key`` header), fetched at once and fitted to the film.

One ``POST /v1/ideogram-v3/generate`` per shot, ``num_images=1``. The hosted URL is remembered in the job's
journal before it is downloaded, so a retry after a cut-short download fetches it again instead of paying
for a new picture; only when that URL has expired (403/404) is the still generated anew.
"""
from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Any, Literal

from pydantic import Field

from stages import calls
from stages.cloud.base import URL_LIFETIME, CloudBackend, CloudOptions
from stages.cloud.download import LinkExpired, still_as_upload
from stages.cloud.http import fields_of, unexpected_answer
from stages.contracts import ImageRequest, ImageResult, ProjectPath
from stages.errors import ContentRejected, InputError, StageError, TransientError
from stages.text import shorten

GENERATE = "/v1/ideogram-v3/generate"
# The aspect ratios Ideogram 3.0 accepts, as "WxH".
ASPECT_RATIOS = ("1x3", "3x1", "1x2", "2x1", "9x16", "16x9", "10x16", "16x10", "2x3", "3x2", "3x4", "4x3",
                 "4x5", "5x4", "1x1")
MAX_SEED = 2147483647
PROMPT_QUOTE = 80


class IdeogramOptions(CloudOptions):
    """How Ideogram draws: speed/quality tier, Magic Prompt, what to avoid, pictures whose style to follow."""

    rendering_speed: Literal["TURBO", "DEFAULT", "QUALITY"] = Field("TURBO", description="speed/quality tier, "
                                                                                       "priced per tier")
    magic_prompt: Literal["OFF", "ON", "AUTO"] = Field("OFF", description="Ideogram's prompt rewriting; OFF keeps the "
                                                                          "screenplay's prompt as written")
    negative_prompt: str = Field("", description="what to keep out of every still")
    style_images: tuple[ProjectPath, ...] = Field((), description="paths of style reference pictures sent with every "
                                                                  "shot")
    url_lifetime_s: float = Field(default=3600.0, gt=0, description=URL_LIFETIME)


def aspect_ratio(width: int, height: int) -> str:
    """The Ideogram aspect ratio closest (in log scale) to ``width``:``height``."""
    target = math.log(width / height)
    return min(ASPECT_RATIOS, key=lambda r: abs(math.log(int(r.split("x")[0]) / int(r.split("x")[1])) - target))


def _rejected(request: ImageRequest, why: str) -> ContentRejected:
    quoted = shorten(request.prompt, PROMPT_QUOTE)
    return ContentRejected(f"ideogram refused the shot {request.number} image ({why}): \"{quoted}\"",
                           hint=f"reword shot {request.number}'s image_prompt in screenplay.yaml, then rerun")


def _upload(path: Path, field: str, label: str) -> tuple[str, tuple[str, bytes, str]]:
    """One image file as a multipart part of ``field`` (JPEG, at most 2048 px a side)."""
    try:
        data = still_as_upload(path)
    except OSError as exc:  # missing, unreadable or not a picture
        raise InputError(f"ideogram: cannot use the {label} {path}: {exc}",
                         hint=f"fix the {label}'s path in the project file (JPEG, PNG or WebP)") from exc
    return field, (path.stem + ".jpg", data, "image/jpeg")


class IdeogramImages(CloudBackend):
    """Stills drawn by Ideogram 3.0, optionally following style pictures and one character's reference picture."""

    name = "ideogram"
    version = "1"
    Options = IdeogramOptions
    options: IdeogramOptions
    packages = ("requests", "httpx", "PIL")
    env_keys = ("IDEOGRAM_API_KEY",)
    provider = "ideogram"
    concurrency = 4
    default_url = "https://api.ideogram.ai"
    unkeyed_options = CloudBackend.unkeyed_options | {"url_lifetime_s"}

    def estimate(self, request: ImageRequest) -> list[tuple[str, float]]:
        """One image at the rendering speed's price (the character-reference price when one is sent)."""
        return [(self._item(request), 1)]

    def make_image(self, request: ImageRequest, out_path: Path) -> ImageResult:
        """Generate (or collect the remembered) still, download it and save it as a PNG of the requested size."""
        call, what = calls.current(), f"shot {request.number} image"
        url = call.recall("url")
        if url:
            try:
                return self._collect(url, call.recall("url_made_at"), request, out_path, what)  # noted before url
            except LinkExpired:  # forgotten: generate anew
                pass
            except TransientError:
                raise
            except StageError:  # any other refusal of an old link (a 400 from the storage, say): it is worth nothing
                self.forget()
        made_at = time.time()
        url = self._generate(request, what)
        call.remember("url_made_at", made_at)
        call.remember("url", url)
        return self._collect(url, made_at, request, out_path, what)

    def forget(self) -> None:
        """Drop the remembered URL of the still."""
        calls.current().remember("url", None)

    def _item(self, request: ImageRequest) -> str:
        tier = "V_3_CHARACTER" if self._character_image(request) else "V_3"
        return f"{tier}:{self.options.rendering_speed}"

    @staticmethod
    def _character_image(request: ImageRequest) -> Path | None:
        return next((c.reference_image for c in request.characters if c.reference_image is not None), None)

    def _form(self, request: ImageRequest) -> list[tuple[str, Any]]:
        """The multipart parts of the generate request (every field a part, so it is sent as multipart)."""
        opts = self.options
        fields = {"prompt": request.prompt, "seed": str(request.seed % (MAX_SEED + 1)),
                  "aspect_ratio": aspect_ratio(request.width, request.height),
                  "rendering_speed": opts.rendering_speed, "magic_prompt": opts.magic_prompt, "num_images": "1"}
        if opts.negative_prompt:
            fields["negative_prompt"] = opts.negative_prompt
        parts: list[tuple[str, Any]] = [(k, (None, v)) for k, v in fields.items()]
        parts += [_upload(path, "style_reference_images", "style image") for path in opts.style_images]
        character = self._character_image(request)
        if character is not None:
            parts.append(_upload(character, "character_reference_images", "character reference image"))
        return parts

    def _generate(self, request: ImageRequest, what: str) -> str:
        """Make the one paid generate request; returns the hosted URL of the still."""
        import requests

        form, key = self._form(request), self.key()

        def post() -> Any:
            response = requests.post(self.endpoint() + GENERATE, files=form, timeout=self.options.timeout_s,
                                     headers={"Api-Key": key, "Accept": "application/json"})
            response.raise_for_status()
            return response

        try:
            response = self.paid(self._item(request), 1, what, post)
        except ContentRejected as exc:
            raise _rejected(request, str(exc).split(": ", 1)[-1]) from exc
        try:
            image = response.json()["data"][0]
        except (ValueError, KeyError, IndexError, TypeError):
            raise unexpected_answer(self.provider, what, response.text) from None
        if isinstance(image, dict) and image.get("is_image_safe") is False:
            raise _rejected(request, "the picture failed its safety check")
        return fields_of(image, ("url",), self.provider, what)[0]

    def _collect(self, url: str, made_at: float, request: ImageRequest, out_path: Path,
                 what: str) -> ImageResult:
        """Download the hosted still and fit it to the requested size as PNG at ``out_path``."""
        self.collect_still(url, out_path, (request.width, request.height), what)
        return ImageResult(path=out_path, url=url, url_expires_at=made_at + self.options.url_lifetime_s)
