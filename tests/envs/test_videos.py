"""Video sources: split disjointness, the built-in generator, DAVIS and folder layouts."""
from __future__ import annotations

import json

import numpy as np
import pytest

from laom_core.cli import main as cli_main
from laom_core.envs import builtin_clips
from laom_core.envs.videos import (
    DAVIS17_TRAIN,
    DAVIS17_VAL,
    BuiltinSource,
    DavisSource,
    FolderSource,
    resolve_video_source,
)
from laom_core.errors import EnvError

from frame_folders import write_frame_folder

SMALL = dict(num_train=3, num_eval=3, size=16, num_frames=4)


def _names(source, split):
    return [c.name for c in source.clips(split)]


def test_builtin_is_deterministic_cached_and_splits_are_disjoint(tmp_path, monkeypatch):
    a = BuiltinSource(tmp_path / "a", **SMALL)
    b = BuiltinSource(tmp_path / "b", families=builtin_clips.FAMILIES, **SMALL)
    assert set(_names(a, "train")).isdisjoint(_names(a, "eval"))
    assert len(a.missing()) == 6
    calls = []
    assert a.generate_all(progress=lambda done, total: calls.append((done, total))) == 6
    assert calls[-1] == (6, 6) and a.missing() == []
    clips_a = {c.name: c.frames for split in ("train", "eval") for c in a.clips(split)}
    clips_b = {c.name: c.frames for c in b.clips("eval")}  # one of each family, regenerated
    assert {s.family for s in b.specs if s.split == "eval"} == {"shapes", "bodies", "waves"}
    for name, frames in clips_a.items():
        assert frames.shape == (4, 16, 16, 3) and frames.dtype == np.uint8
        assert frames.std() > 1  # not blank
        if name in clips_b:
            assert frames.tobytes() == clips_b[name].tobytes()
    assert a.missing() == [] and len(list(a.folder.glob("*.npy"))) == 6
    # Train and eval clips are different pictures, not renamed copies.
    train = [clips_a[n].tobytes() for n in _names(a, "train")]
    assert not set(train) & {clips_a[n].tobytes() for n in _names(a, "eval")}
    # The cache is used: loading again never generates.
    monkeypatch.setattr(builtin_clips, "generate", lambda spec: pytest.fail("regenerated a cached clip"))
    again = BuiltinSource(tmp_path / "a", **SMALL)
    assert again.clips("eval")[0].frames.tobytes() == clips_a[_names(a, "eval")[0]].tobytes()


def test_builtin_default_library_has_nothing_agent_like_and_60_30_clips(tmp_path):
    full = BuiltinSource(tmp_path)
    assert len(full.clips("train")) >= 60 and len(full.clips("eval")) >= 30
    assert {s.family for s in full.specs} == {"shapes", "waves"}  # no MuJoCo bodies by default
    assert not list(tmp_path.rglob("*.npy"))  # listing generates nothing


def test_builtin_bodies_family_on_request(tmp_path):
    from laom_core.envs.videos import resolve_video_source

    with_bodies = resolve_video_source(f"builtin+bodies:{tmp_path}")
    assert {s.family for s in with_bodies.specs} == {"shapes", "bodies", "waves"}
    assert with_bodies.cache_dir == tmp_path.resolve()
    assert {s.family for s in resolve_video_source("builtin").specs} == {"shapes", "waves"}
    with pytest.raises(EnvError, match="families"):
        BuiltinSource(tmp_path, families=("cats",))


def test_builtin_default_cache_lives_in_the_workspace(workspace):
    source = BuiltinSource(num_train=1, num_eval=1, size=8, num_frames=2)
    assert source.folder.is_relative_to(workspace / "cache")


def test_builtin_seed_changes_content(tmp_path):
    one = BuiltinSource(tmp_path, seed=1, **SMALL).clips("train")[0].frames
    two = BuiltinSource(tmp_path, seed=2, **SMALL).clips("train")[0].frames
    assert one.tobytes() != two.tobytes()


