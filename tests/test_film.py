"""End to end: a short film made by the real flow and backends, checked by decoding it; then reruns, each in
its own copy of the made film, so that any test runs alone or with any others."""
from __future__ import annotations

import math
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from stages.assets import ASSETS_DIR
from tests.conftest import run_cli, write_project
from tests.film_checks import computed, decode_audio, loudness, manifest, srt_cues, stream_info, video_frames

pytestmark = pytest.mark.slow
MUSIC = ASSETS_DIR / "music" / "regency_air.ogg"


@dataclass(frozen=True)
class Made:
    """A `film make` run: the project, its output folder, the exit code, what it printed and what it computed."""

    project: Path
    out: Path
    code: int
    text: str
    computed: frozenset[tuple[str, int | None]]


def make(project: Path, out: Path) -> Made:
    """Run `film make` on the project into ``out`` and note the result."""
    code, text = run_cli("make", project, "--out", out)
    return Made(project, out, code, text, frozenset(computed(out)) if code == 0 else frozenset())


def copied(made: Made, folder: Path) -> tuple[Path, Path]:
    """The made project and output folder copied into ``folder``: the copy is the test's own to edit and rerun."""
    assert made.code == 0, made.text
    project = shutil.copytree(made.project.parent, folder / "proj") / made.project.name
    return project, shutil.copytree(made.out, folder / "out")


@pytest.fixture(scope="module")
def made(tmp_path_factory) -> Made:
    """A project and its film, made once by `film make` for the tests of this module; they only read it."""
    root = tmp_path_factory.mktemp("film")
    finish = f"{{subtitles: true, crossfade: 0.3, loudness_lufs: -16, music: {MUSIC}, music_gain_db: -24}}"
    return make(write_project(root / "proj", finish=finish), root / "out")


@pytest.fixture
def film(made, tmp_path_factory) -> tuple[Path, Path]:
    """A copy of the made project and output folder for one test to edit and rerun as it likes."""
    # a short folder name, not the test's: the CLI wraps its messages at 80 columns, and a long path in them
    # would be cut mid-word ("screenplay.yam l:8")
    return copied(made, tmp_path_factory.mktemp("copy"))


@pytest.fixture(scope="module")
def with_shot_99(made, tmp_path_factory) -> Made:
    """A copy of the made film with a shot 99 added to the screenplay, made again."""
    project, out = copied(made, tmp_path_factory.mktemp("film-99"))
    new = {"shot": 99, "narration": "Outside, the wind rose over the hill.", "image_prompt": "a windy hill at dusk",
           "mood": "somber"}
    edit_screenplay(out, lambda data: data["scenes"][0]["shots"].append(new))
    return make(project, out)


def edit_screenplay(out, change):
    path = out / "screenplay.yaml"
    data = yaml.safe_load(path.read_text())
    change(data)
    path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True))


def shot_list(data):
    return [shot for scene in data["scenes"] for shot in scene["shots"]]


def redraw_first_shot(out):
    """The user's edit of the first shot's image prompt: its still and clip are stale until the next make."""
    edit_screenplay(out, lambda data: shot_list(data)[0].update(image_prompt="a mill in the rain, redrawn"))


def test_cold_make_writes_every_output(made):
    code, text, out = made.code, made.text, made.out
    assert code == 0, text
    for name in ("film.mp4", "film.srt", "screenplay.yaml", "contact_sheet.png", "manifest.json"):
        assert (out / name).is_file(), name
    data = manifest(out)
    assert len(data["shots"]) >= 4
    assert all(art["computed"] for shot in data["shots"] for art in shot["artifacts"].values())
    assert made.computed == {(stage, shot["shot"]) for shot in data["shots"] for stage in shot["artifacts"]} | {
        ("stitch", None)}
    assert "realtime" in text and "computed" in text
    printed = float(re.search(r"done in ([0-9.]+) s", text).group(1))
    assert abs(data["summary"]["wall_seconds"] - printed) < 0.06, "the manifest holds the time the user saw"


def test_film_streams_length_sync_and_loudness(made):
    out = made.out
    info = stream_info(out / "film.mp4")
    assert "Video: h264" in info and "Audio: aac" in info, info
    assert "320x180" in info
    data = manifest(out)
    narration = sum(shot["duration"] for shot in data["shots"])
    frames = video_frames(out / "film.mp4")
    assert 0 <= frames / 12 - narration <= len(data["shots"]) / 12 + 1e-6  # every shot holds all its narration
    audio = decode_audio(out / "film.mp4")
    assert abs(len(audio) / 48000 - frames / 12) <= 0.04
    assert abs(loudness(audio) - (-16)) <= 1.0
    blob = (out / "film.mp4").read_bytes()
    assert blob.find(b"moov") < blob.find(b"mdat"), "faststart: the index must come first"


