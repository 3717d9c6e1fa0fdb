"""fal.ai's queue API, shared by the fal image and animation backends, and its storage upload.

fal hosts many models behind one queue: ``POST {queue}/{model}`` submits a request (the paid step) and
answers its ``request_id`` with a ``status_url`` and a ``response_url``; the status moves IN_QUEUE ->
IN_PROGRESS -> COMPLETED and the result (or the job's error) is then read from the response URL. Auth
is ``Authorization: Key <FAL_KEY>`` throughout.

This talks HTTP with httpx rather than through ``fal_client``: that SDK fixes its hosts at import time
as ``https://`` module constants (``queue.fal.run``, ``rest.fal.ai``), so it cannot be pointed at a
proxy or a local server, and it retries every request up to 10 times on its own with no way to turn
that off, while retries belong to the pipeline here.

The request is journaled right after the submit returns, so a later attempt (after a poll deadline or
a cut-short download) collects the same paid request instead of submitting a new one.
"""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

from stages import calls
from stages.cloud.base import CloudBackend
from stages.cloud.download import still_as_upload
from stages.cloud.http import (
    REWORD_SHOT,
    api_key,
    base_url,
    fields_of,
    from_exception,
    from_status,
    redact,
    unexpected_answer,
)
from stages.errors import AuthError, ContentRejected, StageError, TransientError
from stages.text import shorten

PROVIDER, KEY_ENV = "fal", "FAL_KEY"
QUEUE_URL = "https://queue.fal.run"
REST_URL = "https://rest.fal.ai"  # storage; on any other endpoint (a proxy, a fake) it is served by that endpoint
JOURNAL = "fal_request"  # journal entry: the submitted request's id and URLs
WORKING = ("IN_QUEUE", "IN_PROGRESS")
QUOTE_CHARS = 80  # of a prompt, quoted in a refusal


def rejected(what: str, prompt: str, reason: str) -> ContentRejected:
    """The refusal of ``what`` (naming the shot), quoting the start of its prompt."""
    return ContentRejected(f'fal refused the {what} (prompt "{shorten(prompt, QUOTE_CHARS)}"): {redact(reason)}',
                           hint=REWORD_SHOT)


def upload(path: Path, base: str | None = None, timeout: float = 120.0) -> str:
    """Upload a still (as JPEG) to fal storage with the key in FAL_KEY; returns its public URL."""
    import httpx

    key = api_key(KEY_ENV, PROVIDER)
    endpoint = base_url(PROVIDER, base, QUEUE_URL)
    rest = REST_URL if endpoint == QUEUE_URL else endpoint
    what = f"upload of the still {path.name}"
    try:
        data = still_as_upload(path)
        with httpx.Client(timeout=timeout) as client:
            initiated = client.post(f"{rest}/storage/upload/initiate", params={"storage_type": "gcs"},
                                    json={"file_name": f"{path.stem}.jpg", "content_type": "image/jpeg"},
                                    headers={"Authorization": f"Key {key}"})
            initiated.raise_for_status()
            upload_url, file_url = fields_of(initiated.json(), ("upload_url", "file_url"), PROVIDER, what)
            # a signed URL: it gets the bytes, never the key
            client.put(upload_url, content=data, headers={"Content-Type": "image/jpeg"}).raise_for_status()
            return file_url
    except StageError:
        raise
    except Exception as exc:
        raise from_exception(exc, PROVIDER, KEY_ENV, what) from None  # unchained, as in CloudBackend.talking


