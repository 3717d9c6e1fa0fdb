"""The project file: validated once, up front, into frozen models; paths relative to the file."""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, ValidationError, ValidationInfo, field_validator, model_validator

from pipeline.config.yamlfile import YamlDocument
from pipeline.errors import UserError
from stages.backend import Backend
from stages.cloud.http import without_password
from stages.contracts import Character, Frozen, VideoFormat
from stages.registry import STAGES, UnknownBackend, backend_class

PROJECT_HINT = "fix the project file; see 'Project file' in the README"
SECRET_WORDS = ("key", "secret", "token", "password", "credential")


def _resolve(value: Path | None, info: ValidationInfo) -> Path | None:
    base = (info.context or {}).get("base")
    if value is None or base is None or value.is_absolute():
        return value
    return (base / value).resolve()


class SourceConfig(Frozen):
    """Where the story comes from: a text file and which part of it."""

    path: Path
    chapter: int | None = Field(default=None, ge=1)
    start: str | None = None
    end: str | None = None

    _paths = field_validator("path")(_resolve)

    @model_validator(mode="after")
    def _one_selection(self) -> SourceConfig:
        if self.chapter is not None and (self.start or self.end):
            raise ValueError("give either 'chapter' or 'start'/'end' markers, not both")
        return self


class FormatConfig(Frozen):
    """Resolution, frame rate and (optionally) the aspect it must match."""

    width: int = 1280
    height: int = 720
    fps: int = Field(default=24, ge=1, le=60)
    aspect: str | None = Field(default=None, pattern=r"^\d+:\d+$")

    @field_validator("width", "height")
    @classmethod
    def _size(cls, value: int) -> int:
        if not 64 <= value <= 3840:
            raise ValueError("must be between 64 and 3840 pixels")
        if value % 2:
            raise ValueError("must be even (H.264 with 4:2:0 colour needs even sizes)")
        return value

    @model_validator(mode="after")
    def _aspect_matches(self) -> FormatConfig:
        if self.aspect:
            a, b = (int(x) for x in self.aspect.split(":"))
            if b == 0 or abs(self.width / self.height - a / b) > 0.01:
                raise ValueError(f"aspect {self.aspect} does not match {self.width}x{self.height}")
        return self

    def video(self) -> VideoFormat:
        """The stage contract's view of the format."""
        return VideoFormat(width=self.width, height=self.height, fps=self.fps)


class StageConfig(Frozen):
    """Which backend runs a stage, and its options."""

    backend: str
    options: dict[str, Any] = Field(default_factory=dict)


class StagesConfig(Frozen):
    """One backend per stage; every default works offline."""

    script: StageConfig = StageConfig(backend="rules")
    images: StageConfig = StageConfig(backend="storyboard")
    animation: StageConfig = StageConfig(backend="kenburns")
    narration: StageConfig = StageConfig(backend="piper")
    stitch: StageConfig = StageConfig(backend="moviepy")


class FinishConfig(Frozen):
    """How the film is finished: subtitles, crossfades, music and loudness."""

    subtitles: bool = True
    crossfade: float = Field(default=0.4, ge=0, le=2)
    music: Path | None = None
    music_gain_db: float = Field(default=-24.0, le=0)
    loudness_lufs: float = Field(default=-16.0, ge=-40, le=-5)

    _paths = field_validator("music")(_resolve)


class RetryConfig(Frozen):
    """How transient provider faults (429, 5xx, timeouts) are retried; a Retry-After is honoured."""

    attempts: int = Field(default=4, ge=1, le=20)
    backoff_s: float = Field(default=2.0, ge=0)
    max_backoff_s: float = Field(default=60.0, ge=0)


class RunnerConfig(Frozen):
    """Where shot tasks run: threads in the film process, or Dask worker processes (here or on a cluster)."""

    kind: Literal["threads", "dask"] = "threads"
    address: str | None = None  # an existing Dask scheduler, e.g. tcp://10.0.0.5:8786; else a LocalCluster
    workers: int = Field(default=2, ge=1, le=64)  # LocalCluster worker processes


