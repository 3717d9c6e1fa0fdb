"""Fake ElevenLabs text-to-speech with timestamps: POST /elevenlabs/v1/text-to-speech/{voice_id}/with-timestamps.

Speaks the wire format the real SDK expects: the ``xi-api-key`` header, ``output_format`` as a query
parameter, a JSON body (text, model_id, previous_text, next_text, voice_settings, seed) and an answer of
``audio_base64`` (raw 16-bit PCM at the asked rate) with a character ``alignment``. Each character takes
``CHAR_S`` seconds of a quiet tone, after ``LEAD_S`` of silence and before ``TAIL_S`` of it.

Faults (``FakeServer.fault("elevenlabs", kind)``): ``reject`` (a 400 Terms-of-Service refusal), ``quota``
(the 401 ``quota_exceeded`` answer), ``truncated`` (billed, but the audio is cut to a third of what the
alignment spans). A voice id containing ``missing`` answers 404 ``voice_not_found``.
"""
from __future__ import annotations

import base64

import numpy as np
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from tests.fakes.server import FakeState

PROVIDER = "elevenlabs"
CHAR_S, LEAD_S, TAIL_S = 0.06, 0.1, 0.1
PCM_RATES = {"pcm_8000": 8000, "pcm_16000": 16000, "pcm_22050": 22050, "pcm_24000": 24000, "pcm_32000": 32000,
             "pcm_44100": 44100, "pcm_48000": 48000}


def _error(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"detail": {"status": code, "message": message}}, status)


def speech(text: str, rate: int) -> tuple[bytes, dict[str, list]]:
    """PCM bytes of a tone as long as the text takes to say, and its character alignment."""
    starts = [round(LEAD_S + i * CHAR_S, 3) for i in range(len(text))]
    alignment = {"characters": list(text), "character_start_times_seconds": starts,
                 "character_end_times_seconds": [round(s + CHAR_S, 3) for s in starts]}
    lead, spoken, tail = (round(s * rate) for s in (LEAD_S, len(text) * CHAR_S, TAIL_S))
    tone = 0.3 * np.sin(2 * np.pi * 220.0 * np.arange(spoken) / rate)
    samples = np.concatenate([np.zeros(lead), tone, np.zeros(tail)])
    return (samples * 32767).astype("<i2").tobytes(), alignment


def install(app: FastAPI, state: FakeState) -> None:
    """Add the text-to-speech-with-timestamps route under /elevenlabs."""

    @app.post("/elevenlabs/v1/text-to-speech/{voice_id}/with-timestamps")
    async def with_timestamps(voice_id: str, request: Request):
        path = request.url.path
        if not request.headers.get("xi-api-key"):
            return _error(401, "invalid_api_key", "Invalid API key")
        body = await request.json()
        state.bodies.append((PROVIDER, f"{path}?{request.url.query}", body))
        rate = PCM_RATES.get(request.query_params.get("output_format", ""))
        if rate is None:
            return JSONResponse({"detail": [{"loc": ["query", "output_format"], "msg": "this fake speaks PCM only",
                                             "type": "value_error"}]}, 422)
        if "missing" in voice_id:
            return _error(404, "voice_not_found", f"A voice with the voice_id {voice_id} was not found.")
        if not str(body.get("text") or "").strip():
            return _error(400, "invalid_parameters", "Text must not be empty.")
        fault = state.take_fault(PROVIDER, path, ("reject", "quota", "truncated"))
        if fault is not None and fault.kind == "reject":
            return _error(400, "bad_prompt", "Your prompt appears to have violated our Terms of Service. "
                                             "Please try again with a different prompt.")
        if fault is not None and fault.kind == "quota":
            return _error(401, "quota_exceeded", f"This request exceeds your quota of 10000. You have 0 credits "
                                                 f"remaining, while {len(body['text'])} credits are required.")
        audio, alignment = speech(body["text"], rate)
        if fault is not None:  # truncated: the answer is billed but its audio stops a third of the way in
            audio = audio[: len(audio) // 3 // 2 * 2]
        state.pay(PROVIDER)
        return {"audio_base64": base64.b64encode(audio).decode("ascii"), "alignment": alignment,
                "normalized_alignment": alignment}