def test_subtitles_follow_narration_timings(made):
    project, out = made.project, made.out
    from pipeline.run.context import open_context
    from pipeline.run.script import ensure_screenplay

    ctx = open_context(project, out)
    ensure_screenplay(ctx, run=False)
    cues = srt_cues(out / "film.srt")
    data = manifest(out)
    start = 0.0
    for shot in data["shots"]:
        record = ctx.store.load("narration", shot["artifacts"]["narration"]["key"])
        first = record.timings[0]
        assert any(abs(c[0] - (start + first.start)) < 0.05 for c in cues), (shot["shot"], start + first.start)
        start += math.ceil(shot["duration"] * 12 - 1e-6) / 12
    assert cues[-1][1] <= start + 0.05
    assert all(b > a for a, b, _ in cues)


def test_noop_rerun_starts_no_flow(cli, film, monkeypatch):
    project, out = film
    import pipeline.prefect.flow

    monkeypatch.setattr(pipeline.prefect.flow, "run_flow", lambda *a, **k: pytest.fail("a no-op rerun started the flow"))
    code, text = cli("make", project, "--out", out)
    assert code == 0, text
    assert computed(out) == set()
    assert "realtime" not in text, "a film from the cache has no speed to report"
    data = manifest(out)
    assert data["script"] and data["stitch"] and data["summary"]["cached"] == 2 + 3 * len(data["shots"])


def test_a_partial_run_keeps_the_whole_film_in_the_manifest(cli, film):
    project, out = film
    code, text = cli("make", project, "--out", out, "--until", "narration")
    assert code == 0, text
    data = manifest(out)
    assert data["stitch"] and data["script"] and "film" in data["summary"]["outputs"]
    assert all(set(shot["artifacts"]) == {"images", "narration", "animation"} for shot in data["shots"])


def test_editing_an_image_prompt_recomputes_that_shot_and_the_stitch(cli, film):
    project, out = film

    def change(data):
        shot_list(data)[1]["image_prompt"] += " A candle burns on the table."

    edit_screenplay(out, change)
    number = shot_list(yaml.safe_load((out / "screenplay.yaml").read_text()))[1]["shot"]
    code, text = cli("make", project, "--out", out)
    assert code == 0, text
    assert computed(out) == {("images", number), ("animation", number), ("stitch", None)}
    script = manifest(out)["script"]  # the screenplay still comes from the cached script artifact
    assert script["computed"] is False and script["path"].startswith(".film/cache/script/"), script


def test_editing_narration_recomputes_narration_and_stitch(cli, film):
    project, out = film
    before = {s["shot"]: s["duration"] for s in manifest(out)["shots"]}
    number = shot_list(yaml.safe_load((out / "screenplay.yaml").read_text()))[2]["shot"]
    edit_screenplay(out, lambda data: shot_list(data)[2].update(narration=shot_list(data)[2]["narration"].replace("The", "That", 1)))
    code, text = cli("make", project, "--out", out)
    assert code == 0, text
    after = {s["shot"]: s["duration"] for s in manifest(out)["shots"]}
    expected = {("narration", number), ("stitch", None)}
    bucket = lambda d: max(1, round(d + 0.3))  # noqa: E731 - the clip length rule of pipeline.run.jobs
    if bucket(before[number]) != bucket(after[number]):
        expected.add(("animation", number))  # the clip had to get longer
    assert computed(out) == expected


def test_deleting_a_shot_only_restitches(cli, film):
    project, out = film
    edit_screenplay(out, lambda data: data["scenes"][-1]["shots"].pop() if len(data["scenes"][-1]["shots"]) > 1 else data["scenes"].pop())
    code, text = cli("make", project, "--out", out)
    assert code == 0, text
    assert computed(out) == {("stitch", None)}


def test_adding_a_shot_makes_just_that_shot(with_shot_99):
    assert with_shot_99.code == 0, with_shot_99.text
    assert with_shot_99.computed == {("images", 99), ("narration", 99), ("animation", 99), ("stitch", None)}


def test_force_one_shot_of_a_deterministic_stage_keeps_dependents(cli, with_shot_99, tmp_path_factory):
    project, out = copied(with_shot_99, tmp_path_factory.mktemp("copy"))
    code, text = cli("make", project, "--out", out, "--force", "images", "--shots", "99")
    assert code == 0, text
    # the redrawn still is byte-identical, so its clip and the film are still valid
    assert computed(out) == {("images", 99)}


def test_only_one_stage_for_one_shot(cli, film):
    project, out = film
    code, text = cli("make", project, "--out", out, "--only", "narration", "--force", "narration", "--shots", "1")
    assert code == 0, text
    assert computed(out) == {("narration", 1)}


def test_shots_that_do_not_exist(cli, film):
    project, out = film
    code, text = cli("make", project, "--out", out, "--force", "images", "--shots", "500")
    assert code == 2 and "no shot 500" in text and "Traceback" not in text


