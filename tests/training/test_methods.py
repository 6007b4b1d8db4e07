"""Every method trains end to end on tiny toy data; its stage-1 loss falls; artifacts exist."""
from __future__ import annotations

import json

import numpy as np
import pytest

from laom_core.runs.store import RunStore
from train_helpers import FAST, train

METHODS = ["lapo", "laom", "laom-labels", "idm", "bc"]
FIRST_STAGE = {"lapo": "lam", "laom": "lam", "laom-labels": "lam", "idm": "idm", "bc": "bc"}


@pytest.mark.slow
@pytest.mark.parametrize("method", METHODS)
def test_method_trains_and_loss_falls(method, data_dir, tmp_path, capsys):
    run_dir = tmp_path / "run"
    code, summary, err = train(capsys, "--method", method, "--preset", "smoke", "--data", str(data_dir / "toy.h5"),
                               "--labeled-data", str(data_dir / "labeled.h5"), "--run-dir", str(run_dir),
                               *FAST, "--set", "lapo.total_updates=24", "--set", "bc.total_updates=16",
                               "--set", "idm.total_updates=16")
    assert code == 0, err
    for key in ("method", "probe_mse", "eval_return_mean", "normalized_return", "samples_per_s"):
        assert key in summary
    assert summary["method"] == method and summary["eval_return_mean"] is None
    assert summary["normalized_return"] is None and summary["samples_per_s"] > 0
    assert json.loads((run_dir / "summary.json").read_text()) == {**summary}
    assert 0 < summary["held_out_action_mse"] < 10

    stages = json.loads((run_dir / "stages.json").read_text())
    assert set(stages["finished"]) == set(stages["planned"])
    for stage in stages["planned"]:
        if stage != "eval":
            assert (run_dir / "checkpoints" / stage / "final.pt").exists()

    store = RunStore()
    row = store.get_run(summary["run_id"])
    assert row["status"] == "finished" and row["method"] == method and row["run_dir"] == str(run_dir)
    series = store.metrics(summary["run_id"], keys=["loss"], stage=FIRST_STAGE[method])["loss"]["value"]
    assert np.isfinite(series).all() and len(series) >= 5
    assert series[-3:].mean() < series[:2].mean(), f"{method} loss did not fall: {series}"

    if method == "bc":
        assert summary["probe_mse"] is None
        assert "--labeled-data is not used by bc" in err
    else:
        assert summary["probe_mse"] is not None and summary["probe_mse"] >= 0
        probe = json.loads((run_dir / "artifacts" / "probe.json").read_text())
        assert probe["held_out_probe_mse"] == summary["probe_mse"]
        assert len(probe["per_dim"]) == 2 and probe["chance_mse"] > 0
    if method in ("lapo", "laom", "laom-labels"):
        lam_metrics = store.metrics(summary["run_id"], stage="lam")
        for key in ("probe_mse", "state_probe_mse", "samples_per_s", "lr", "grad_norm", "latent_norm",
                    "held_out_probe_mse"):
            assert key in lam_metrics, key
        usage = json.loads((run_dir / "artifacts" / "probe.json").read_text())["fdm_z_usage"]
        assert usage["fdm_loss"] > 0 and usage["fdm_loss_shuffled_z"] > 0
        assert summary["fdm_z_gain"] == pytest.approx(usage["fdm_loss_shuffled_z"] / usage["fdm_loss"] - 1)
        assert ("copy_loss" in usage) == (method == "lapo")
        assert "held_out_z_gain" in lam_metrics
        latents = np.load(run_dir / "artifacts" / "latents.npz")
        n = len(latents["latents"])
        assert latents["latents"].shape == (n, 32) and latents["actions"].shape == (n, 2)
        assert latents["obs_index"].shape == (n, 2) and (latents["clip_id"] == -1).all()
        assert np.array_equal(latents["obs_index"][:, 0], latents["traj"])
    if method == "laom-labels":
        assert "action_loss" in store.metrics(summary["run_id"], stage="lam")


def test_bc_with_its_own_frame_stack(data_dir, tmp_path, capsys):
    code, summary, err = train(capsys, "--method", "bc", "--preset", "smoke", "--data", str(data_dir / "toy.h5"),
                               "--run-dir", str(tmp_path / "run"), *FAST, "--set", "bc.frame_stack=2",
                               "--set", "bc.total_updates=2")
    assert code == 0, err
    assert summary["held_out_action_mse"] > 0


def test_stop_after_ends_the_run_after_stage_one(data_dir, tmp_path, capsys):
    run_dir = tmp_path / "run"
    code, summary, err = train(capsys, "--method", "laom", "--preset", "smoke", "--data", str(data_dir / "toy.h5"),
                               "--labeled-data", str(data_dir / "labeled.h5"), "--run-dir", str(run_dir),
                               *FAST, "--set", "lapo.total_updates=8", "--set", "run.stop_after=lam")
    assert code == 0, err
    assert summary["stopped_after"] == "lam" and summary["probe_mse"] is not None
    assert summary["eval_return_mean"] is None and summary["held_out_action_mse"] is None
    stages = json.loads((run_dir / "stages.json").read_text())
    assert stages["planned"] == ["lam"] and set(stages["finished"]) == {"lam"}
    assert not (run_dir / "checkpoints" / "bc").exists()


@pytest.mark.parametrize("arch, channels", [("authors", 6), ("unet", 3)])
def test_lapo_trains_with_either_forward_model(arch, channels, data_dir, tmp_path, capsys):
    import torch

    from laom_core.training.common import load_checkpoint

    run_dir = tmp_path / "run"
    code, summary, err = train(capsys, "--method", "lapo", "--preset", "smoke", "--data", str(data_dir / "toy.h5"),
                               "--run-dir", str(run_dir), *FAST, "--set", "lapo.total_updates=6",
                               "--set", "run.stop_after=lam", "--set", f"lapo.fdm_arch={arch}",
                               "--set", "lapo.frame_stack=2", "--set", "bc.frame_stack=2")
    assert code == 0, err
    usage = json.loads((run_dir / "artifacts" / "probe.json").read_text())["fdm_z_usage"]
    assert usage["fdm_loss"] > 0 and usage["copy_loss"] > 0 and np.isfinite(summary["fdm_z_gain"])
    state = load_checkpoint(run_dir / "checkpoints" / "lam" / "final.pt")
    head = next(v for k, v in state["modules"]["model"].items() if k.endswith("fdm.head.weight"))
    assert isinstance(head, torch.Tensor) and head.shape[0] == channels  # every stacked frame, or the newest


def test_stop_after_must_name_a_stage_of_the_method(data_dir, tmp_path, capsys):
    code, _summary, err = train(capsys, "--method", "bc", "--preset", "smoke", "--data", str(data_dir / "toy.h5"),
                                "--run-dir", str(tmp_path / "run"), "--set", "run.stop_after=lam")
    assert code != 0 and "run.stop_after" in err and "bc, eval" in err
