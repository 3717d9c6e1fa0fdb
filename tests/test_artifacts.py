"""Prefect artifacts of a run: published on a real (ephemeral) Prefect from a short film made in-process."""
from __future__ import annotations

import base64
import io
import json
import time
from pathlib import Path

import pytest

from tests.conftest import write_project

pytestmark = pytest.mark.slow


def make(*args) -> None:
    from typer.testing import CliRunner

    from pipeline.cli import app

    result = CliRunner().invoke(app, [str(a) for a in args])
    assert result.exit_code == 0, result.output


@pytest.fixture(scope="module")
def film(tmp_path_factory):
    """A short film made once by the CLI (a real flow run) for the tests of this module."""
    root = tmp_path_factory.mktemp("artifacts")
    project = write_project(root / "proj", name="Short_Film.v2")
    make("make", project, "--out", root / "out")
    return project, root / "out"


def publish(project: Path, out: Path, until: str | None = None, change=None):
    """Outcomes of a cached run (``change`` may edit them), its summary, and the artifacts published from them."""
    from prefect import flow
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId
    from prefect.context import get_run_context

    from pipeline.prefect.artifacts import publish_artifacts
    from pipeline.api import cached_outcomes
    from pipeline.run.context import open_context
    from pipeline.outputs.finish import finish_run
    from pipeline.plan.selection import make_selection

    ctx = open_context(project, out)
    outcomes = cached_outcomes(ctx, make_selection(None, None, None, until))
    assert outcomes is not None
    if change:
        change(ctx, outcomes)

    @flow(name="artifacts-test", persist_result=False)
    def tiny():
        summary = finish_run(ctx, outcomes, time.perf_counter())
        publish_artifacts(ctx, outcomes, summary)
        return summary, get_run_context().flow_run.id

    summary, run_id = tiny()
    with get_client(sync_client=True) as client:
        found = client.read_artifacts(artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[run_id])))
    return ctx, outcomes, summary, {a.key: a for a in found}


