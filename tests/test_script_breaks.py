"""A screenplay a writer's own models refuse is a clear error naming the shot and its text, never a traceback."""
from __future__ import annotations

import pytest

from stages.script.checked import InvalidScreenplay, new_shot
from tests.conftest import write_project
from tests.test_plugins import register

# --- a screenplay its models refuse ------------------------------------------------------------


def test_a_refused_shot_names_its_number_field_text_and_paragraph():
    paragraph = "* * * * *"
    with pytest.raises(InvalidScreenplay) as caught:
        new_shot(paragraph, shot=212, narration=paragraph, image_prompt="a row of asterisks")
    message = str(caught.value)
    assert "shot 212" in message and "narration '* * * * *'" in message and "has no word" in message
    assert "from the paragraph '* * * * *'" in message
    assert "report" in caught.value.hint and "start/" in caught.value.hint and "by hand" in caught.value.hint


@pytest.mark.parametrize(("writer", "named"), [("refused", "a Shot that its screenplay model refuses: narration "
                                                           "'* * * * *'"),
                                               ("unchecked", "shot 2 that its screenplay model refuses: narration "
                                                             "\"'\"")])
def test_a_writer_whose_screenplay_is_refused_fails_with_a_clear_error(cli, monkeypatch, tmp_path, writer, named):
    register(monkeypatch, {"script.refused": "tests.plugin_backend:RefusedShotWriter",
                           "script.unchecked": "tests.plugin_backend:UncheckedShotWriter"})
    project = write_project(tmp_path / "proj", stages=f"{{script: {{backend: {writer}}}}}")
    code, out = cli("make", project, "--out", tmp_path / "out", "--until", "script")
    flat = " ".join(out.split())
    assert code == 1, out
    assert named in flat and "fix: this is a bug of the screenwriter" in flat, out
    assert "ValidationError" not in flat and "pydantic" not in flat and "Traceback" not in flat, out
    assert not (tmp_path / "out" / "screenplay.yaml").exists()
