"""The typed, frozen contract of every stage: what goes in, what comes out, and the one method.

A backend is a class with a ``name``, a ``version``, an ``Options`` model and the one method of its
stage's Protocol. Backends write their output to the path they are given (a temporary file the
pipeline renames into the artifact store once the method returns), so a crash never leaves a
half-written artifact behind.
"""
from __future__ import annotations

from pathlib import Path
from typing import Annotated, Protocol, runtime_checkable

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationInfo


class Frozen(BaseModel):
    """Base of every contract model: immutable and strict about unknown fields."""

    model_config = ConfigDict(frozen=True, extra="forbid")


def _against_base(value: Path, info: ValidationInfo) -> Path:
    base = (info.context or {}).get("base")
    return value if base is None or value.is_absolute() else (Path(base) / value).resolve()


# A path in a project file (or a backend's options there): relative paths resolve against the project's folder.
ProjectPath = Annotated[Path, AfterValidator(_against_base)]


def _speakable(text: str) -> str:
    if not any(ch.isalnum() for ch in text):
        raise ValueError("has no word to speak: give the shot a narration with at least one word, or delete the shot")
    return text


# A shot's narration: at least one word (a line of only "…" or "—" has nothing for a narrator to say).
Narration = Annotated[str, Field(min_length=1), AfterValidator(_speakable)]


class NoOptions(Frozen):
    """Options model of a backend that takes none."""


# --- shared vocabulary -------------------------------------------------------------------------


class Character(Frozen):
    """A character of the project: how they look (carried into prompts) and how they sound."""

    name: str = Field(min_length=1)
    description: str = ""
    voice: str | None = None
    aliases: tuple[str, ...] = ()
    reference_image: ProjectPath | None = None  # a picture of the character, for backends that take one


class VideoFormat(Frozen):
    """Frame size and rate of the film."""

    width: int
    height: int
    fps: int


# The times of day an LLM screenwriter is offered; the rules writer and the image backends know these words, and a
# shot may still say another (a hand-edited screenplay keeps its word).
TIMES_OF_DAY = ("morning", "day", "evening", "night")


class Shot(Frozen):
    """One shot: a line of narration and the picture that goes with it.

    The field descriptions are what an LLM screenwriter reads (stages.script.draft): "the text" is the part of the
    book it is given and "the list" the project's characters in its prompt.
    """

    shot: int = Field(ge=1, description="stable shot number; --shots refers to it")
    narration: Narration = Field(description="1-3 consecutive sentences copied word for word from the text "
                                             "(5-12 seconds spoken); never paraphrased, never skipped")
    speaker: str = Field("narrator", description="'narrator', or the character name (from the list) whose spoken "
                                                 "words the narration is")
    characters: tuple[str, ...] = Field((), description="names (from the list) of the characters seen in the picture")
    image_prompt: str = Field(min_length=1, description="what the picture shows, for an image model: subject, place, "
                                                        "action, light, framing, with each character's look and the "
                                                        "visual style spelled out (the image model knows no names)")
    motion: str = Field("slow push in", description="camera move, e.g. slow push in, slow pull out, pan left, "
                                                    "pan right, drift up")
    mood: str = Field("calm", description="one word: calm, tense, somber, romantic, comic, cheerful or eager")
    time_of_day: str = Field("day", json_schema_extra={"enum": list(TIMES_OF_DAY)})


class Scene(Frozen):
    """A run of shots in one place and mood (field descriptions as for Shot)."""

    scene: int = Field(ge=1)
    setting: str = Field("", description="the place, in a few words (keep the same words while the scene "
                                         "continues, also across parts)")
    mood: str = Field("calm", description="the scene's mood, one word")
    shots: tuple[Shot, ...] = Field(min_length=1)


class Screenplay(Frozen):
    """The whole film as scenes of shots; ``screenplay.yaml`` is this model as YAML."""

    title: str
    scenes: tuple[Scene, ...] = Field(min_length=1)

    def shots(self) -> tuple[Shot, ...]:
        """All shots in film order."""
        return tuple(shot for scene in self.scenes for shot in scene.shots)


# --- script ------------------------------------------------------------------------------------


