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


def _made(store: Store, key: str, text: str = "hello world"):
    return store.produce("stage", key, {"main": ".txt"}, lambda p: p["main"].write_text(text) and {})


def test_a_record_knows_its_sizes_and_a_cut_file_is_damaged_not_cached(tmp_path):
    store = Store(tmp_path)
    record = _made(store, "k4")
    assert record.sizes == {"main": 11}
    store.path_of(record).write_text("hello")  # cut short after it was made
    assert store.load("stage", "k4") is None
    found, damage = store.inspect("stage", "k4")
    assert found is None and damage.file == "stage/k4.txt" and "5 bytes" in damage.problem
    store.path_of(record).unlink()
    assert store.inspect("stage", "k4")[1].problem == "missing"


def test_a_record_of_an_older_version_is_checked_by_existence_and_gets_sizes_when_verified(tmp_path):
    from pipeline.store.verify import damage_of

    store = Store(tmp_path)
    record = _made(store, "k5")
    old = record.as_json()
    del old["sizes"]  # as film wrote records before they kept sizes
    store.record_path("stage", "k5").write_text(json.dumps(old))
    loaded = store.load("stage", "k5")
    assert loaded is not None and loaded.sizes == {} and loaded.key == "k5"
    assert damage_of(tmp_path, loaded, full=True) is None
    store.remember_sizes(loaded)
    assert json.loads(store.record_path("stage", "k5").read_text())["sizes"] == {"main": 11}
    store.path_of(loaded).write_text("hello there")  # the same size, other bytes: only a full check sees it
    assert store.load("stage", "k5") is not None
    assert "digest" in damage_of(tmp_path, store.load("stage", "k5"), full=True).problem


def test_collect_keeps_what_is_listed_journals_temporaries_and_unnamed_folders(tmp_path):
    from pipeline.store.gc import collect

    store = Store(tmp_path)
    kept, gone = _made(store, "aaaa"), _made(store, "bbbb", "an older result")
    (tmp_path / "stage" / "bbbb.journal.json").write_text("{}")  # a paid job's journal: never collected
    (tmp_path / "stage" / "cccc.tmp-1234.txt").write_text("a run writes this")
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "dddd.txt").write_text("not a folder we were told of")
    size = sum(p.stat().st_size for p in (tmp_path / "stage").glob("bbbb.*") if "journal" not in p.name)
    dry = collect(tmp_path, {"stage": {"aaaa"}}, None, dry_run=True)
    assert (dry.artifacts, dry.files, dry.bytes) == (1, 2, size) and store.load("stage", "bbbb") is not None
    done = collect(tmp_path, {"stage": {"aaaa"}}, None, dry_run=False)
    assert done == dry
    assert store.load("stage", "bbbb") is None and store.load("stage", "aaaa") == kept
    assert sorted(p.name for p in tmp_path.rglob("*") if p.is_file()) == [
        "aaaa.json", "aaaa.txt", "bbbb.journal.json", "cccc.tmp-1234.txt", "dddd.txt"]
    assert gone.key == "bbbb"
