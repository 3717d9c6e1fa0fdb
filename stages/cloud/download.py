"""Results hosted by a provider: downloaded at once (their URLs expire), checked to decode, fitted to the film."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from stages.errors import StageError, TransientError

CHUNK = 1 << 16
GONE_STATUSES = (401, 403, 404, 410)  # a signed link that expired (or a 400 saying so), or a removed file


class LinkExpired(TransientError):
    """A hosted result is no longer at its link; the backend forgets it, so the next attempt makes it anew."""


def fetch(url: str, out_path: Path, provider: str, what: str, timeout: float = 120.0) -> None:
    """Stream ``url`` into ``out_path``; a short or failed download is a TransientError (worth fetching again),
    a link that expired or a file that is gone is LinkExpired."""
    import httpx

    try:
        with httpx.stream("GET", url, timeout=timeout, follow_redirects=True) as response:
            status = response.status_code
            if status != 200:
                response.read()
                if status in GONE_STATUSES or (status == 400 and "expired" in response.text.lower()):
                    raise LinkExpired(f"{provider}: the {what} is no longer at its link (HTTP {status}): the link "
                                      "expired or the file was removed",
                                      hint="the next attempt asks the provider for it again (billed again)")
                from stages.cloud.http import from_status

                raise from_status(provider, status, response.text, response.headers, "", what)
            expected = response.headers.get("content-length")
            written = 0
            with open(out_path, "wb") as handle:
                for chunk in response.iter_bytes(CHUNK):
                    handle.write(chunk)
                    written += len(chunk)
    except httpx.HTTPError as exc:
        raise TransientError(f"{provider}: downloading the {what} failed: {exc}") from exc
    if expected is not None and written != int(expected):
        raise TransientError(f"{provider}: the {what} download was cut short ({written} of {expected} bytes)")


def image_fitted(source: Path, out_path: Path, size: tuple[int, int], provider: str, what: str) -> None:
    """Decode a downloaded still and save it as PNG at ``size`` (scaled to cover, centre-cropped)."""
    from PIL import Image, ImageOps, UnidentifiedImageError

    try:
        with Image.open(source) as image:
            image.load()
            fitted = ImageOps.fit(image.convert("RGB"), size, method=Image.Resampling.LANCZOS)
    except (OSError, UnidentifiedImageError, SyntaxError) as exc:
        raise TransientError(f"{provider}: the {what} downloaded does not decode as an image: {exc}") from exc
    fitted.save(out_path, format="PNG")


def video_fitted(source: Path, out_path: Path, fmt: Any, provider: str, what: str) -> float:
    """Decode a downloaded clip fully and re-encode it at the film's size and rate; returns its seconds."""
    from stages.media import FrameReader, FrameWriter, x264_args

    size = (fmt.width, fmt.height)
    reader = FrameReader(source, size, fmt.fps)
    frames = 0
    try:
        with FrameWriter(out_path, size, fmt.fps, x264_args("veryfast", 18), pix_fmt="yuv420p") as writer:
            while (frame := reader.read()) is not None:
                writer.write(frame)
                frames += 1
    except StageError as exc:
        raise TransientError(f"{provider}: the {what} downloaded does not decode as video: {exc}") from exc
    finally:
        reader.close()
    if frames == 0:
        raise TransientError(f"{provider}: the {what} downloaded has no frames")
    return frames / fmt.fps


def still_as_upload(path: Path, max_side: int = 2048, quality: int = 92) -> bytes:
    """A still as JPEG bytes no larger than ``max_side`` (what providers accept as an uploaded image)."""
    import io

    from PIL import Image

    with Image.open(path) as image:
        image = image.convert("RGB")
        image.thumbnail((max_side, max_side))
        buffer = io.BytesIO()
        image.save(buffer, format="JPEG", quality=quality)
    return buffer.getvalue()


