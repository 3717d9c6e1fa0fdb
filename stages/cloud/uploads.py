"""Stills uploaded to a provider's storage, for backends that fetch their input image by URL."""
from __future__ import annotations

from pathlib import Path

from stages.errors import InputError

UPLOADERS = {"fal": "FAL_KEY"}  # providers whose storage can host a still, and the variable of their key


def upload_still(path: Path, via: str) -> str:
    """Upload the local still at ``path`` to ``via``'s storage and return a public URL of it (unpaid)."""
    if via == "fal":
        from stages.cloud.fal import upload

        return upload(Path(path))
    raise InputError(f"cannot upload stills via '{via}'; known: {', '.join(UPLOADERS)}",
                     hint=f"set the uploader option to one of: {', '.join(UPLOADERS)}")


def known_uploader(via: str | None) -> str | None:
    """``via`` itself when it names an uploader (or is None); ValueError listing the known ones otherwise."""
    if via is not None and via not in UPLOADERS:
        raise ValueError(f"no uploader '{via}'; known: {', '.join(UPLOADERS)}")
    return via
