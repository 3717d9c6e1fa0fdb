"""The fake provider server: one FastAPI app on 127.0.0.1, each provider's routes from its own module.

Tests start it with ``FakeServer.start()`` (uvicorn in a thread on a free port) and point backends at it
with ``FILM_<PROVIDER>_BASE_URL``. It records every request, counts paid ones, hosts downloadable files
under ``/files/`` and injects faults queued with ``fault(provider, kind, ...)``:

* generic (handled here for every provider route): ``429`` (with Retry-After), ``500``, ``slow`` (answers
  after ``delay`` seconds), ``malformed`` (a 200 with a body that is not JSON), ``hollow`` (a 200 with a JSON
  object that lacks every field the provider's answer has);
* provider-specific (handled by the provider module): ``reject`` (a moderation refusal), ``job_fails``
  (a job that fails while polled), ``truncated`` (the result file is cut short when downloaded).
"""
from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Callable

from fastapi import FastAPI, Request, Response


@dataclass
class Fault:
    """One queued fault for a provider's next matching request."""

    kind: str
    route: str = ""  # only requests whose path contains this ('' = any route of the provider)
    retry_after: float = 0.2
    delay: float = 3.0
    skip: int = 0  # matching requests let through before this one


EXPIRED = "<Error><Code>AccessDenied</Code><Message>Request has expired</Message></Error>"


@dataclass
class FakeState:
    """What the fake server knows: requests seen, paid calls, hosted files, queued faults, jobs."""

    base_url: str = ""
    requests: list[tuple[str, str, str]] = field(default_factory=list)  # (provider, method, path)
    bodies: list[tuple[str, str, Any]] = field(default_factory=list)  # (provider, path, parsed JSON or form)
    paid: Counter = field(default_factory=Counter)  # provider -> paid calls answered with success
    files: dict[str, tuple[bytes, str]] = field(default_factory=dict)  # name -> (bytes, content type)
    truncated: set[str] = field(default_factory=set)  # file names served cut short once
    expire_files: int = 0  # how many next downloads of hosted files get ``expired_answer``
    expired_answer: tuple[int, str] = (403, EXPIRED)  # status and body: S3's answer to an expired signed link
    faults: dict[str, list[Fault]] = field(default_factory=dict)
    jobs: dict[str, dict[str, Any]] = field(default_factory=dict)
    latency: dict[str, float] = field(default_factory=dict)  # provider -> seconds added to each of its answers
    lock: threading.Lock = field(default_factory=threading.Lock)

    def reset(self) -> None:
        """Forget every request, payment, job, queued fault and download fault (hosted files stay)."""
        with self.lock:
            for kept in (self.requests, self.bodies, self.paid, self.faults, self.jobs, self.truncated):
                kept.clear()
            self.expire_files, self.expired_answer = 0, (403, EXPIRED)

    def expired_download(self) -> Response | None:
        """The answer to a download while ``expire_files`` lasts (counting it down), else None."""
        with self.lock:
            if not self.expire_files:
                return None
            self.expire_files -= 1
        status, body = self.expired_answer
        return Response(body, status, media_type="application/xml")

    def take_fault(self, provider: str, path: str, kinds: tuple[str, ...] | None = None) -> Fault | None:
        """Pop the first queued fault of ``provider`` matching ``path`` (and one of ``kinds`` if given)."""
        with self.lock:
            queue = self.faults.get(provider, [])
            for i, fault in enumerate(queue):
                if fault.route in path and (kinds is None or fault.kind in kinds):
                    if fault.skip:
                        fault.skip -= 1
                        continue
                    return queue.pop(i)
        return None

    def host(self, name: str, data: bytes, content_type: str) -> str:
        """Serve ``data`` at /files/<name>; returns its URL."""
        self.files[name] = (data, content_type)
        return f"{self.base_url}/files/{name}"

    def pay(self, provider: str) -> None:
        """Count one successful paid call."""
        with self.lock:
            self.paid[provider] += 1


GENERIC = ("429", "500", "slow", "malformed", "hollow")
CLIP_SIZE, CLIP_FPS = (64, 36), 24


