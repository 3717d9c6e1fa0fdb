"""What every backend shares: identity, validated options and a self-check of what it needs."""
from __future__ import annotations

import importlib.util
import os
from collections.abc import Collection
from typing import Any, ClassVar

from pydantic import BaseModel

from stages.contracts import NoOptions


class Backend:
    """Base class of all backends; subclasses set the class variables and the stage method."""

    name: ClassVar[str]
    version: ClassVar[str] = "1"
    Options: ClassVar[type[BaseModel]] = NoOptions
    packages: ClassVar[tuple[str, ...]] = ()  # importable modules it needs
    env_keys: ClassVar[tuple[str, ...]] = ()  # environment variables it needs
    needs_gpu: ClassVar[bool] = False
    # Cloud backends: the provider whose concurrency limit and prices apply, its default limit of calls in
    # flight, and option fields that do not change the result (endpoints, timeouts) and so stay out of keys.
    provider: ClassVar[str | None] = None
    concurrency: ClassVar[int] = 1
    unkeyed_options: ClassVar[frozenset[str]] = frozenset()
    uses_neighbours: ClassVar[bool] = False  # narration: wants the neighbouring shots' text

    def __init__(self, options: BaseModel | None = None) -> None:
        self.options = options if options is not None else self.Options()

    @classmethod
    def parse_options(cls, raw: dict[str, Any], base: Any = None) -> BaseModel:
        """Validate a project's raw options for this backend, paths against ``base`` (raises ValidationError)."""
        return cls.Options.model_validate(raw, context={"base": base})

    def estimate(self, request: Any) -> list[tuple[str, float]]:
        """The paid units one request would use, as (price item, units) pairs; free backends use none."""
        return []

    @classmethod
    def problems(cls) -> list[str]:
        """What stops this backend from running here, as readable reasons (empty when it can)."""
        found = []
        for module in cls.packages:
            if importlib.util.find_spec(module) is None:
                found.append(f"missing package '{module}'")
        for key in cls.env_keys:
            if not os.environ.get(key):
                found.append(f"missing key: set the environment variable {key}")
        if cls.needs_gpu and not _gpu_available():
            found.append("no GPU found")
        return found

    def problems_with_options(self) -> list[str]:
        """What stops this backend, with the options it was given, from running here (``problems`` plus what
        an option needs, such as another provider's key)."""
        return self.problems()

    def check_voice(self, voice: str | None) -> None:
        """Raise InputError when this narrator could not speak with ``voice`` (the project's default when
        None); a backend that cannot tell before it speaks accepts every voice."""

    def warm_up(self, voices: Collection[str | None] = ()) -> None:
        """Import what this backend needs ahead of its first job (a narrator also loads the run's ``voices``);
        a failure is left for that job to report."""
        for module in self.packages:
            try:
                importlib.import_module(module)
            except Exception:  # noqa: BLE001 - the job itself raises it with its context
                return

    def identity(self) -> dict[str, Any]:
        """Name, version and options: the part of every cache key that belongs to the backend."""
        options = self.options.model_dump(mode="json", exclude=set(self.unkeyed_options))
        return {"backend": self.name, "version": self.version, "options": options}


def _gpu_available() -> bool:
    if importlib.util.find_spec("torch") is None:
        return False
    import torch

    return bool(torch.cuda.is_available())