def versions(key: str) -> list:
    """Every version of the artifact ``key``, newest first."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey
    from prefect.client.schemas.sorting import ArtifactSort

    with get_client(sync_client=True) as client:
        return client.read_artifacts(artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=[key])),
                                     sort=ArtifactSort.CREATED_DESC)


def table(artifact) -> list[dict]:
    assert artifact.type == "table"
    return json.loads(artifact.data) if isinstance(artifact.data, str) else artifact.data


def redraw_images(ctx, outcomes):
    """Recompute every still, so the ledger has computed jobs with real work seconds."""
    from pipeline.run.jobs import image_job, run_job

    for shot in ctx.shots():
        outcomes[("images", shot.shot)] = run_job(ctx, image_job(ctx, shot), force=True)


def test_keys_are_valid_and_stable():
    from pipeline.prefect.artifacts import artifact_key

    assert artifact_key("Short_Film.v2", "contact-sheet") == "film-short-film-v2-contact-sheet"
    assert artifact_key("a--B", "ledger") == "film-a-b-ledger"


def test_a_finished_film_publishes_every_artifact(film):
    project, out = film
    ctx, outcomes, summary, found = publish(project, out, change=redraw_images)
    prefix = "film-short-film-v2-"
    # the sheet is published only when it differs from the key's latest version (test below)
    assert set(found) - {prefix + "contact-sheet"} == {prefix + k for k in ("screenplay", "ledger", "film", "summary")}

    rows = table(found[prefix + "screenplay"])
    shots = ctx.shots()
    assert [r["shot"] for r in rows] == [s.shot for s in shots]
    assert list(rows[0]) == ["shot", "scene", "speaker", "narration", "image prompt", "duration (s)", "characters",
                             "status"]
    for row, shot in zip(rows, shots):
        assert row["narration"] == shot.narration and row["image prompt"] == shot.image_prompt
        assert row["speaker"] == shot.speaker and row["characters"] == ", ".join(shot.characters)
        voice = outcomes[("narration", shot.shot)].record.duration
        assert row["duration (s)"] == pytest.approx(voice, abs=0.01) and row["duration (s)"] > 0
        assert row["status"] == "computed"  # its still was redrawn
    scenes = {shot.shot: scene.scene for scene in ctx.screenplay.scenes for shot in scene.shots}
    assert all(row["scene"] == scenes[row["shot"]] for row in rows)

    sheet = versions(prefix + "contact-sheet")[0]
    assert sheet.type == "markdown" and len(sheet.data) < 1_000_000
    head, _, rest = sheet.data.partition("![contact sheet](data:image/jpeg;base64,")
    assert rest, sheet.data[:300]
    from PIL import Image

    with Image.open(io.BytesIO(base64.b64decode(rest.split(")", 1)[0]))) as thumb:
        assert thumb.format == "JPEG" and 0 < thumb.width <= 1200
    assert (out / "contact_sheet.png").resolve().as_uri() in sheet.data

    ledger = table(found[prefix + "ledger"])
    by_stage = {r["stage"]: r for r in ledger}
    assert list(by_stage) == ["script", "images", "animation", "narration", "stitch", "total"]
    total = by_stage["total"]
    assert total["jobs computed"] == summary.computed == len(shots)
    assert total["jobs cached"] + total["jobs refused"] == summary.cached and total["jobs refused"] == 0
    assert by_stage["images"]["jobs computed"] == len(shots) and by_stage["images"]["work seconds"] > 0
    assert total["work seconds"] == pytest.approx(sum(summary.stage_work_seconds.values()), abs=0.01)
    assert total["spend USD"] == summary.spend.total_usd == 0

    link = found[prefix + "film"]
    assert link.type == "markdown"  # Prefect keeps a link artifact as a markdown link
    assert link.data == f"[film.mp4 ({summary.film_seconds:.1f} s)]({(out / 'film.mp4').resolve().as_uri()})"

    text = found[prefix + "summary"].data
    assert "## Outputs" in text and "film.mp4" in text and "contact_sheet.png" in text and "Refused" not in text


def test_a_refused_shot_is_listed_with_its_fix(film):
    project, out = film
    from pipeline.run.jobs import Outcome

    def refuse(ctx, outcomes):
        n = ctx.shots()[1].shot
        outcomes[("images", n)] = Outcome.refusal("images", n, "the provider refused the prompt")
        outcomes[("animation", n)] = Outcome.refusal("animation", n, "skipped: images was refused")

    ctx, outcomes, summary, found = publish(project, out, change=refuse)
    prefix = "film-short-film-v2-"
    n = ctx.shots()[1].shot
    rows = {r["shot"]: r for r in table(found[prefix + "screenplay"])}
    assert rows[n]["status"] == "refused: images: the provider refused the prompt"
    assert rows[n]["duration (s)"] > 0  # its narration was made
    assert all(r["status"] == "cached" for shot, r in rows.items() if shot != n)
    total = table(found[prefix + "ledger"])[-1]
    assert total["jobs refused"] == 2 and total["jobs computed"] == 0
    assert total["jobs cached"] + total["jobs refused"] == summary.cached == len(outcomes)
    text = found[prefix + "summary"].data
    assert "## Refused shots" in text and "the provider refused the prompt" in text
    assert f"edit shot {n}" in text and "screenplay.yaml" in text


def test_a_storyboard_run_has_no_film_link(tmp_path):
    project = write_project(tmp_path / "proj")
    make("make", project, "--out", tmp_path / "out", "--until", "images")
    ctx, outcomes, summary, found = publish(project, tmp_path / "out", until="images")
    assert set(found) == {f"film-short-{k}" for k in ("screenplay", "ledger", "summary")}  # the sheet is unchanged
    rows = table(found["film-short-screenplay"])
    assert len(rows) == len(ctx.shots())
    assert all(r["duration (s)"] is None and r["status"] == "cached" for r in rows)
    assert [r["stage"] for r in table(found["film-short-ledger"])] == ["script", "images", "total"]
    assert "film: not made in this run" in found["film-short-summary"].data


def test_an_unchanged_contact_sheet_gets_no_new_version(film):
    """Each run would otherwise store another copy of the same ~250 KB data URI (a long film's sheet)."""
    from pipeline.run.jobs import Outcome

    project, out = film
    key = "film-short-film-v2-contact-sheet"
    publish(project, out)  # whichever sheet the tests before left as the latest, now it is this film's
    before = versions(key)
    for _ in range(3):
        assert key not in publish(project, out)[3]  # cached runs: the same stills, the same sheet
    assert [v.id for v in versions(key)] == [v.id for v in before]
    assert "(sheet " in before[0].description  # the digest the next run compares its sheet's with

    def refuse_first(ctx, outcomes):
        n = ctx.shots()[0].shot
        outcomes[("images", n)] = Outcome.refusal("images", n, "refused")

    assert key in publish(project, out, change=refuse_first)[3]  # a sheet without shot 1: a new version
    assert key in publish(project, out)[3]  # and back: the latest no longer shows this sheet
    assert len(versions(key)) == len(before) + 2


def test_outside_a_flow_run_nothing_is_published(film):
    from pipeline.prefect.artifacts import publish_artifacts
    from pipeline.run.context import open_context

    project, out = film
    publish_artifacts(open_context(project, out), {}, {})  # no run context: a no-op, not an error


def test_a_big_sheet_is_shrunk_to_fit(tmp_path):
    from PIL import Image

    from pipeline.prefect.artifacts import sheet_data_uri

    Image.effect_noise((1600, 1200), 80).convert("RGB").save(tmp_path / "sheet.png")
    assert len(sheet_data_uri(tmp_path / "sheet.png", limit=10**9)) > 100_000  # too big as it is
    uri = sheet_data_uri(tmp_path / "sheet.png", limit=100_000)
    assert uri.startswith("data:image/jpeg;base64,") and len(uri) <= 100_000
