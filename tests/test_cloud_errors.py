"""What every cloud backend does with a provider's errors: classified, redacted, and never chained to an SDK
exception that may quote the key."""
from __future__ import annotations

import json
import traceback

import pytest

from stages.cloud.http import from_exception, redact, retry_after
from stages.errors import AuthError, TransientError
from stages.images.ideogram import IdeogramImages
from tests.conftest import write_project

KEY = "IDEO-SECRET-7777"


def test_an_sdk_error_quoting_the_key_leaves_no_trace_of_it(monkeypatch):
    monkeypatch.setenv("IDEOGRAM_API_KEY", KEY)
    backend = IdeogramImages(IdeogramImages.Options())
    with pytest.raises(AuthError) as caught:
        with backend.talking("still"):
            error = RuntimeError(f"401 Unauthorized: incorrect API key provided: {KEY}")
            error.status_code = 401
            raise error
    printed = "".join(traceback.format_exception(caught.value))  # what Prefect's log and --debug print
    assert KEY not in printed and KEY not in str(caught.value), printed
    assert "IDEOGRAM_API_KEY" in caught.value.hint


def test_a_url_with_credentials_is_redacted_in_messages():
    assert redact("500 for url: http://user:IDEO-SECRET-7777@127.0.0.1:8/v1") == "500 for url: http://***@127.0.0.1:8/v1"


def test_a_base_url_holding_a_password_is_refused_up_front(cli, tmp_path):
    stages = '{images: {backend: ideogram, options: {base_url: "http://user:IDEO-SECRET-7777@127.0.0.1:9/x"}}}'
    project = write_project(tmp_path / "proj", stages=stages)
    code, text = cli("check", project)
    flat = " ".join(text.split())
    assert code == 2 and "stages.images.options.base_url" in flat and "password" in flat, text
    assert "IDEO-SECRET-7777" not in text


@pytest.mark.parametrize("value, expected", [("3", 3.0), ("5s", None), ("garbage", None), ("", None),
                                             ("Wed, 21 Oct 2015 07:28:00 GMT", 0.0)])
def test_retry_after_takes_seconds_or_a_date_and_ignores_the_rest(value, expected):
    assert retry_after({"Retry-After": value}) == expected


def test_an_unreadable_answer_is_transient_and_not_called_a_network_fault():
    try:
        json.loads("<html>502</html>")
    except ValueError as exc:
        error = from_exception(exc, "luma", "LUMAAI_API_KEY", "shot 2 clip")
    assert isinstance(error, TransientError)
    assert "unreadable" in str(error) and "network" not in str(error)


@pytest.mark.parametrize("options", ['{api_key: "IDEO-SECRET-7777"}', '{headers: {Api-Key: "IDEO-SECRET-7777"}}'])
def test_a_key_in_a_stages_options_is_refused_naming_its_variable(cli, tmp_path, options):
    project = write_project(tmp_path / "proj", stages=f"{{images: {{backend: ideogram, options: {options}}}}}")
    code, text = cli("check", project)
    flat = " ".join(text.split())
    assert code == 2 and "credentials come from the environment" in flat and "IDEOGRAM_API_KEY" in flat, text
    assert "IDEO-SECRET-7777" not in text


def test_an_option_that_only_sounds_like_a_key_is_kept(tmp_path):
    from pipeline.config.project import load_project

    stages = '{script: {backend: anthropic, options: {max_tokens: 4000}}}'
    loaded = load_project(write_project(tmp_path / "proj", stages=stages))
    assert loaded.backends["script"].options.max_tokens == 4000
