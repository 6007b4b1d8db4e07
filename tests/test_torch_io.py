"""A refused .pt file (foreign pickle, damaged archive) is one error line, not torch's six."""
from __future__ import annotations

import collections

import pytest
import torch

from laom_core.cli import main
from laom_core.errors import LaomError, RunError
from laom_core.torch_io import load_weights


class Gadget:  # a class torch's weights-only unpickler refuses
    pass


def _bad_files(tmp_path):
    foreign = tmp_path / "foreign.pt"
    torch.save({"w": torch.zeros(2), "extra": Gadget()}, foreign)
    garbage = tmp_path / "garbage.pt"
    garbage.write_bytes(b"\x80\x02garbage" * 20)
    truncated = tmp_path / "truncated.pt"
    good = tmp_path / "good.pt"
    torch.save(collections.OrderedDict(w=torch.ones(64)), good)
    truncated.write_bytes(good.read_bytes()[:300])
    return {"foreign": foreign, "garbage": garbage, "truncated": truncated, "missing": tmp_path / "none.pt",
            "folder": tmp_path}


@pytest.mark.parametrize("kind", ["foreign", "garbage", "truncated", "missing", "folder"])
def test_refused_files_are_one_line(tmp_path, kind):
    path = _bad_files(tmp_path)[kind]
    with pytest.raises(RunError) as info:
        load_weights(path, what="checkpoint", error=RunError)
    msg = str(info.value)
    assert "\n" not in msg and "\x1b" not in msg and len(msg) < 400
    assert msg.startswith(f"cannot read checkpoint {path}: ")
    assert "Re-running" not in msg and "weights_only" not in msg
    if kind == "foreign":
        assert "Gadget" in msg and "more than weights" in msg


def test_training_checkpoint_loader_is_one_line(tmp_path):
    from laom_core.training.common import load_checkpoint

    with pytest.raises(LaomError) as info:
        load_checkpoint(_bad_files(tmp_path)["foreign"])
    assert "\n" not in str(info.value)


def test_cli_refused_expert_checkpoint_is_one_error_line(tmp_path, capsys):
    folder = tmp_path / "expert"
    folder.mkdir()
    torch.save({"actor": Gadget()}, folder / "checkpoint.pt")
    torch.save({"task": "cheetah-run"}, folder / "config.pt")
    rc = main(["collect", "--policy", str(folder), "--episodes", "1", "--steps", "2", "--img-size", "8",
               "--fast-render", "--out", str(tmp_path / "x.hdf5")])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2
    assert len(err) == 1 and err[0].startswith("error: ") and "Gadget" in err[0], err