class FalBackend(CloudBackend):
    """A backend running one fal model per artifact through the queue API; subclasses add the stage method."""

    packages: ClassVar[tuple[str, ...]] = ("httpx",)
    env_keys: ClassVar[tuple[str, ...]] = (KEY_ENV,)
    provider: ClassVar[str] = PROVIDER
    # fal queues what is over an account's limit (2 running at first, up to 40 as credit is bought)
    # instead of refusing it; more than that in flight would only wait in fal's queue against our deadline.
    concurrency: ClassVar[int] = 2
    default_url: ClassVar[str] = QUEUE_URL

    def collect(self, model: str, arguments: Callable[[], dict[str, Any]], item: str, units: float, what: str,
                prompt: str) -> dict[str, Any]:
        """The result of ``model``: the journaled request collected, else one submitted with ``arguments()``
        (paid as ``units`` of price ``item``) and waited for; a refusal quotes ``prompt``."""
        import httpx

        key, call = self.key(), calls.current()
        try:
            with httpx.Client(timeout=self.options.timeout_s, headers={"Authorization": f"Key {key}"}) as client:
                job = call.recall(JOURNAL)
                if not job:
                    body = arguments()  # only now: building them may upload the still
                    job = self.paid(item, units, what, lambda: self._submit(client, model, body, what))
                    call.remember(JOURNAL, job)
                status = self.poll(lambda: self._check(client, job, what), what)
                with self.talking(what):
                    return self._result(client, job, status, what)
        except ContentRejected as exc:
            self.forget()
            raise rejected(what, prompt, str(exc)) from exc

    def result_url(self, result: dict[str, Any], path: tuple[str | int, ...], what: str) -> str:
        """The hosted file's URL at ``path`` in a completed job's ``result``; an unexpected_answer when it is not
        there (the job stays journaled: the next attempt reads the result again without paying)."""
        node: Any = result
        for step in path:
            try:
                node = node[step]
            except (KeyError, IndexError, TypeError):
                raise unexpected_answer(PROVIDER, what, result) from None
        if not isinstance(node, str) or not node:
            raise unexpected_answer(PROVIDER, what, result)
        return node

    def forget(self) -> None:
        """Drop the journaled request, so the next attempt submits a new one."""
        calls.current().remember(JOURNAL, None)

    def _submit(self, client: Any, model: str, arguments: dict[str, Any], what: str) -> dict[str, str]:
        """Submit the paid request; what to journal of the answer (its id and URLs, never the key)."""
        response = client.post(f"{self.endpoint()}/{model}", json=arguments)
        response.raise_for_status()
        answer = response.json()
        request_id = fields_of(answer, ("request_id",), PROVIDER, what)[0]
        # the request is queued (and billed) once it has an id: where fal did not say, its URLs are where fal keeps them
        owner, alias = model.split("/")[:2]
        queued = f"{self.endpoint()}/{owner}/{alias}/requests/{request_id}"
        return {"model": model, "request_id": request_id, "status_url": answer.get("status_url") or f"{queued}/status",
                "response_url": answer.get("response_url") or queued}

    def _check(self, client: Any, job: dict[str, str], what: str) -> tuple[bool, dict[str, Any] | None]:
        """One poll of the status: (done, the status body)."""
        response = client.get(job["status_url"])
        if response.status_code == 404:  # unknown or expired at fal: let the next attempt start afresh
            self.forget()
            raise StageError(f"fal no longer knows the request {job['request_id']} of the {what}",
                             hint="rerun to submit it again")
        response.raise_for_status()
        status = response.json()
        state = fields_of(status, ("status",), PROVIDER, what)[0]
        if state in WORKING:
            return False, None
        if state == "COMPLETED":
            return True, status
        raise StageError(f"fal: the request of the {what} is in an unknown state {state!r}")

    def _result(self, client: Any, job: dict[str, str], status: dict[str, Any], what: str) -> dict[str, Any]:
        """The completed request's result; a failed job is forgotten (a rerun submits anew) and raised."""
        response = client.get(job["response_url"])
        if response.is_success:
            result = response.json()
            if not isinstance(result, dict):
                raise unexpected_answer(PROVIDER, what, result)
            return result
        code = response.status_code
        error = from_status(PROVIDER, code, response.text, response.headers, KEY_ENV, what)
        failed = (status.get("error") or response.headers.get("x-fal-error-type")
                  or isinstance(error, ContentRejected)
                  or (400 <= code < 500 and not isinstance(error, (AuthError, TransientError))))
        if not failed:  # a passing fault reading a good result: the next attempt reads it again
            raise error
        self.forget()
        if isinstance(error, ContentRejected):
            raise error
        reason = redact(str(status.get("error") or response.text))
        raise StageError(f"fal: the job of the {what} failed ({code}): {reason}",
                         hint="rerun to submit it again; if it keeps failing, try another model option")
