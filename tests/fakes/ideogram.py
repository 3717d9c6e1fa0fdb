"""Fake Ideogram 3.0: ``POST /ideogram/v1/ideogram-v3/generate`` (multipart form, ``Api-Key`` header) and the
hosted stills under ``/ideogram/api/images/ephemeral/`` (403 once a still is gone, as an expired signed URL).

Each generate request is recorded in ``state.bodies`` as ``{"fields": {...}, "files": {field: [(filename,
content type, size), ...]}, "api_key": ...}``. The still is a small PNG of the aspect asked, one flat colour
chosen by the seed. Provider faults: ``reject`` (422 safety refusal), ``unsafe`` (200 with
``is_image_safe: false`` and no URL), ``truncated`` (the still's first download is cut short).
"""
from __future__ import annotations

import email.parser
import email.policy
import hashlib
import io
import uuid
from datetime import datetime, timezone

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse

from tests.fakes.server import FakeState

PROVIDER = "ideogram"
RATIOS = {"1x3", "3x1", "1x2", "2x1", "9x16", "16x9", "10x16", "16x10", "2x3", "3x2", "3x4", "4x3", "4x5", "5x4", "1x1"}
SPEEDS = {"TURBO", "DEFAULT", "QUALITY"}
LONG_SIDE = 96  # pixels of the fake still's longer side (Ideogram's are ~1400)


def parse_form(content_type: str, body: bytes) -> tuple[dict[str, str], dict[str, list[tuple[str, str, int]]]]:
    """Text fields and file parts of a multipart/form-data body (stdlib parser: no python-multipart needed)."""
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
        b"Content-Type: " + content_type.encode() + b"\r\n\r\n" + body)
    fields: dict[str, str] = {}
    files: dict[str, list[tuple[str, str, int]]] = {}
    for part in message.iter_parts():
        name, data = part.get_param("name", header="content-disposition"), part.get_payload(decode=True) or b""
        if part.get_filename() is None:
            fields[name] = data.decode()
        else:
            files.setdefault(name, []).append((part.get_filename(), part.get_content_type(), len(data)))
    return fields, files


def still(aspect: str, seed: int) -> bytes:
    """A PNG of ``aspect`` ("16x9") whose colour depends on ``seed``."""
    from PIL import Image

    w, h = (int(n) for n in aspect.split("x"))
    size = (LONG_SIDE, round(LONG_SIDE * h / w)) if w >= h else (round(LONG_SIDE * w / h), LONG_SIDE)
    colour = tuple(hashlib.sha256(str(seed).encode()).digest()[:3])
    buffer = io.BytesIO()
    Image.new("RGB", size, colour).save(buffer, format="PNG")
    return buffer.getvalue()


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


def install(app: FastAPI, state: FakeState) -> None:
    """Add the Ideogram routes to the fake server's app."""

    @app.post("/ideogram/v1/ideogram-v3/generate")
    async def generate(request: Request) -> Response:
        key = request.headers.get("api-key")
        if not key:
            return _error(401, "Missing Api-Key header")
        content_type = request.headers.get("content-type", "")
        if not content_type.startswith("multipart/form-data"):
            return _error(415, "Content-Type must be multipart/form-data")
        fields, files = parse_form(content_type, await request.body())
        state.bodies.append((PROVIDER, request.url.path, {"fields": fields, "files": files, "api_key": key}))
        aspect, speed = fields.get("aspect_ratio", "1x1"), fields.get("rendering_speed", "DEFAULT")
        if not fields.get("prompt") or aspect not in RATIOS or speed not in SPEEDS:
            return _error(400, f"Invalid request: prompt={fields.get('prompt')!r} aspect_ratio={aspect!r} "
                               f"rendering_speed={speed!r}")
        if state.take_fault(PROVIDER, request.url.path, ("reject",)):
            return _error(422, "Prompt or provided image failed the safety checks")
        seed = int(fields.get("seed", "0"))
        image = {"prompt": fields["prompt"], "resolution": "1312x736", "seed": seed, "style_type": "GENERAL",
                 "is_image_safe": True, "url": None}
        state.pay(PROVIDER)
        if state.take_fault(PROVIDER, request.url.path, ("unsafe",)):
            image["is_image_safe"] = False
        else:
            name = f"{uuid.uuid4().hex}.png"
            state.host(name, still(aspect, seed), "image/png")
            if state.take_fault(PROVIDER, request.url.path, ("truncated",)):
                state.truncated.add(name)
            image["url"] = f"{state.base_url}/ideogram/api/images/ephemeral/{name}?exp=1767225600&signature=fake"
        return JSONResponse({"created": datetime.now(timezone.utc).isoformat(), "data": [image]})

    @app.get("/ideogram/api/images/ephemeral/{name}")
    async def ephemeral(name: str) -> Response:
        if name not in state.files:
            return Response("<Error><Code>ExpiredToken</Code><Message>Request has expired</Message></Error>", 403,
                            media_type="application/xml")
        refused = state.expired_download()
        if refused is not None:
            return refused
        data, content_type = state.files[name]
        if name in state.truncated:
            state.truncated.discard(name)
            return Response(data[: len(data) // 3], media_type=content_type)
        return Response(data, media_type=content_type)