@lru_cache(maxsize=8)
def clip_bytes(seconds: int) -> bytes:
    """A tiny real H.264 MP4 of ``seconds`` seconds (CLIP_SIZE at CLIP_FPS): a bar sweeping over a gradient."""
    import tempfile
    from pathlib import Path

    import numpy as np

    from stages.media import FrameWriter, x264_args

    w, h = CLIP_SIZE
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "clip.mp4"
        with FrameWriter(path, CLIP_SIZE, CLIP_FPS, x264_args("ultrafast", 30)) as writer:
            for i in range(seconds * CLIP_FPS):
                frame = np.zeros((h, w, 3), np.uint8)
                frame[..., 2] = np.linspace(40, 200, w, dtype=np.uint8)
                frame[:, (i * 2) % w, :] = 255
                writer.write(frame)
        return path.read_bytes()


async def generic_fault(state: FakeState, provider: str, path: str) -> Response | None:
    """Answer with a queued generic fault for this request, if one is due (``slow`` waits, then passes)."""
    fault = state.take_fault(provider, path, GENERIC)
    if fault is None:
        return None
    if fault.kind == "429":
        return Response('{"error": {"type": "rate_limit_error", "message": "Too many requests"}}', 429,
                        {"Retry-After": f"{fault.retry_after:g}", "content-type": "application/json"})
    if fault.kind == "500":
        return Response('{"error": {"type": "api_error", "message": "Internal server error"}}', 500,
                        media_type="application/json")
    if fault.kind == "slow":
        await asyncio.sleep(fault.delay)
        return None
    if fault.kind == "hollow":
        return Response("{}", 200, media_type="application/json")
    return Response('{"this is": not json', 200, media_type="application/json")


def make_app(state: FakeState, providers: dict[str, Callable[[FastAPI, FakeState], None]]) -> FastAPI:
    """The app: the shared file host and fault/recording middleware, then each provider's routes."""
    app = FastAPI()
    prefixes = {name: f"/{name}" for name in providers}

    @app.middleware("http")
    async def record_and_fault(request: Request, call_next):
        path = request.url.path
        provider = next((name for name, prefix in prefixes.items() if path.startswith(prefix + "/")), None)
        if provider is not None:
            state.requests.append((provider, request.method, path))
            if state.latency.get(provider):
                await asyncio.sleep(state.latency[provider])
            faulted = await generic_fault(state, provider, path)
            if faulted is not None:
                return faulted
        return await call_next(request)

    @app.get("/files/{name}")
    async def files(name: str) -> Response:
        if name not in state.files:
            return Response("Not Found", 404)
        refused = state.expired_download()
        if refused is not None:
            return refused
        data, content_type = state.files[name]
        if name in state.truncated:
            state.truncated.discard(name)
            return Response(data[: len(data) // 3], media_type=content_type, headers={"x-truncated": "1"})
        return Response(data, media_type=content_type)

    for install in providers.values():
        install(app, state)
    return app


def free_port() -> int:
    """A free TCP port on the loopback interface."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class FakeServer:
    """The app served by uvicorn in a daemon thread; ``url(provider)`` is that provider's base URL."""

    def __init__(self, providers: dict[str, Callable[[FastAPI, FakeState], None]]) -> None:
        import uvicorn

        self.port = free_port()
        self.state = FakeState(base_url=f"http://127.0.0.1:{self.port}")
        config = uvicorn.Config(make_app(self.state, providers), host="127.0.0.1", port=self.port,
                                log_level="warning", lifespan="off")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def start(self) -> "FakeServer":
        """Serve, returning once the port accepts connections."""
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("the fake provider server did not start")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        """Shut the server down."""
        self.server.should_exit = True
        self.thread.join(timeout=10)

    def url(self, provider: str) -> str:
        """Base URL of ``provider``'s routes."""
        return f"{self.state.base_url}/{provider}"

    def fault(self, provider: str, kind: str, route: str = "", times: int = 1, **kw: Any) -> None:
        """Queue ``times`` faults of ``kind`` for ``provider``'s requests whose path contains ``route``."""
        with self.state.lock:
            self.state.faults.setdefault(provider, []).extend(Fault(kind, route, **kw) for _ in range(times))
