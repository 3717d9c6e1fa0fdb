"""The artifact store: stable keys, atomic writes, nothing half-written after a failure."""
from __future__ import annotations

import json
import os

import pytest
from pathlib import Path

from pipeline.store import Store, digest
from stages.files import publish, write_json_atomic


def test_digest_is_stable_and_order_free():
    assert digest({"a": 1, "b": [1, 2]}) == digest({"b": [1, 2], "a": 1})
    assert digest({"a": 1}) != digest({"a": 2})


def test_produce_then_load(tmp_path):
    store = Store(tmp_path)

    def make(paths):
        paths["main"].write_text("hello")
        paths["srt"].write_text("subs")
        return {"n": 1}

    record = store.produce("stage", "k1", {"main": ".txt", "srt": ".srt"}, make)
    assert store.path_of(record).read_text() == "hello"
    assert store.path_of(record, "srt").read_text() == "subs"
    again = store.load("stage", "k1")
    assert again.result == {"n": 1} and again.digest == record.digest
    assert sorted(p.name for p in (tmp_path / "stage").iterdir()) == ["k1.json", "k1.srt.srt", "k1.txt"]


def test_failed_make_leaves_nothing(tmp_path):
    store = Store(tmp_path)

    def make(paths):
        paths["main"].write_text("half")
        raise RuntimeError("crash mid-write")

    with pytest.raises(RuntimeError):
        store.produce("stage", "k2", {"main": ".bin"}, make)
    assert store.load("stage", "k2") is None
    assert list((tmp_path / "stage").iterdir()) == []


def test_record_without_its_file_is_not_cached(tmp_path):
    store = Store(tmp_path)
    record = store.produce("stage", "k3", {"main": ".txt"}, lambda p: p["main"].write_text("x") and {})
    store.path_of(record).unlink()
    assert store.load("stage", "k3") is None


def test_sweep_removes_leftover_temporaries(tmp_path):
    (tmp_path / "images").mkdir()
    (tmp_path / "images" / "abc.tmp-1234.png").write_bytes(b"partial")
    (tmp_path / "images" / "abc.png").write_bytes(b"done")
    assert Store(tmp_path).sweep_temporaries() == 1
    assert [p.name for p in (tmp_path / "images").iterdir()] == ["abc.png"]


def test_sweep_finds_what_a_killed_stitch_and_publish_leave(tmp_path):
    """The stitch's work folder and segment part-files, and a half-published film in the out folder."""
    from stages.stitch.cache import write_atomically

    store, out = tmp_path / "out" / ".film" / "cache", tmp_path / "out"
    segments = store / "stitch-segments"
    segments.mkdir(parents=True)

    def killed(path):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):  # write_atomically removes its own temp when it can ...
        write_atomically(segments / "abc.mp4", lambda path: (Path(path).write_bytes(b"x"), killed(path)))
    left = segments / ".abc.tmp-12345678.mp4"  # ... a SIGKILL leaves one named like this
    left.write_bytes(b"partial")
    (store / "stitch" / ".stitch.tmp-x1").mkdir(parents=True)
    (store / "stitch" / ".stitch.tmp-x1" / "segments.txt").write_text("file 'a.mp4'\n")
    (out / "film.tmp-0a1b2c3d.mp4").write_bytes(b"half")
    (out / "film.mp4").write_bytes(b"whole")
    assert Store(store).sweep_temporaries(out, out / ".film") == 3
    assert sorted(p.name for p in out.rglob("*") if p.is_file()) == ["film.mp4"]


def test_atomic_json_and_publish(tmp_path):
    target = tmp_path / "m.json"
    write_json_atomic(target, {"x": 1})
    assert json.loads(target.read_text()) == {"x": 1}
    src = tmp_path / "src.bin"
    src.write_bytes(b"film")
    publish(src, tmp_path / "film.mp4")
    publish(src, tmp_path / "film.mp4")  # replacing an existing output works too
    assert (tmp_path / "film.mp4").read_bytes() == b"film"
    assert not list(tmp_path.glob("*.tmp-*"))


def test_published_outputs_are_copies_that_follow_their_source(tmp_path):
    """The out folder's film.srt is a copy (an in-place edit of it leaves the cache alone) and is replaced
    whenever the cached file behind it changes, even by one of the same size and an older date."""
    from pipeline.outputs.published import publish_if_changed

    out = tmp_path / "out"
    old, new, target = tmp_path / "old.srt", tmp_path / "new.srt", tmp_path / "out" / "film.srt"
    old.write_text("slow and white")
    new.write_text("slow and black")
    os.utime(old, (1_000_000, 1_000_000))  # the earlier film: older and the same size
    target.parent.mkdir()
    publish_if_changed(out, new, target)
    assert target.read_text() == "slow and black" and target.stat().st_ino != new.stat().st_ino
    target.write_text("my own fix")  # edited in place: the cache is untouched
    assert new.read_text() == "slow and black"
    publish_if_changed(out, new, target)
    assert target.read_text() == "slow and black"
    publish_if_changed(out, old, target)  # back to the earlier screenplay's stitch
    assert target.read_text() == "slow and white"
    stamp = target.stat().st_mtime_ns
    publish_if_changed(out, old, target)  # nothing changed: not copied again
    assert target.stat().st_mtime_ns == stamp
    old.write_text("slow and green")  # the same cache file remade (--force stitch)
    publish_if_changed(out, old, target)
    assert target.read_text() == "slow and green"
