"""Fake Luma Dream Machine API under ``/luma/dream-machine/v1`` (point the SDK's base_url there).

* ``POST .../generations/video`` (Bearer auth) answers 201 with a generation in state ``queued``;
* ``GET .../generations/{id}`` moves it to ``dreaming``, then ``completed`` with ``assets.video`` pointing
  at a small real MP4 (64x36 at 24 fps, as long as the generation's duration) hosted under /files/.

Faults: ``reject`` queued for route ``generations/video`` is a 400 moderation refusal at create; queued
for any route it lets the create pass and the generation fail with a moderation ``failure_reason``;
``job_fails`` makes the next poll fail the generation; ``truncated`` cuts the video download short;
``no_video`` answers one poll of a completed generation without its assets.
"""
from __future__ import annotations

import uuid
from datetime import datetime, timezone
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from tests.fakes.server import FakeState, clip_bytes

PREFIX = "/luma/dream-machine/v1"
MODELS = ("ray-2", "ray-flash-2")




def _error(status: int, detail: str) -> JSONResponse:
    return JSONResponse({"detail": detail}, status)


def _generation(job: dict[str, Any]) -> dict[str, Any]:
    """The generation object as Luma returns it."""
    return {
        "id": job["id"], "state": job["state"], "failure_reason": job.get("failure_reason"),
        "created_at": job["created_at"], "generation_type": "video", "model": job["request"]["model"],
        "assets": {"video": job.get("video"), "image": None, "progress_video": None},
        "request": {**job["request"], "generation_type": "video"},
    }


def install(app: FastAPI, state: FakeState) -> None:
    """Add the Luma routes to the fake server's app."""

    @app.post(f"{PREFIX}/generations/video")
    async def create(request: Request) -> JSONResponse:
        """Start a generation (paid), or refuse it."""
        path, auth = request.url.path, request.headers.get("authorization", "")
        if not auth.startswith("Bearer ") or not auth[7:].strip():
            return _error(401, "Invalid API key")
        body = await request.json()
        state.bodies.append(("luma", path, body))
        if body.get("model") not in MODELS:
            return _error(400, f"Invalid model: {body.get('model')!r}")
        if body.get("duration") not in ("5s", "9s"):
            return _error(400, f"Invalid duration: {body.get('duration')!r}")
        fault = state.take_fault("luma", path, ("reject",))
        if fault is not None and fault.route:
            return _error(400, "Prompt not allowed: it failed our content moderation")
        job = {"id": str(uuid.uuid4()), "state": "queued", "request": body, "auth": auth, "polls": 0,
               "created_at": datetime.now(timezone.utc).isoformat()}
        if fault is not None:
            job["fails_with"] = "Advanced prompt moderation failed"
        state.jobs[job["id"]] = job
        state.pay("luma")
        return JSONResponse(_generation(job), 201)

    @app.get(f"{PREFIX}/generations/{{job_id}}")
    async def get(job_id: str, request: Request) -> JSONResponse:
        """The generation, one state further along on each poll."""
        if not request.headers.get("authorization", "").startswith("Bearer "):
            return _error(401, "Invalid API key")
        job = state.jobs.get(job_id)
        if job is None:
            return _error(404, "Generation not found")
        if job["state"] in ("queued", "dreaming"):
            job["polls"] += 1
            if state.take_fault("luma", request.url.path, ("job_fails",)) is not None:
                job["fails_with"] = "Job failed: internal error while generating"
            if "fails_with" in job:
                job["state"], job["failure_reason"] = "failed", job["fails_with"]
            elif job["state"] == "queued":
                job["state"] = "dreaming"
            else:
                seconds = int(job["request"]["duration"].rstrip("s"))
                job["state"] = "completed"
                job["video"] = state.host(f"luma-{job_id}.mp4", clip_bytes(seconds), "video/mp4")
        if job["state"] == "completed" and state.take_fault("luma", request.url.path, ("truncated",)) is not None:
            state.truncated.add(f"luma-{job_id}.mp4")
        if job["state"] == "completed" and state.take_fault("luma", request.url.path, ("no_video",)) is not None:
            return JSONResponse({**_generation(job), "assets": None})
        return JSONResponse(_generation(job))
