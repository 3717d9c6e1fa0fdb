"""Keys, endpoints and the three kinds of provider error, read off HTTP statuses and SDK exceptions alike."""
from __future__ import annotations

import email.utils
import json
import os
import re
import time
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

from stages.errors import AuthError, ContentRejected, StageError, TransientError

# Words providers use when they refuse a prompt or an output on content grounds.
REJECTION_WORDS = ("safety", "moderation", "content policy", "content filter", "nsfw", "inappropriate", "flagged",
                   "prohibited", "not allowed", "violat")
TRANSIENT_STATUSES = frozenset({408, 409, 425, 429, 500, 502, 503, 504, 520, 522, 524, 529})
# Exception class names (anywhere in the MRO) of passing faults in httpx, requests and the SDKs: timeouts and
# broken connections, and garbled answers (the provider answered, but not in a form we can read).
NETWORK_EXCEPTIONS = ("Timeout", "ConnectError", "ConnectionError", "TransportError", "ProtocolError",
                      "ChunkedEncodingError", "APIConnectionError", "ReadError", "RemoteDisconnected")
UNREADABLE_EXCEPTIONS = ("JSONDecodeError", "APIResponseValidationError")
DETAIL_CHARS = 300
_URL_CREDENTIALS = re.compile(r"(?<=://)[^/@\s]+@")


def api_key(env: str, provider: str) -> str:
    """The key in environment variable ``env``; a missing one is an AuthError naming the variable."""
    value = os.environ.get(env, "").strip()
    if not value:
        raise AuthError(f"{provider}: no API key: the environment variable {env} is not set",
                        hint=f"export {env}=<your {provider} key> (keys are read from the environment only)")
    return value


def base_url(provider: str, configured: str | None, default: str) -> str:
    """The provider endpoint: the project's ``base_url`` option, else FILM_<PROVIDER>_BASE_URL, else the real one."""
    return (configured or os.environ.get(f"FILM_{provider.upper()}_BASE_URL") or default).rstrip("/")


def without_password(url: str | None) -> str | None:
    """``url`` itself; ValueError when it holds a password (credentials come from the environment only)."""
    if url and "://" in url and urlsplit(url).password:
        raise ValueError("the URL holds a password: credentials come from the environment, never the project file")
    return url


def retry_after(headers: Mapping[str, str] | None) -> float | None:
    """Seconds the provider asked us to wait (Retry-After as seconds or an HTTP date), if it did."""
    if not headers:
        return None
    value = next((v for k, v in headers.items() if k.lower() == "retry-after"), None)
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:  # an HTTP date; anything else is ignored and the usual back-off applies
        parsed = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    return max(0.0, parsed.timestamp() - time.time()) if parsed else None


def redact(text: str, secrets: tuple[str, ...] = ()) -> str:
    """``text`` cut to a readable length with any key value, and any user:password@ in a URL, taken out."""
    text = str(text)
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    text = " ".join(_URL_CREDENTIALS.sub("***@", text).split())
    return text if len(text) <= DETAIL_CHARS else text[:DETAIL_CHARS] + "…"


def unexpected_answer(provider: str, what: str, answer: Any) -> TransientError:
    """A provider's answer that parsed but lacks what it must hold: a passing fault there, worth asking again."""
    shown = answer if isinstance(answer, str) else json.dumps(answer, default=str)
    return TransientError(f"{provider} answered the {what} with an unexpected body: {redact(shown)}",
                          hint="a passing fault at the provider; rerun later if retries ran out")


def fields_of(answer: Any, names: Sequence[str], provider: str, what: str) -> list[Any]:
    """The values of ``names`` in a JSON object ``answer``; an unexpected_answer when it is none or lacks one."""
    if not isinstance(answer, dict) or any(answer.get(name) in (None, "") for name in names):
        raise unexpected_answer(provider, what, answer)
    return [answer[name] for name in names]


REWORD_SHOT = "reword this shot's prompt in screenplay.yaml, then rerun"


def from_status(provider: str, status: int, detail: str, headers: Mapping[str, str] | None, key_env: str,
                what: str) -> StageError:
    """The error of an HTTP answer ``status`` to the request ``what`` (e.g. "shot 4 image")."""
    detail = redact(detail, (os.environ.get(key_env, ""),))
    said = f"{provider} answered {status} to the {what}: {detail}"
    lowered = detail.lower()
    if 200 <= status < 300:  # an SDK could not read a successful answer
        return TransientError(f"{provider} sent an unreadable answer to the {what}: {detail}",
                              hint="a garbled answer; rerun later if retries ran out")
    out_of_credit = "quota" in lowered or "credit" in lowered
    if status == 402 or (status in (401, 403, 429) and out_of_credit):
        return AuthError(said, hint=f"the {provider} account is out of credit or quota: top it up, then rerun")
    if status in (401, 403):
        return AuthError(said, hint=f"check the key in {key_env} and the account's access to this model")
    if status in (400, 422, 451) and any(word in lowered for word in REJECTION_WORDS):
        return ContentRejected(said, hint=REWORD_SHOT)
    if status in TRANSIENT_STATUSES or status >= 500:
        return TransientError(said, hint="a passing fault at the provider; rerun later if retries ran out",
                              retry_after=retry_after(headers))
    return StageError(said, hint="the request was refused as malformed; check the backend options in the project")


def _status_of(exc: BaseException) -> tuple[int | None, Any, str]:
    """(status, headers, body text) of an SDK, httpx or requests error, where it carries an HTTP answer."""
    response = getattr(exc, "response", None)
    status = getattr(exc, "status_code", None) or getattr(response, "status_code", None)
    headers = getattr(exc, "headers", None) or getattr(response, "headers", None)
    body = getattr(exc, "body", None)
    if body is None and response is not None:
        try:
            body = response.text
        except Exception:  # a streamed response that was never read
            body = None
    return status, headers, str(body if body is not None else exc)


def from_exception(exc: BaseException, provider: str, key_env: str, what: str) -> StageError:
    """The error kind of an exception raised while talking to ``provider``."""
    if isinstance(exc, StageError):
        return exc
    status, headers, body = _status_of(exc)
    if isinstance(status, int):
        return from_status(provider, status, body, headers, key_env, what)
    names = " ".join(cls.__name__ for cls in type(exc).__mro__)
    detail = redact(str(exc) or type(exc).__name__, (os.environ.get(key_env, ""),))
    if any(name in names for name in UNREADABLE_EXCEPTIONS):
        return TransientError(f"{provider}: the answer to the {what} was unreadable: {detail}",
                              hint="a passing fault on the provider's side; rerun later if retries ran out")
    if any(name in names for name in NETWORK_EXCEPTIONS):
        return TransientError(f"{provider}: the {what} failed on the network: {detail}",
                              hint="a passing fault; rerun later if retries ran out")
    return StageError(f"{provider}: the {what} failed: {type(exc).__name__}: {detail}")
