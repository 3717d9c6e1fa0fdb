"""The base of every cloud backend: key and endpoint, error translation, paid calls and polling."""
from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, ClassVar, TypeVar

from pydantic import Field, field_validator

from stages import calls
from stages.backend import Backend
from stages.cloud.download import LinkExpired, fetch, image_fitted, video_fitted
from stages.cloud.http import REWORD_SHOT, api_key, base_url, from_exception, without_password
from stages.contracts import Frozen
from stages.errors import ContentRejected, StageError, TransientError
from stages.text import shorten

T = TypeVar("T")
LABEL_CHARS = 60  # of a prompt, to name a shot's request in messages


def shot_label(number: int, kind: str, prompt: str) -> str:
    """How messages name one shot's request, e.g. 'shot 4 clip "slow push in, the hall…"'."""
    return f'shot {number} {kind} "{shorten(prompt, LABEL_CHARS)}"'


# How long a provider's hosted copy of a still is trusted to stay downloadable (image backends that host one).
URL_LIFETIME = "seconds a hosted still is trusted to stay downloadable, for an animation backend to fetch"


class CloudOptions(Frozen):
    """Options every cloud backend has; none of them changes a result, so none is in the cache key."""

    base_url: str | None = Field(None, description="another endpoint (a proxy, a fake server); "
                                                   "`FILM_<PROVIDER>_BASE_URL` also works; one holding a password is "
                                                   "refused")
    timeout_s: float = Field(default=120.0, gt=0, description="seconds one HTTP request may take")
    poll_interval_s: float = Field(default=2.0, gt=0, description="first wait between polls of a job, in seconds; "
                                                                  "doubles up to 30 s")
    deadline_s: float = Field(default=900.0, gt=0, description="seconds to wait for one job before giving up this "
                                                               "attempt")

    _no_password = field_validator("base_url")(without_password)


class CloudBackend(Backend):
    """A backend that calls a provider's API; subclasses set provider, env_keys and default_url."""

    default_url: ClassVar[str]
    provider: ClassVar[str]
    options: CloudOptions
    refusal_hint: ClassVar[str] = REWORD_SHOT  # what to do when the provider refuses the content
    unkeyed_options = frozenset({"base_url", "timeout_s", "poll_interval_s", "deadline_s"})

    @property
    def key_env(self) -> str:
        """The environment variable holding this provider's key."""
        return self.env_keys[0]

    def key(self) -> str:
        """The API key (an AuthError naming the variable when unset)."""
        return api_key(self.key_env, self.provider)

    def endpoint(self) -> str:
        """The base URL requests go to."""
        return base_url(self.provider, getattr(self.options, "base_url", None), self.default_url)

    @contextlib.contextmanager
    def talking(self, what: str) -> Iterator[None]:
        """Translate whatever the SDK or HTTP client raises inside into our error kinds, naming ``what``."""
        try:
            yield
        except StageError:
            raise
        except Exception as exc:  # SDKs raise their own hierarchies; classify by status and class name
            error = from_exception(exc, self.provider, self.key_env, what)
            error.answer = getattr(exc, "body", None)
            if isinstance(error, ContentRejected):
                error.hint = self.refusal_hint
            # not chained: an SDK's exception may quote the key, and Prefect's log and --debug print causes whole
            raise error from None

    def paid(self, item: str, units: float, what: str, request: Callable[[], T]) -> T:
        """Make one paid ``request``: priced and budget-checked before, recorded after, errors translated."""
        with calls.current().paying(f"{self.provider}/{item}", units, what), self.talking(what):
            return request()

    def collect_still(self, url: str, out_path: Path, size: tuple[int, int], what: str) -> None:
        """Download a hosted still at once and save it as a PNG of ``size`` at ``out_path``."""
        self._download_then(url, out_path, what, lambda raw: image_fitted(raw, out_path, size, self.provider, what))

    def collect_clip(self, url: str, out_path: Path, fmt: Any, what: str) -> float:
        """Download a hosted clip at once and re-encode it at the film's size and rate; returns its seconds."""
        def fit(raw: Path) -> float:
            return video_fitted(raw, out_path, fmt, self.provider, what)

        return self._download_then(url, out_path, what, fit)

    def forget(self) -> None:
        """Drop the journaled job or link of this artifact, so the next attempt makes it anew (a backend that
        journals one overrides this)."""

    def _download_then(self, url: str, out_path: Path, what: str, fit: Callable[[Path], T]) -> T:
        raw = out_path.with_name(f".{out_path.stem}.{self.provider}-download")
        try:
            with self.talking(what):
                fetch(url, raw, self.provider, what, timeout=self.options.timeout_s)
            return fit(raw)
        except LinkExpired:
            self.forget()
            raise
        finally:
            raw.unlink(missing_ok=True)

    def poll(self, check: Callable[[], tuple[bool, Any]], what: str) -> Any:
        """Call ``check`` until it says done, waiting longer each time; past the deadline a TransientError
        (the job id is in the journal, so the next attempt collects it instead of paying again)."""
        opts = self.options
        deadline, wait = time.monotonic() + opts.deadline_s, opts.poll_interval_s
        while True:
            with self.talking(what):
                done, value = check()
            if done:
                return value
            if time.monotonic() + wait > deadline:
                raise TransientError(f"{self.provider}: the {what} was not ready after {opts.deadline_s:.0f} s",
                                     hint="rerun later: the job is remembered and will be collected, not paid again")
            time.sleep(wait)
            wait = min(wait * 2, 30.0)
