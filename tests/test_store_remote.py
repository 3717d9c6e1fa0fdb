"""The artifact store at an fsspec URL: s3:// on a local moto S3 server, through the real s3fs/aiobotocore.

Each process mirrors what it touches; the bucket is what workers share. A film made by Dask workers into the
bucket is remade from a fresh out folder (another machine) without computing anything.
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from pipeline.errors import RuntimeFailure, UserError
from pipeline.store.remote import RemoteStore
from pipeline.store import Store
from tests.conftest import write_project
from tests.prefect_server import free_port

BUCKET = "film-test"


@pytest.fixture(scope="module")
def s3(tmp_path_factory):
    """A moto S3 server on a free loopback port; yields its endpoint URL."""
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


@pytest.fixture
def bucket(s3, monkeypatch):
    """A fresh, empty bucket on the fake S3 (credentials from the environment, as for a user)."""
    for name, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                        "AWS_DEFAULT_REGION": "us-east-1"}.items():
        monkeypatch.setenv(name, value)
    import boto3

    client = boto3.client("s3", endpoint_url=s3, region_name="us-east-1")
    client.create_bucket(Bucket=BUCKET)
    yield client
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=BUCKET):
        for item in page.get("Contents", []):
            client.delete_object(Bucket=BUCKET, Key=item["Key"])
    client.delete_bucket(Bucket=BUCKET)


def keys(client, prefix: str = "") -> set[str]:
    """Every object key in the test bucket under ``prefix``."""
    found = set()
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=prefix):
        found |= {item["Key"] for item in page.get("Contents", [])}
    return found


def remote(s3, prefix: str = "films") -> RemoteStore:
    return RemoteStore(f"s3://{BUCKET}/{prefix}", {"endpoint_url": s3, "skip_instance_cache": True})


def make_still(store: Store, key: str, data: bytes = b"a still") -> dict:
    def write(paths):
        paths["main"].write_bytes(data)
        return {"size": len(data)}

    return store.produce("images", key, {"main": ".png"}, write)


def test_made_here_goes_up_files_first_and_comes_down_elsewhere_when_used(s3, bucket, tmp_path):
    here = Store(tmp_path / "here", remote(s3))
    record = make_still(here, "k1")
    assert keys(bucket) == {"films/images/k1.png", "films/images/k1.json"}
    assert json.loads(bucket.get_object(Bucket=BUCKET, Key="films/images/k1.json")["Body"].read()) == record.as_json()

    elsewhere = Store(tmp_path / "elsewhere", remote(s3))
    found = elsewhere.load("images", "k1")
    assert found == record
    assert not (tmp_path / "elsewhere" / "images" / "k1.png").exists()  # nothing downloaded until used
    assert elsewhere.path_of(found).read_bytes() == b"a still"
    assert elsewhere.load("images", "k1") == record  # now a complete local copy, with its record
    assert (tmp_path / "elsewhere" / "images" / "k1.pushed").read_text() == f"s3://{BUCKET}/films"
    assert elsewhere.load("images", "nope") is None
    (tmp_path / "elsewhere" / "images" / "k1.png").unlink()  # a mirror cleared by hand: the store still has it
    again = Store(tmp_path / "elsewhere", remote(s3))
    assert again.load("images", "k1") == record and again.path_of(record).read_bytes() == b"a still"


def test_a_new_store_url_gets_what_was_made_before(s3, bucket, tmp_path):
    record = make_still(Store(tmp_path / "here", remote(s3, "old")), "k6")
    moved = Store(tmp_path / "here", remote(s3, "new"))
    assert moved.load("images", "k6") == record
    assert keys(bucket, "new/") == {"new/images/k6.png", "new/images/k6.json"}


def test_a_damaged_upload_is_refused_and_leaves_nothing_behind(s3, bucket, tmp_path):
    record = make_still(Store(tmp_path / "here", remote(s3)), "k2")
    bucket.put_object(Bucket=BUCKET, Key="films/images/k2.png", Body=b"a sti")  # cut short
    elsewhere = Store(tmp_path / "elsewhere", remote(s3))
    with pytest.raises(RuntimeFailure, match=r"s3://film-test/films/images/k2.png does not match its record"):
        elsewhere.path_of(elsewhere.load("images", "k2"))
    assert not (tmp_path / "elsewhere" / "images" / "k2.png").exists()
    assert not list((tmp_path / "elsewhere").rglob("*.tmp-*"))
    bucket.delete_object(Bucket=BUCKET, Key="films/images/k2.png")
    with pytest.raises(RuntimeFailure, match="gone from the store though its record is there") as info:
        elsewhere.path_of(record)
    assert "--force" in info.value.hint


def test_an_upload_cut_short_is_finished_by_the_next_load(s3, bucket, tmp_path, monkeypatch):
    store = Store(tmp_path / "here", remote(s3))
    real_upload = store.remote.upload

    def network_down(local, rel):
        raise RuntimeFailure("store: cannot upload (network down)")

    monkeypatch.setattr(store.remote, "upload", network_down)
    with pytest.raises(RuntimeFailure):
        make_still(store, "k3")
    assert keys(bucket) == set()
    monkeypatch.setattr(store.remote, "upload", real_upload)
    record = store.load("images", "k3")  # the still made here was kept; it goes up now
    assert record is not None and keys(bucket) == {"films/images/k3.png", "films/images/k3.json"}
    assert (tmp_path / "here" / "images" / "k3.pushed").is_file()


def test_a_provider_journal_is_shared_until_the_result_is_stored(s3, bucket, tmp_path):
    here = Store(tmp_path / "here", remote(s3))
    journal = here.journal("animation", "k4")
    journal.parent.mkdir(parents=True)
    journal.write_text('{"generation": "gen-123"}')
    here.journal_saved(journal)
    assert keys(bucket) == {"films/animation/k4.journal.json"}

    elsewhere = Store(tmp_path / "elsewhere", remote(s3))
    assert json.loads(elsewhere.journal("animation", "k4").read_text()) == {"generation": "gen-123"}
    elsewhere.drop_journal("animation", "k4")
    assert keys(bucket) == set() and not (tmp_path / "elsewhere" / "animation" / "k4.journal.json").exists()


def test_store_mistakes_are_user_errors_with_the_fix(s3, bucket, tmp_path):
    missing = Store(tmp_path / "m", RemoteStore("s3://no-such-bucket/films", {"endpoint_url": s3}))
    with pytest.raises(UserError, match="no-such-bucket/films/images/k5.png: the bucket or folder does not exist"):
        make_still(missing, "k5")
    with pytest.raises(UserError, match="store: nosuch://x") as info:
        RemoteStore("nosuch://x", {})
    assert "fsspec URL" in info.value.hint


def test_film_check_reaches_the_store_before_any_work(cli, s3, bucket, tmp_path):
    options = f"options: {{endpoint_url: '{s3}'}}"
    project = write_project(tmp_path / "proj", f"store: {{url: s3://{BUCKET}/films, {options}}}\n")
    code, out = cli("check", project, "--out", tmp_path / "out")
    out = " ".join(out.split())
    assert code == 0 and f"artifact store s3://{BUCKET}/films" in out, out
    project = write_project(tmp_path / "proj", f"store: {{url: s3://no-such-bucket/films, {options}}}\n")
    code, out = cli("make", project, "--out", tmp_path / "out")
    out = " ".join(out.split())
    assert code == 2 and "store: cannot reach s3://no-such-bucket/films: the bucket or folder does not exist" in out, out
    assert not (tmp_path / "out" / "screenplay.yaml").exists() and keys(bucket) == set()  # the probe was removed


def test_a_folder_store_is_shared_by_two_output_folders(cli, tmp_path):
    project = write_project(tmp_path / "proj", "store: ../shared-store\n")
    code, out = cli("make", project, "--out", tmp_path / "one", "--until", "images")
    assert code == 0, out
    stills = sorted((tmp_path / "shared-store" / "images").glob("*.png"))
    assert stills and not (tmp_path / "one" / ".film" / "cache").exists()
    code, out = cli("make", project, "--out", tmp_path / "two", "--until", "images")
    assert code == 0, out
    manifest = json.loads((tmp_path / "two" / "manifest.json").read_text())
    assert manifest["summary"]["computed"] == 0
    paths = sorted(Path(shot["artifacts"]["images"]["path"]) for shot in manifest["shots"])
    assert paths == stills  # outside the out folder, so shown whole


def test_credentials_in_the_project_file_are_refused(cli, tmp_path):
    options = "{region_name: eu, secret: abc, client_kwargs: {aws_secret_access_key: def}}"
    project = write_project(tmp_path / "proj", f"store: {{url: s3://b/f, options: {options}}}\n")
    code, out = cli("check", project)
    out = " ".join(out.split())
    assert code == 2 and "store.options" in out and "come from the environment" in out, out
    assert "client_kwargs.aws_secret_access_key, secret:" in out and "abc" not in out and "def" not in out
    project = write_project(tmp_path / "proj", "store: sftp://me:hunter2@films.example/store\n")
    code, out = cli("check", project)
    assert code == 2 and "holds a password" in out and "hunter2" not in out, out


def test_a_shared_folder_store_sweeps_only_old_temporaries(tmp_path):
    import os
    import time

    from pipeline.store.local import SHARED_TEMP_AGE_S

    (tmp_path / "images").mkdir()
    fresh, old = tmp_path / "images" / "a.tmp-1.png", tmp_path / "images" / "b.tmp-2.png"
    fresh.write_bytes(b"another run is writing this")
    old.write_bytes(b"left by a crash")
    os.utime(old, (time.time() - SHARED_TEMP_AGE_S - 60,) * 2)
    assert Store(tmp_path, shared=True).sweep_temporaries() == 1
    assert fresh.exists() and not old.exists()
    assert Store(tmp_path).sweep_temporaries() == 1 and not fresh.exists()  # a private store: every one


@pytest.mark.slow
def test_dask_workers_fill_the_bucket_and_another_machine_reuses_it(cli, s3, bucket, tmp_path):
    store = f"store: {{url: s3://{BUCKET}/films, options: {{endpoint_url: '{s3}'}}}}\n"
    project = write_project(tmp_path / "proj", store + "runner: {kind: dask, workers: 2}\n")
    code, out = cli("make", project, "--out", tmp_path / "one")
    assert code == 0, out
    made = json.loads((tmp_path / "one" / "manifest.json").read_text())
    shots = [shot["shot"] for shot in made["shots"]]
    stored = keys(bucket, "films/")
    for shot in made["shots"]:
        for stage, artifact in shot["artifacts"].items():
            assert f"films/{stage}/{artifact['key']}.json" in stored, (stage, shot["shot"])
    assert f"films/stitch/{made['stitch']['key']}.json" in stored
    assert any(key.startswith("films/screenplays/") for key in stored)  # what the workers read their shots from

    code, out = cli("make", project, "--out", tmp_path / "two", "--runner", "threads")  # a fresh machine
    assert code == 0, out
    again = json.loads((tmp_path / "two" / "manifest.json").read_text())
    assert again["summary"]["computed"] == 0 and [shot["shot"] for shot in again["shots"]] == shots
    assert again["stitch"]["digest"] == made["stitch"]["digest"]
    assert (tmp_path / "two" / "film.mp4").read_bytes() == (tmp_path / "one" / "film.mp4").read_bytes()
    mirror = tmp_path / "two" / ".film" / "cache"
    # the film came from the store; its clips came down too, once, for the editor's timeline (media/, film.otio)
    assert len(list((mirror / "animation").glob("*.mp4"))) == len(shots)
    assert len(list((tmp_path / "two" / "media").glob("shot-*.mp4"))) == len(shots)
    assert len(list((mirror / "images").glob("*.png"))) == len(shots)  # the contact sheet needed the stills

    code, out = cli("make", project, "--out", tmp_path / "three", "--force", "stitch")  # a third machine re-cuts
    assert code == 0, out
    cut = json.loads((tmp_path / "three" / "manifest.json").read_text())
    assert cut["summary"]["computed"] == 1 and cut["stitch"]["computed"]
    assert (tmp_path / "three" / "film.mp4").read_bytes() == (tmp_path / "one" / "film.mp4").read_bytes()
    assert len(list((tmp_path / "three" / ".film" / "cache" / "animation").glob("*.mp4"))) == len(shots)
