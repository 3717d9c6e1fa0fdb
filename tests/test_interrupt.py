"""Ctrl-C in the middle of a run, then the same command again: it finishes and reuses what was done."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from tests.conftest import write_project
from tests.film_checks import computed

pytestmark = pytest.mark.slow


def test_interrupt_then_rerun_reuses_finished_work(cli, tmp_path):
    project = write_project(tmp_path / "proj")
    out = tmp_path / "out"
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    proc = subprocess.Popen([sys.executable, "-m", "pipeline", "make", str(project), "--out", str(out)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    records = out / ".film" / "cache" / "images"
    deadline = time.time() + 120
    while time.time() < deadline and len(list(records.glob("*.json"))) < 2 and proc.poll() is None:
        time.sleep(0.2)
    assert proc.poll() is None, "the run ended before it could be interrupted:\n" + proc.stdout.read()
    done_before = {p.stem for p in records.glob("*.json")}
    proc.send_signal(signal.SIGINT)
    output, _ = proc.communicate(timeout=120)
    assert proc.returncode != 0
    assert "Traceback" not in output, output
    assert not list((out / ".film" / "cache").rglob("*.tmp-*")), "no half-written file may survive"
    code, text = cli("make", project, "--out", out)
    assert code == 0, text
    assert (out / "film.mp4").is_file()
    reused = {art["key"] for shot in __import__("json").loads((out / "manifest.json").read_text())["shots"]
              for stage, art in shot["artifacts"].items() if stage == "images" and not art["computed"]}
    assert done_before <= reused
    assert ("stitch", None) in computed(out)


def test_a_record_logged_while_an_interrupted_run_winds_down_prints_no_logging_traceback(capsys, monkeypatch):
    import logging

    import typer

    from pipeline.cli import reported_errors

    class ShutDown(logging.Handler):  # Prefect's API log handler once the interpreter is exiting
        def emit(self, record):
            try:
                raise RuntimeError("can't register atexit after shutdown")
            except RuntimeError:
                self.handleError(record)

    monkeypatch.setattr(logging, "raiseExceptions", True)
    late = logging.getLogger("film-test-late-task")
    late.addHandler(ShutDown())
    late.propagate = False
    with pytest.raises(typer.Exit) as exited:
        with reported_errors(debug=False):
            raise KeyboardInterrupt
    late.error("Finished in state Completed()")
    err = capsys.readouterr().err
    assert exited.value.exit_code == 130 and "interrupted" in err and "Logging error" not in err