def auto_workers() -> int:
    """Local jobs at once for ``workers: auto``: one more than the CPU cores this process may use, so that a
    job waiting on its ffmpeg pipe or on the GIL never leaves a core idle (2 cores: 3 jobs made the pride
    chapter about 2 % faster over three paired runs; 4 jobs no faster than 3)."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return max(1, min(32, cores + 1))


def _secret_names(options: Any, prefix: str = "") -> list[str]:
    """The option names (dotted, at any depth) that look like they hold a credential."""
    if not isinstance(options, dict):
        return []
    found = []
    for name, value in options.items():
        if any(word in str(name).lower() for word in SECRET_WORDS):
            found.append(prefix + str(name))
        found += _secret_names(value, f"{prefix}{name}.")
    return found


class StoreConfig(Frozen):
    """Where finished artifacts live: the out folder by default, a folder every worker mounts, or an fsspec URL
    (s3://bucket/films, gs://..., sftp://...) shared by the workers of a cluster."""

    url: str | None = None  # a folder (relative to the project file) or an fsspec URL; None: <out>/.film/cache
    options: dict[str, Any] = Field(default_factory=dict)  # passed to the fsspec filesystem (endpoint_url, region...)

    @model_validator(mode="before")
    @classmethod
    def _url_alone(cls, value: Any) -> Any:
        return {"url": value} if isinstance(value, str) else value

    _no_password = field_validator("url")(without_password)

    @field_validator("options")
    @classmethod
    def _no_secrets(cls, value: dict[str, Any]) -> dict[str, Any]:
        secret = sorted(_secret_names(value))
        if secret:
            raise ValueError(f"{', '.join(secret)}: credentials come from the environment (e.g. AWS_ACCESS_KEY_ID, "
                             "AWS_SECRET_ACCESS_KEY or AWS_PROFILE for s3://), never from the project file")
        return value

    @property
    def is_url(self) -> bool:
        """True for an fsspec URL other than a plain local folder."""
        return self.url is not None and "://" in self.url and not self.url.startswith("file://")

    def folder(self, base: Path) -> Path | None:
        """The local folder of a folder store (relative to ``base``), else None."""
        if not self.url or self.is_url:
            return None
        path = Path(self.url.removeprefix("file://")).expanduser()
        return path if path.is_absolute() else (base / path).resolve()


class Project(Frozen):
    """A film project as written in its YAML file."""

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$", max_length=64)
    title: str | None = None
    source: SourceConfig
    style: str = ""
    seed: int = 0
    format: FormatConfig = FormatConfig()
    characters: tuple[Character, ...] = ()
    narrator_voice: str | None = None
    stages: StagesConfig = StagesConfig()
    finish: FinishConfig = FinishConfig()
    workers: int = Field(default_factory=auto_workers, ge=1, le=32)  # or "auto"
    concurrency: dict[str, int] = Field(default_factory=dict)  # provider -> calls in flight (e.g. luma: 4)
    retries: RetryConfig = RetryConfig()
    runner: RunnerConfig = RunnerConfig()
    store: StoreConfig = StoreConfig()
    prices: dict[str, float] = Field(default_factory=dict)  # "provider/item" -> USD per unit, over the defaults

    @field_validator("workers", mode="before")
    @classmethod
    def _auto_workers(cls, value: Any) -> Any:
        if value == "auto":
            return auto_workers()
        if isinstance(value, str) and not value.strip().isdigit():
            raise ValueError("expected a number of shots worked on at once (1-32) or auto")
        return value

    @field_validator("concurrency")
    @classmethod
    def _positive_limits(cls, value: dict[str, int]) -> dict[str, int]:
        bad = sorted(name for name, limit in value.items() if limit < 1 or limit > 64)
        if bad:
            raise ValueError(f"limits must be between 1 and 64 (check {', '.join(bad)})")
        return value

    @field_validator("prices")
    @classmethod
    def _known_price_shape(cls, value: dict[str, float]) -> dict[str, float]:
        bad = sorted(item for item, price in value.items() if "/" not in item or price < 0)
        if bad:
            raise ValueError(f"price items are 'provider/item': non-negative USD per unit (check {', '.join(bad)})")
        return value

    @model_validator(mode="after")
    def _unique_characters(self) -> Project:
        names = [c.name for c in self.characters]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"characters listed twice: {', '.join(dupes)}")
        return self

    def voice_for(self, speaker: str) -> str | None:
        """The voice of a speaker: the character's own, else the narrator's."""
        for character in self.characters:
            if character.name == speaker and character.voice:
                return character.voice
        return self.narrator_voice


@dataclass(frozen=True)
class LoadedProject:
    """A validated project with its file, its parsed document and its backends."""

    project: Project
    path: Path
    document: YamlDocument
    backends: dict[str, Backend]

    @property
    def base_dir(self) -> Path:
        """The folder relative paths in the project resolve against."""
        return self.path.parent


def load_project(path: Path) -> LoadedProject:
    """Read, validate and resolve a project file, its backends and their options."""
    path = path.resolve() if path.exists() else path
    document = YamlDocument.read(path, "project file")
    project = document.validate(Project, PROJECT_HINT, context={"base": path.parent})
    project = _resolve_voice_paths(project, path.parent)
    backends = {stage: _make_backend(document, stage, getattr(project.stages, stage), path.parent) for stage in STAGES}
    return LoadedProject(project=project, path=path, document=document, backends=backends)


def _make_backend(document: YamlDocument, stage: str, config: StageConfig, base: Path) -> Backend:
    loc = ("stages", stage, "backend")
    try:
        cls = backend_class(stage, config.backend)
    except UnknownBackend as exc:
        raise UserError(f"{document.where(loc)}: stages.{stage}.backend: {exc}", exc.hint) from None
    secret = [name for name in _secret_names(config.options) if name.split(".")[0] not in cls.Options.model_fields]
    if secret:
        where = document.where(("stages", stage, "options", *secret[0].split(".")))
        keys = " or ".join(cls.env_keys)
        raise UserError(f"{where}: stages.{stage}.options.{secret[0]}: credentials come from the environment, never "
                        "the project file", f"remove it{f' and export {keys}' if keys else ''}")
    try:
        options = cls.parse_options(config.options, base)
    except ValidationError as exc:
        raise document.error_from(exc, f"see the {config.backend} backend's options in the README",
                                  ("stages", stage, "options")) from None
    return cls(options)


def _resolve_voice_paths(project: Project, base: Path) -> Project:
    def fix(voice: str | None) -> str | None:
        if voice and (voice.endswith(".onnx") or "/" in voice) and not Path(voice).is_absolute():
            return str((base / voice).resolve())
        return voice

    characters = tuple(c.model_copy(update={"voice": fix(c.voice)}) for c in project.characters)
    return project.model_copy(update={"characters": characters, "narrator_voice": fix(project.narrator_voice)})
