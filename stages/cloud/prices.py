"""Default price table: US dollars per unit of each provider item, as "provider/item": price.

List prices as published by each provider when written (2026); your account's may differ. A project
overrides or adds entries under ``prices:``; the ledger, ``--estimate`` and ``--budget`` use the result.
Units: ``token`` for LLM tokens, ``image`` per image, ``second`` of generated video, ``char`` of text spoken.
"""
from __future__ import annotations

PRICES: dict[str, float] = {
    # Anthropic, per token (USD 3 / 15 per million input / output tokens for Sonnet)
    "anthropic/claude-sonnet-4-6:input_token": 3e-6,
    "anthropic/claude-sonnet-4-6:output_token": 15e-6,
    "anthropic/claude-sonnet-4-5:input_token": 3e-6,
    "anthropic/claude-sonnet-4-5:output_token": 15e-6,
    "anthropic/claude-haiku-4-5:input_token": 1e-6,
    "anthropic/claude-haiku-4-5:output_token": 5e-6,
    # Ideogram 3.0, per image, by rendering speed
    "ideogram/V_3:TURBO": 0.03,
    "ideogram/V_3:DEFAULT": 0.06,
    "ideogram/V_3:QUALITY": 0.09,
    "ideogram/V_3_CHARACTER:TURBO": 0.10,  # with a character reference image
    "ideogram/V_3_CHARACTER:DEFAULT": 0.15,
    "ideogram/V_3_CHARACTER:QUALITY": 0.20,
    # Luma Dream Machine, per second of video
    "luma/ray-2:second": 0.14,
    "luma/ray-flash-2:second": 0.05,
    # ElevenLabs, per character spoken
    "elevenlabs/eleven_multilingual_v2:char": 0.0003,
    "elevenlabs/eleven_flash_v2_5:char": 0.00015,
    "elevenlabs/eleven_turbo_v2_5:char": 0.00015,
    # fal.ai hosted models
    "fal/fal-ai/flux/schnell:image": 0.003,
    "fal/fal-ai/flux/dev:image": 0.025,
    "fal/fal-ai/kling-video/v2.1/standard/image-to-video:second": 0.056,
    "fal/fal-ai/ltx-video/image-to-video:second": 0.004,
}