class ScriptRequest(Frozen):
    """Source text and the project facts a screenwriter needs."""

    title: str
    text: str
    characters: tuple[Character, ...] = ()
    style: str = ""
    seed: int = 0


@runtime_checkable
class ScriptWriter(Protocol):
    def write(self, request: ScriptRequest) -> Screenplay:
        """Split the text into scenes and shots."""


# --- images ------------------------------------------------------------------------------------


class ImageRequest(Frozen):
    """Everything that decides one still (not the narration: editing it must not redraw the picture)."""

    number: int  # the shot number
    prompt: str
    mood: str = "calm"
    time_of_day: str = "day"
    speaker: str = "narrator"
    characters: tuple[Character, ...] = ()  # the characters present in the shot
    width: int
    height: int
    seed: int


class ImageResult(Frozen):
    path: Path
    url: str | None = None  # where the provider hosts the same still, if it does
    url_expires_at: float | None = None  # epoch seconds after which ``url`` may no longer work


@runtime_checkable
class ImageMaker(Protocol):
    def make_image(self, request: ImageRequest, out_path: Path) -> ImageResult:
        """Draw the shot's still into ``out_path`` (PNG)."""


# --- narration ---------------------------------------------------------------------------------


class Timing(Frozen):
    """When a piece of text (a sentence or word) is spoken, in seconds from the clip start."""

    text: str
    start: float
    end: float


class NarrationRequest(Frozen):
    """The text of one shot and who speaks it."""

    text: str
    speaker: str = "narrator"
    voice: str | None = None  # backend-specific voice name or model path; None = backend default
    # The neighbouring shots' narration, for backends whose prosody flows across requests
    # (filled only for those, so a neighbour's edit never re-narrates a shot elsewhere).
    previous_text: str = ""
    next_text: str = ""


class NarrationResult(Frozen):
    path: Path  # mono WAV
    duration: float
    sample_rate: int
    timings: tuple[Timing, ...]


@runtime_checkable
class Narrator(Protocol):
    def narrate(self, request: NarrationRequest, out_path: Path) -> NarrationResult:
        """Speak the text into ``out_path`` (WAV) with timings."""


# --- animation ---------------------------------------------------------------------------------


class AnimationRequest(Frozen):
    """A still to set in motion for at least ``duration`` seconds."""

    number: int = 0  # the shot number (for messages)
    image_path: Path
    duration: float = Field(gt=0)
    motion: str = "slow push in"
    format: VideoFormat
    seed: int = 0
    description: str = ""  # what the still shows (the shot's image prompt), for backends that prompt
    image_url: str | None = None  # a fresh hosted copy of the still, when the image backend made one


class AnimationResult(Frozen):
    path: Path  # video file
    duration: float


@runtime_checkable
class Animator(Protocol):
    def animate(self, request: AnimationRequest, out_path: Path) -> AnimationResult:
        """Render a clip of the still into ``out_path`` (MP4)."""


# --- stitch ------------------------------------------------------------------------------------


class StitchShot(Frozen):
    """One shot's finished parts."""

    number: int
    clip_path: Path
    clip_duration: float
    audio_path: Path
    audio_duration: float
    timings: tuple[Timing, ...]
    clip_digest: str | None = None  # the start of the hex sha256 the clip was made with, checked as it is read
    audio_digest: str | None = None  # the same of the narration


class StitchRequest(Frozen):
    """The shots in order plus the finishing settings."""

    shots: tuple[StitchShot, ...] = Field(min_length=1)
    format: VideoFormat
    crossfade: float = 0.4
    subtitles: bool = True
    font_path: Path
    music_path: Path | None = None
    music_gain_db: float = -24.0
    loudness_lufs: float = -16.0
    workers: int = 2
    # A folder the backend may keep intermediate renders in between runs, named by a hash of their own
    # inputs, so re-stitching after a one-shot edit re-renders only what that edit touched.
    segment_cache: Path | None = None


class StitchResult(Frozen):
    video_path: Path
    srt_path: Path
    duration: float
    loudness_lufs: float


@runtime_checkable
class Stitcher(Protocol):
    def stitch(self, request: StitchRequest, video_path: Path, srt_path: Path) -> StitchResult:
        """Cut the shots to their narration and export the film and its subtitles."""
