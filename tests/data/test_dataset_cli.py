"""`dataset info|subset|list`: summaries, exit codes, one-line errors."""
from __future__ import annotations

import json

import h5py
import numpy as np
import pytest

from laom_core.cli import main
from laom_core.data.catalog import subset_path
from laom_core.data.hdf5 import DatasetWriter

ATTRS = dict(domain_name="hopper", task_name="hop", difficulty="scale_easy_video_hard", dynamic=True, img_hw=8, split="eval")


def _write(path, n=3, T=12, nan=False):
    rng = np.random.default_rng(0)
    with DatasetWriter(path, ATTRS) as w:
        for i in range(n):
            w.add_trajectory(
                rng.integers(0, 255, (T, 8, 8, 3), dtype=np.uint8),
                rng.normal(size=(T, 4)), rng.normal(size=(T, 15)), 100.0 + i,
                extra={"distractor/clip_id": np.full(T, i), "distractor/camera": rng.normal(size=(T, 8))},
            )
    if nan:
        with h5py.File(path, "a") as f:
            f["1/states"][3, 2] = np.nan
    return path


def _err_line(capsys):
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), captured.err
    assert "Traceback" not in captured.err
    return lines[0]


def test_info_text_and_json(tmp_path, capsys):
    path = _write(tmp_path / "d.hdf5")
    assert main(["dataset", "info", str(path)]) == 0
    text = capsys.readouterr().out
    for fragment in ("hopper-hop", "scale_easy_video_hard", "3 x 12 steps = 36", "8x8", "action dim    4",
                     "state dim     15", "mean return   101.0", "camera, clip_id"):
        assert fragment in text
    assert main(["dataset", "info", str(path), "--json"]) == 0
    info = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert info["num_trajectories"] == 3 and info["total_steps"] == 36 and info["img_hw"] == 8
    assert (info["action_dim"], info["state_dim"]) == (4, 15)
    assert info["mean_return"] == pytest.approx(101.0)
    assert info["distractor_signals"] == ["camera", "clip_id"]


def test_info_invalid_files_exit_2(tmp_path, capsys):
    (tmp_path / "text.hdf5").write_text("not hdf5")
    assert main(["dataset", "info", str(tmp_path / "text.hdf5")]) == 2
    assert "not an HDF5 file" in _err_line(capsys)
    assert main(["dataset", "info", str(tmp_path / "missing.hdf5")]) == 2
    assert "no such file" in _err_line(capsys)
    _write(tmp_path / "nan.hdf5", nan=True)
    assert main(["dataset", "info", str(tmp_path / "nan.hdf5")]) == 2
    assert "NaN or inf in states" in _err_line(capsys)
    with h5py.File(tmp_path / "foreign.hdf5", "w") as f:
        f.create_dataset("images", data=np.zeros((4, 4)))
    assert main(["dataset", "info", str(tmp_path / "foreign.hdf5")]) == 2
    assert "missing file attribute" in _err_line(capsys)


def test_subset_and_list(tmp_path, workspace, capsys):
    datasets = workspace / "datasets"
    datasets.mkdir(parents=True)
    _write(datasets / "full.hdf5", n=5, T=20)
    (datasets / "broken.hdf5").write_bytes(b"\x89HDF-not-really")
    (datasets / ".full.hdf5.abc.partial").write_bytes(b"in progress")
    # a bare name is found in the workspace datasets folder; the default output is the cached
    # subset, named by the source's content (laom_core.data.catalog), reused on a second call
    assert main(["dataset", "subset", "full.hdf5", "--trajectories", "2", "--chunk-size", "10", "--seed", "4"]) == 0
    out = subset_path(datasets / "full.hdf5", 2, 10, 4)
    assert out.exists() and out.parent == datasets / "subsets"
    made = out.stat().st_mtime_ns
    capsys.readouterr()
    assert main(["dataset", "subset", "full.hdf5", "--trajectories", "2", "--chunk-size", "10", "--seed", "4"]) == 0
    assert str(out) in capsys.readouterr().out and out.stat().st_mtime_ns == made
    assert main(["dataset", "subset", "full.hdf5", "--trajectories", "9", "--chunk-size", "30", "--out", str(tmp_path / "x.hdf5")]) == 2
    assert "no trajectory has 30 steps" in _err_line(capsys)
    assert main(["dataset", "list", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    by_name = {r["name"]: r for r in rows}
    assert set(by_name) == {"broken.hdf5", "full.hdf5", out.name}
    assert by_name["full.hdf5"]["valid"] and by_name["full.hdf5"]["num_trajectories"] == 5
    assert by_name[out.name]["labeled_subset"]
    assert not by_name["broken.hdf5"]["valid"] and "not an HDF5 file" in by_name["broken.hdf5"]["error"]
    assert main(["dataset", "list"]) == 0
    assert "INVALID" in capsys.readouterr().out


def test_subset_with_a_negative_seed_is_one_line_error(tmp_path, capsys):
    src = _write(tmp_path / "d.hdf5")
    for flags, message in ((["--seed", "-1"], "--seed must be"), (["--seed", "99999999999999999999"], "--seed must be"),
                           (["--trajectories", "0"], "--trajectories must be")):
        argv = ["dataset", "subset", str(src), "--trajectories", "2", "--chunk-size", "5",
                "--out", str(tmp_path / "s.hdf5"), *flags]
        assert main(argv) == 2
        assert message in _err_line(capsys)
    assert not (tmp_path / "s.hdf5").exists()


def _linked(path, kind: str):
    """A valid file whose trajectory 1 'actions' (or a 4th trajectory) is a dangling soft or external link."""
    _write(path)
    with h5py.File(path, "a") as f:
        if kind == "soft":
            del f["1/actions"]
            f["1/actions"] = h5py.SoftLink("/nowhere")
        elif kind == "external":
            del f["1/states"]
            f["1/states"] = h5py.ExternalLink(str(path.parent / "missing.h5"), "/x")
        elif kind == "soft-group":
            f["3"] = h5py.SoftLink("/nowhere")
        else:
            f["3"] = h5py.ExternalLink(str(path.parent / "missing.h5"), "/x")
    return path


@pytest.mark.parametrize("kind", ["soft", "external", "soft-group", "external-group"])
def test_dangling_links_are_one_line_errors(kind, tmp_path, workspace, capsys):
    from laom_core.data.hdf5 import open_dataset
    from laom_core.errors import DatasetError

    path = _linked(tmp_path / "linked.hdf5", kind)
    assert main(["dataset", "info", str(path)]) == 2
    assert "link" in _err_line(capsys)
    with pytest.raises(DatasetError, match="link"):
        open_dataset(path)
    (workspace / "datasets").mkdir(parents=True)
    _linked(workspace / "datasets" / "linked.hdf5", kind)
    _write(workspace / "datasets" / "good.hdf5")
    assert main(["dataset", "list", "--json"]) == 0
    rows = {r["name"]: r for r in json.loads(capsys.readouterr().out)}
    assert rows["good.hdf5"]["valid"] and not rows["linked.hdf5"]["valid"] and "link" in rows["linked.hdf5"]["error"]
