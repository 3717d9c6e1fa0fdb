"""Bad input gets a clear message naming the file, line and field, exit code 2, and no traceback."""
from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import write_project


def assert_user_error(code: int, output: str, *needles: str) -> None:
    assert code == 2, output
    assert "Traceback" not in output
    assert "error:" in output and "fix:" in output, output
    flat = " ".join(output.split())
    for needle in needles:
        assert needle in flat, f"{needle!r} not in:\n{output}"


def test_missing_project_file(cli, tmp_path):
    code, out = cli("check", tmp_path / "nope.yaml")
    assert_user_error(code, out, "project file not found", "nope.yaml")


def test_yaml_syntax_error_names_the_line(cli, tmp_path):
    path = write_project(tmp_path, extra="stages:\n  images: {backend: storyboard\n")
    code, out = cli("check", path)
    assert_user_error(code, out, "YAML syntax error", "project.yaml:")


def test_unknown_key_names_field_and_line(cli, tmp_path):
    path = write_project(tmp_path, colour='"red"')
    code, out = cli("check", path)
    lines = path.read_text().splitlines()
    line = next(i for i, text in enumerate(lines, 1) if text.startswith("colour"))
    assert_user_error(code, out, f"project.yaml:{line}", "colour", "unknown field")


def test_wrong_type(cli, tmp_path):
    path = write_project(tmp_path, seed='"many"')
    code, out = cli("check", path)
    assert_user_error(code, out, "seed", "integer")


@pytest.mark.parametrize("value, needle", [('"many"', "or auto"), ("0", "greater than or equal to 1")])
def test_bad_workers(cli, tmp_path, value, needle):
    path = write_project(tmp_path, workers=value)
    code, out = cli("check", path)
    assert_user_error(code, out, "project.yaml:", "workers", needle)


def test_unknown_backend_lists_known_ones(cli, tmp_path):
    path = write_project(tmp_path, extra="stages:\n  images: {backend: picasso}\n")
    code, out = cli("check", path)
    assert_user_error(code, out, "stages.images.backend", "picasso", "known: fal, ideogram, storyboard")


def test_unknown_backend_option(cli, tmp_path):
    path = write_project(tmp_path, extra="stages:\n  animation: {backend: kenburns, options: {wobble: 3}}\n")
    code, out = cli("check", path)
    assert_user_error(code, out, "stages.animation.options.wobble", "unknown field")


def test_missing_text_file(cli, tmp_path):
    path = write_project(tmp_path, source="{path: gone.txt, chapter: 1}")
    code, out = cli("check", path)
    assert_user_error(code, out, "source.path", "not found", "gone.txt")


def test_binary_text_file(cli, tmp_path):
    path = write_project(tmp_path, source="{path: story.bin, chapter: 1}")
    (tmp_path / "story.bin").write_bytes(b"\x00\x01\x02" * 100)
    code, out = cli("check", path)
    assert_user_error(code, out, "not a text file")


def test_binary_text_without_nul_bytes(cli, tmp_path):
    """Bytes that only decode as Latin-1 because every byte does are still not a story."""
    import random

    path = write_project(tmp_path, source="{path: story.bin}")
    rng = random.Random(1)
    (tmp_path / "story.bin").write_bytes(bytes(rng.randrange(1, 256) for _ in range(3000)))
    code, out = cli("check", path)
    assert_user_error(code, out, "source.path", "not a text file")


def test_windows_1252_text_is_read(cli, tmp_path):
    path = write_project(tmp_path, source="{path: story.txt}")
    (tmp_path / "story.txt").write_bytes("\u201cYes,\u201d said Mary \u2014 caf\u00e9.\n".encode("cp1252") * 20)
    code, out = cli("check", path)
    assert code == 0, out


def test_unreadable_text_file(cli, tmp_path, monkeypatch):
    path = write_project(tmp_path)
    real = Path.read_bytes

    def denied(self):
        if self.name == "story.txt":
            raise PermissionError(13, "Permission denied", str(self))
        return real(self)

    monkeypatch.setattr(Path, "read_bytes", denied)
    code, out = cli("check", path)
    assert_user_error(code, out, "source.path", "cannot read", "Permission denied", "permissions")