@pytest.mark.parametrize("narration, command", [("", "make"), ("…", "check"), ("— —", "make")])
def test_invalid_screenplay_edit_names_the_field(cli, film, narration, command):
    project, out = film
    edit_screenplay(out, lambda data: shot_list(data)[0].update(narration=narration))
    code, text = cli(command, project, "--out", out)
    flat = " ".join(text.split())
    assert code == 2 and "screenplay.yaml:" in flat and "scenes.0.shots.0.narration" in flat, text


@pytest.mark.parametrize("command", ["make", "status", "check"])
def test_screenplay_that_is_not_utf8(cli, film, command):
    project, out = film
    (out / "screenplay.yaml").write_bytes(b"\xff\xfe title: bad\n")
    code, text = cli(command, project, "--out", out)
    flat = " ".join(text.split())
    assert code == 2 and "screenplay" in flat and "UTF-8" in flat and "Traceback" not in text, text


def test_status_shows_cached_and_stale(cli, film):
    project, out = film
    code, text = cli("status", project, "--out", out)
    assert code == 0 and "cached" in text and "stale" not in text and "missing" not in text, text
    redraw_first_shot(out)
    code, text = cli("status", project, "--out", out)
    assert code == 0 and "stale" in text and "note" not in text, text


def test_status_says_an_edited_screenplay_is_kept_when_the_script_inputs_change(cli, film):
    project, out = film
    redraw_first_shot(out)
    project.write_text(project.read_text(encoding="utf-8").replace('style: "ink and wash"', 'style: "charcoal"'),
                       encoding="utf-8")
    code, text = cli("status", project, "--out", out)
    flat = " ".join(text.split())
    assert code == 0 and "script cached" in flat, text
    assert "holds your edits, so it was kept" in flat and "--force script" in flat, text


def test_only_names_the_command_that_makes_what_it_lacks(cli, film):
    """After an image edit, --only stitch lacks that shot's still and clip: one --until animation makes both."""
    project, out = film
    redraw_first_shot(out)
    code, text = cli("make", project, "--out", out, "--only", "stitch")
    flat = " ".join(text.split())
    assert code == 2 and "images for shot 1 is needed" in flat, text
    assert "--out" in flat and flat.rstrip().endswith("--until animation"), text


def test_check_and_status_create_no_folder(cli, made, tmp_path):
    project = made.project
    for command in ("check", "status"):
        assert cli(command, project, "--out", tmp_path / "nowhere" / "yet")[0] == 0
    assert not (tmp_path / "nowhere").exists()


def test_force_script_backs_up_the_users_edits(cli, film):
    project, out = film
    redraw_first_shot(out)
    code, text = cli("make", project, "--out", out, "--force", "script", "--until", "script")
    assert code == 0, text
    backups = list(out.glob("screenplay.backup-*.yaml"))
    assert backups and "redrawn" in backups[0].read_text()
    assert "redrawn" not in (out / "screenplay.yaml").read_text()
    assert "backup" in " ".join(text.split())


def test_until_images_is_a_storyboard(cli, tmp_path):
    project = write_project(tmp_path / "proj")
    out = tmp_path / "out"
    code, text = cli("make", project, "--out", out, "--until", "images")
    assert code == 0, text
    assert (out / "contact_sheet.png").is_file() and not (out / "film.mp4").exists()
    assert {stage for stage, _ in computed(out)} == {"images"}


def test_a_backend_refusing_one_shot_is_reported_with_the_shot(cli, tmp_path, monkeypatch):
    from stages.errors import InputError
    from stages.images.storyboard import StoryboardImages

    def refuse(self, request, out_path):
        if request.number == 2:
            raise InputError(f"shot {request.number}: prompt refused", hint="rewrite the prompt of shot 2")
        return original(self, request, out_path)

    original = StoryboardImages.make_image
    monkeypatch.setattr(StoryboardImages, "make_image", refuse)
    project = write_project(tmp_path / "proj")
    code, text = cli("make", project, "--out", tmp_path / "out", "--until", "images")
    assert code == 2 and "shot 2: prompt refused" in text and "rewrite the prompt" in text and "Traceback" not in text
    code, text = cli("make", project, "--out", tmp_path / "out", "--until", "images", "--debug")
    assert code == 2 and "Traceback" in text
    monkeypatch.setattr(StoryboardImages, "make_image", original)
    code, text = cli("make", project, "--out", tmp_path / "out", "--until", "images")
    assert code == 0 and computed(tmp_path / "out") == {("images", 2)}


def test_runtime_failures_exit_1_without_traceback(capsys):
    import typer

    from pipeline.cli import reported_errors

    with pytest.raises(typer.Exit) as exit_info:
        with reported_errors(debug=False):
            raise RuntimeError("disk on fire")
    assert exit_info.value.exit_code == 1
    err = capsys.readouterr().err
    assert "disk on fire" in err and "Traceback" not in err
