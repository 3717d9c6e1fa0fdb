"""YAML files: syntax errors, repeated keys and validation errors point at the right line and field."""
from __future__ import annotations

import pytest

from pipeline.errors import UserError
from pipeline.config.yamlfile import YamlDocument
from stages.contracts import Screenplay


def test_an_unclosed_bracket_names_the_line_it_opens_on(tmp_path):
    text = "name: tiny\nsource:\n  path: story.txt\nformat: {width: 320, height: 180\nseed: 1\n"
    with pytest.raises(UserError) as caught:
        YamlDocument(tmp_path / "p.yaml", text)
    assert "p.yaml:5: YAML syntax error" in caught.value.args[0]
    assert "flow mapping that starts at line 4" in caught.value.args[0]


def test_a_key_given_twice_is_an_error(tmp_path):
    text = "name: tiny\nseed: 1\nformat:\n  width: 320\n  width: 640\n"
    with pytest.raises(UserError) as caught:
        YamlDocument(tmp_path / "p.yaml", text)
    assert "p.yaml:5: width: given twice (also on line 4)" in caught.value.args[0]


def test_a_scene_whose_only_shot_is_invalid_gets_one_error(tmp_path):
    text = "title: t\nscenes:\n  - scene: 1\n    shots:\n      - shot: two\n        narration: a\n        image_prompt: b\n"
    with pytest.raises(UserError) as caught:
        YamlDocument(tmp_path / "screenplay.yaml", text).validate(Screenplay, "fix it")
    message = caught.value.args[0]
    assert "screenplay.yaml:5: scenes.0.shots.0.shot: Input should be a valid integer" in message
    assert "at least 1 item" not in message and len(message.splitlines()) == 1, message