def test_davis_folder_uses_the_standard_lists(tmp_path):
    assert len(DAVIS17_TRAIN) == 60 == len(set(DAVIS17_TRAIN))
    assert len(DAVIS17_VAL) == 30 == len(set(DAVIS17_VAL))
    assert set(DAVIS17_TRAIN).isdisjoint(DAVIS17_VAL)
    frames_root = tmp_path / "DAVIS" / "JPEGImages" / "480p"
    names = ["bear", "boat", "walking", "blackswan", "soapbox", "not-in-davis"]
    for i, name in enumerate(names):
        write_frame_folder(frames_root / name, seed=i, frames=3)
        for png in (frames_root / name).glob("*.png"):  # DAVIS ships jpg
            from PIL import Image

            Image.open(png).save(png.with_suffix(".jpg"))
            png.unlink()
    source = resolve_video_source(f"davis:{tmp_path / 'DAVIS'}")
    assert isinstance(source, DavisSource)
    assert _names(source, "train") == ["bear", "boat", "walking"]
    assert _names(source, "eval") == ["blackswan", "soapbox"]
    frames = source.clips("train")[0].frames
    assert frames.shape == (3, 24, 24, 3)
    assert isinstance(resolve_video_source(tmp_path / "DAVIS"), DavisSource)  # detected by layout
    with pytest.raises(EnvError, match="not a DAVIS 2017 folder"):
        DavisSource(tmp_path / "DAVIS" / "JPEGImages" / "480p" / "bear")


def test_folder_of_frames_and_video_files(tmp_path, frame_folder):
    import imageio.v3 as iio

    rng = np.random.default_rng(0)
    iio.imwrite(frame_folder / "movie.gif", rng.integers(0, 255, (4, 20, 20, 3), dtype=np.uint8))
    source = FolderSource(frame_folder)
    train, evals = _names(source, "train"), _names(source, "eval")
    assert set(train).isdisjoint(evals)
    assert sorted(train + evals) == sorted([f"clip{i}" for i in range(6)] + ["movie.gif"])
    gif = next(c for c in source.clips("train") + source.clips("eval") if c.name == "movie.gif")
    assert gif.frames.shape == (4, 20, 20, 3)
    # Explicit train/ and eval/ sub-folders are respected.
    split_root = tmp_path / "split"
    write_frame_folder(split_root / "train" / "x", seed=1)
    write_frame_folder(split_root / "eval" / "y", seed=2)
    source = FolderSource(split_root)
    assert (_names(source, "train"), _names(source, "eval")) == (["train/x"], ["eval/y"])


def test_bad_video_inputs_raise_env_errors(tmp_path):
    with pytest.raises(EnvError, match="does not exist"):
        FolderSource(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(EnvError, match="no videos"):
        FolderSource(tmp_path / "empty")
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "a.mp4").write_bytes(b"not a video")
    (broken / "b.mp4").write_bytes(b"not a video")
    with pytest.raises(EnvError, match="cannot read video"):
        FolderSource(broken).clips("train")[0].frames
    single = tmp_path / "single"
    write_frame_folder(single / "only", seed=0)
    with pytest.raises(EnvError, match="no clips for split 'eval'"):
        FolderSource(single).clips("eval")
    with pytest.raises(EnvError, match="unknown video split"):
        BuiltinSource(tmp_path, **SMALL).clips("test")


def test_clips_cli_list_and_errors(frame_folder, capsys):
    assert cli_main(["clips", "list", "--source", str(frame_folder), "--json"]) == 0
    listing = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert listing["splits"]["eval"] == ["clip2", "clip5"]
    assert cli_main(["clips", "list", "--source", str(frame_folder / "nope")]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert cli_main(["clips", "list", "--json"]) == 0
    builtin = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert builtin["total"] == 90 and builtin["cached"] == 0