def test_chapter_with_no_text_points_at_the_chapter(cli, tmp_path):
    path = write_project(tmp_path, source="{path: story.txt, chapter: 1}")
    (tmp_path / "story.txt").write_text("Chapter 1\n\nChapter 2\n\nSome text.\n")
    code, out = cli("check", path)
    assert_user_error(code, out, "source.chapter: the selected text is empty")


def test_chapter_not_found_lists_chapters(cli, tmp_path):
    path = write_project(tmp_path, source="{path: story.txt, chapter: 9}")
    code, out = cli("check", path)
    assert_user_error(code, out, "chapter 9 not found", "chapters 1–2")


def test_empty_text(cli, tmp_path):
    path = write_project(tmp_path)
    (tmp_path / "story.txt").write_text("   \n\n")
    code, out = cli("check", path)
    assert_user_error(code, out, "empty")


@pytest.mark.parametrize("size, reason", [("{width: 0, height: 180}", "between 64 and 3840"), ("{width: 321, height: 180}", "even"), ("{width: 100000, height: 180}", "between 64 and 3840")])
def test_bad_resolution(cli, tmp_path, size, reason):
    path = write_project(tmp_path, format=size)
    code, out = cli("check", path)
    assert_user_error(code, out, "format.width", reason)


def test_aspect_must_match(cli, tmp_path):
    path = write_project(tmp_path, format='{width: 320, height: 180, aspect: "4:3"}')
    code, out = cli("check", path)
    assert_user_error(code, out, "aspect 4:3 does not match 320x180")


def test_output_dir_that_is_a_file(cli, tmp_path, project_file):
    blocker = tmp_path / "blocker"
    blocker.write_text("x")
    code, out = cli("check", project_file, "--out", blocker / "film")
    assert_user_error(code, out, "cannot create the output folder")


def test_bad_flags(cli, project_file, tmp_path):
    out_dir = tmp_path / "o"
    assert_user_error(*cli("make", project_file, "--out", out_dir, "--only", "paint"), "unknown stage paint", "stages are")
    assert_user_error(*cli("make", project_file, "--out", out_dir, "--shots", "1"), "--shots needs --force or --only")
    assert_user_error(*cli("make", project_file, "--out", out_dir, "--force", "images", "--shots", "3-1"), "backwards")
    assert_user_error(*cli("make", project_file, "--out", out_dir, "--only", "images", "--until", "stitch"), "cannot be combined")


def test_only_needs_upstream_results(cli, project_file, tmp_path):
    code, out = cli("make", project_file, "--out", tmp_path / "o", "--only", "stitch")
    assert_user_error(code, out, "screenplay is missing", "--out", "--until script")


def test_check_passes_on_a_good_project(cli, project_file, tmp_path):
    code, out = cli("check", project_file, "--out", tmp_path / "o")
    assert code == 0, out
    assert "ok" in out and "words of text" in out


def test_paths_resolve_relative_to_project_file(tmp_path, monkeypatch):
    from pipeline.config.project import load_project

    path = write_project(tmp_path / "deep" / "proj")
    monkeypatch.chdir(tmp_path)
    loaded = load_project(Path("deep/proj/project.yaml"))
    assert loaded.path == path.resolve()
    assert loaded.project.source.path == (tmp_path / "deep" / "proj" / "story.txt").resolve()


def test_missing_piper_voice_is_caught_before_any_work(cli, tmp_path):
    path = write_project(tmp_path, narrator_voice="voices/missing.onnx")
    code, out = cli("check", path)
    line = next(i for i, text in enumerate(path.read_text().splitlines(), 1) if text.startswith("narrator_voice"))
    assert_user_error(code, out, f"project.yaml:{line}: narrator_voice: piper voice file not found", "voices/missing")
    code, out = cli("make", path, "--out", tmp_path / "out")
    assert_user_error(code, out, "narrator_voice: piper voice file not found")
    assert not (tmp_path / "out" / "screenplay.yaml").exists(), "nothing ran"


def test_unknown_espeak_voice_of_a_character_names_the_character(cli, tmp_path):
    path = write_project(tmp_path, extra="stages:\n  narration: {backend: espeak}\n")
    text = path.read_text(encoding="utf-8").replace('in a green dress"', 'in a green dress"\n    voice: zzqq')
    path.write_text(text, encoding="utf-8")
    code, out = cli("check", path)
    assert_user_error(code, out, "characters.1.voice: unknown espeak voice 'zzqq'", "en-gb+f3")
