"""Fake fal.ai queue and storage APIs under ``/fal`` (point FILM_FAL_BASE_URL there).

* ``POST /fal/{model}`` (``Authorization: Key ...``) submits: 200 with ``request_id``, ``status_url``,
  ``response_url`` and ``cancel_url`` (status/result URLs use only the model's owner and app, as fal's do);
* ``GET .../requests/{id}/status`` answers IN_QUEUE (202), then IN_PROGRESS (202), then COMPLETED (200);
* ``GET .../requests/{id}`` answers the result: FLUX ``{images: [...], has_nsfw_concepts: [...]}`` with a real
  PNG of the asked size, or image-to-video ``{video: {url, ...}}`` with a small real MP4 (64x36 at 24 fps);
* ``POST /fal/storage/upload/initiate`` hands out a signed ``upload_url`` (PUT the bytes there, no key) and
  the ``file_url`` the upload will be served at.

Faults, queued for the submit: ``reject`` flags the FLUX image as NSFW, or makes a video job's result a
422 ``content_policy_violation``; ``job_fails`` completes the job with an ``error`` in its status and a 503
``runner_disconnected`` result; ``truncated`` cuts the result file's download short; ``bare_submit`` queues
(and bills) the job but answers only its ``request_id``.
"""
from __future__ import annotations

import io
import uuid
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse
from starlette.requests import ClientDisconnect

from tests.fakes.server import FakeState, clip_bytes

PREFIX = "/fal"
IMAGE_MODELS = ("fal-ai/flux/schnell", "fal-ai/flux/dev")
VIDEO_MODELS = {"fal-ai/kling-video/v2.1/standard/image-to-video": ("5", "10"),
                "fal-ai/ltx-video/image-to-video": None}  # model -> durations it takes (None: no duration field)
POLICY = "The content could not be processed because it contained material flagged by a content checker."




def png_bytes(width: int, height: int, black: bool = False) -> bytes:
    """A real PNG of the given size (black, as fal returns a flagged image)."""
    from PIL import Image

    image = Image.new("RGB", (width, height), (0, 0, 0) if black else (200, 120, 60))
    if not black:
        image.paste((40, 90, 160), (0, 0, width, height // 2))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def _detail(status: int, loc: list[str], msg: str, kind: str) -> JSONResponse:
    """A model error in fal's documented shape: ``detail`` as a list of typed errors."""
    return JSONResponse({"detail": [{"loc": loc, "msg": msg, "type": kind,
                                     "url": f"https://docs.fal.ai/errors#{kind}"}]}, status)


def _authorized(request: Request) -> str | None:
    auth = request.headers.get("authorization", "")
    return auth if auth.startswith("Key ") and auth[4:].strip() else None


def _invalid(model: str, body: dict[str, Any]) -> JSONResponse | None:
    """A 422 for a body the model would not take, else None."""
    if not isinstance(body.get("prompt"), str) or not body["prompt"].strip():
        return _detail(422, ["body", "prompt"], "Field required", "missing")
    if model in IMAGE_MODELS:
        size = body.get("image_size")
        if not (isinstance(size, dict) and all(isinstance(size.get(k), int) and size[k] % 8 == 0 and
                                               256 <= size[k] <= 14142 for k in ("width", "height"))):
            return _detail(422, ["body", "image_size"], f"Invalid image size {size!r}", "value_error")
        return None
    if not str(body.get("image_url", "")).startswith("http"):
        return _detail(422, ["body", "image_url"], "Field required", "missing")
    durations = VIDEO_MODELS[model]
    if durations is not None and body.get("duration", "5") not in durations:
        return _detail(422, ["body", "duration"], f"Input should be {' or '.join(durations)}", "enum")
    return None


def _result(state: FakeState, job: dict[str, Any]) -> Response:
    """The completed job's result, made (and hosted) on first asking."""
    fault, body, rid = job["fault"], job["body"], job["id"]
    if fault == "job_fails":
        return JSONResponse({"detail": "Runner disconnected", "error_type": "runner_disconnected"}, 503,
                            headers={"X-Fal-Error-Type": "runner_disconnected"})
    if job["model"] in IMAGE_MODELS:
        size = body["image_size"]
        name = f"{rid}.png"
        url = state.host(name, png_bytes(size["width"], size["height"], fault == "reject"), "image/png")
        result = {"images": [{"url": url, "width": size["width"], "height": size["height"],
                              "content_type": "image/png"}],
                  "timings": {"inference": 0.01}, "seed": body.get("seed", 0),
                  "has_nsfw_concepts": [fault == "reject"], "prompt": body["prompt"]}
    else:
        if fault == "reject":
            return _detail(422, ["body", "image_url"], POLICY, "content_policy_violation")
        name = f"{rid}.mp4"
        data = clip_bytes(int(body.get("duration", "5")))
        url = state.host(name, data, "video/mp4")
        result = {"video": {"url": url, "content_type": "video/mp4", "file_name": "output.mp4",
                            "file_size": len(data)}}
    if fault == "truncated" and not job.get("cut"):
        job["cut"] = True
        state.truncated.add(name)
    return JSONResponse(result, headers={"x-fal-request-id": rid})


def install(app: FastAPI, state: FakeState) -> None:
    """Add the fal routes to the fake server's app (storage first: the submit route takes any path)."""

    @app.post(f"{PREFIX}/storage/upload/initiate")
    async def initiate(request: Request) -> JSONResponse:
        auth = _authorized(request)
        if auth is None:
            return JSONResponse({"detail": "Unauthorized"}, 401)
        body = await request.json()
        state.bodies.append(("fal", request.url.path, body))
        if request.query_params.get("storage_type") != "gcs" or not body.get("content_type"):
            return JSONResponse({"detail": "Bad upload request"}, 400)
        name = f"{uuid.uuid4().hex[:12]}-{body.get('file_name', 'upload.bin')}"
        state.jobs[f"upload:{name}"] = {"auth": auth, "content_type": body["content_type"]}
        return JSONResponse({"upload_url": f"{state.base_url}{PREFIX}/storage/put/{name}",
                             "file_url": f"{state.base_url}/files/{name}"})

    @app.put(f"{PREFIX}/storage/put/{{name}}")
    async def put(name: str, request: Request) -> Response:
        upload = state.jobs.get(f"upload:{name}")
        if upload is None:
            return Response("no such upload", 404)
        upload["put_auth"] = request.headers.get("authorization")
        state.host(name, await request.body(), request.headers.get("content-type", "application/octet-stream"))
        return Response(status_code=200)

    @app.get(f"{PREFIX}/{{owner}}/{{alias}}/requests/{{rid}}/status")
    async def status(owner: str, alias: str, rid: str, request: Request) -> JSONResponse:
        job = state.jobs.get(rid)
        if _authorized(request) is None:
            return JSONResponse({"detail": "Unauthorized"}, 401)
        if job is None or job["app"] != f"{owner}/{alias}":
            return JSONResponse({"detail": "Request not found"}, 404)
        job["polls"] += 1
        base = {"request_id": rid, "response_url": job["response_url"], "status_url": job["status_url"]}
        if job["polls"] == 1:
            return JSONResponse({**base, "status": "IN_QUEUE", "queue_position": 0}, 202)
        if job["polls"] == 2:
            return JSONResponse({**base, "status": "IN_PROGRESS", "logs": []}, 202)
        done = {**base, "status": "COMPLETED", "logs": [], "metrics": {"inference_time": 0.01}}
        if job["fault"] == "job_fails":
            done |= {"error": "Runner disconnected", "error_type": "runner_disconnected"}
        return JSONResponse(done)

    @app.get(f"{PREFIX}/{{owner}}/{{alias}}/requests/{{rid}}")
    async def result(owner: str, alias: str, rid: str, request: Request) -> Response:
        job = state.jobs.get(rid)
        if _authorized(request) is None:
            return JSONResponse({"detail": "Unauthorized"}, 401)
        if job is None or job["app"] != f"{owner}/{alias}":
            return JSONResponse({"detail": "Request not found"}, 404)
        if job["polls"] < 3:
            return JSONResponse({"detail": "Request is still in progress"}, 400)
        return _result(state, job)

    @app.post(f"{PREFIX}/{{model:path}}")
    async def submit(model: str, request: Request) -> JSONResponse:
        auth = _authorized(request)
        if auth is None:
            return JSONResponse({"detail": "No user found for Key ID and Secret"}, 401)
        if model not in IMAGE_MODELS and model not in VIDEO_MODELS:
            return JSONResponse({"detail": f"Application '{model}' not found"}, 404)
        try:
            body = await request.json()
        except ClientDisconnect:  # the client gave up during a ``slow`` fault
            return JSONResponse({"detail": "client disconnected"}, 499)
        state.bodies.append(("fal", request.url.path, body))
        invalid = _invalid(model, body)
        if invalid is not None:
            return invalid
        fault = state.take_fault("fal", request.url.path, ("reject", "job_fails", "truncated", "bare_submit"))
        rid = str(uuid.uuid4())
        app_id = "/".join(model.split("/")[:2])
        url = f"{state.base_url}{PREFIX}/{app_id}/requests/{rid}"
        state.jobs[rid] = {"id": rid, "model": model, "app": app_id, "body": body, "auth": auth, "polls": 0,
                           "fault": fault.kind if fault else None, "status_url": f"{url}/status",
                           "response_url": url}
        state.pay("fal")
        if fault is not None and fault.kind == "bare_submit":  # queued and billed, but the answer holds only its id
            return JSONResponse({"request_id": rid})
        return JSONResponse({"request_id": rid, "response_url": url, "status_url": f"{url}/status",
                             "cancel_url": f"{url}/cancel", "queue_position": 0})
