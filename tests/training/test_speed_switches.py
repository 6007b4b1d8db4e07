"""The GPU speed switches (run.bf16, run.channels_last, run.compile) on CPU.

CI has no GPU, so these paths run here: set explicitly, each switch takes effect on CPU
too (bf16 autocast on CPU, channels_last tensors, torch.compile with inductor's CPU
backend). Every method trains at the smoke preset with all three on; its losses must be
finite and fall. Left at their defaults, bf16 and channels_last stay CUDA-only.
"""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from laom_core.config import load_config
from laom_core.runs.store import RunStore
from laom_core.training.common import autocast, effective_switches, frames, load_module_state, prepare, switch_on
from train_helpers import FAST, train

SWITCHES = ["--device", "cpu", "--set", "run.bf16=true", "--set", "run.channels_last=true",
            "--set", "run.compile=true"]
FIRST_STAGE = {"lapo": "lam", "laom": "lam", "laom-labels": "lam", "idm": "idm", "bc": "bc"}
CPU, CUDA = torch.device("cpu"), torch.device("cuda")


@pytest.fixture
def compiled(monkeypatch) -> list:
    """The modules handed to torch.compile during a test (torch.compile still runs)."""
    seen: list = []
    real = torch.compile

    def spy(model=None, *args, **kwargs):
        seen.append(type(model).__name__)
        return real(model, *args, **kwargs)

    monkeypatch.setattr(torch, "compile", spy)
    return seen


def test_defaults_mean_cuda_only_and_explicit_values_mean_everywhere():
    config, _ = load_config("smoke", "laom")
    assert config.run.bf16 is None and config.run.channels_last is None and config.run.compile is False
    assert effective_switches(config.run, CPU) == {"bf16": False, "channels_last": False, "compile": False}
    assert effective_switches(config.run, CUDA) == {"bf16": True, "channels_last": True, "compile": False}
    config, _ = load_config("smoke", "laom", overrides=["run.bf16=true", "run.channels_last=auto",
                                                         "run.compile=true"])
    assert config.run.bf16 is True and config.run.channels_last is None
    assert effective_switches(config.run, CPU) == {"bf16": True, "channels_last": False, "compile": True}
    config, _ = load_config("paper", "laom", overrides=["run.bf16=false"])
    assert not switch_on(config.run.bf16, CUDA) and switch_on(config.run.channels_last, CUDA)


def test_switches_act_on_cpu_when_set():
    conv = torch.nn.Conv2d(9, 4, 3)
    x = torch.randint(0, 255, (2, 9, 8, 8), dtype=torch.uint8)
    assert not frames(x, CPU).is_contiguous(memory_format=torch.channels_last)
    assert frames(x, CPU, True).is_contiguous(memory_format=torch.channels_last)
    assert frames(x, CPU, True).dtype == torch.float32
    assert prepare(conv, CPU, True).weight.is_contiguous(memory_format=torch.channels_last)
    with autocast(CPU):
        assert conv(frames(x, CPU)).dtype == torch.float32
    with autocast(CPU, True):
        assert conv(frames(x, CPU, True)).dtype == torch.bfloat16
    with autocast(CPU, False):
        assert conv(frames(x, CPU)).dtype == torch.float32


def test_weights_of_a_compiled_module_load_into_a_plain_one():
    plain, other = torch.nn.Linear(3, 2), torch.nn.Linear(3, 2)
    compiled = torch.compile(other)  # wrapping only: nothing is traced before a call
    assert all(k.startswith("_orig_mod.") for k in compiled.state_dict())
    load_module_state(plain, compiled.state_dict())
    assert torch.equal(plain.weight, other.weight)
    fresh = torch.nn.Linear(3, 2)
    load_module_state(torch.compile(fresh), plain.state_dict())
    assert torch.equal(fresh.weight, other.weight)


@pytest.mark.slow
@pytest.mark.parametrize("method", ["lapo", "laom", "laom-labels", "idm", "bc"])
def test_every_method_trains_with_all_switches_on_cpu(method, data_dir, tmp_path, capsys, compiled):
    run_dir = tmp_path / "run"
    code, summary, err = train(capsys, "--method", method, "--preset", "smoke", "--data", str(data_dir / "toy.h5"),
                               "--labeled-data", str(data_dir / "labeled.h5"), "--run-dir", str(run_dir),
                               *FAST, "--set", "lapo.total_updates=24", "--set", "bc.total_updates=16",
                               "--set", "idm.total_updates=16", *SWITCHES)
    assert code == 0, err
    assert summary["device"] == "cpu"
    assert summary["switches"] == {"bf16": True, "channels_last": True, "compile": True}
    assert compiled == {"lapo": ["LAPO", "BCPolicy"], "laom": ["LAOM", "BCPolicy"], "laom-labels": ["LAOM", "BCPolicy"],
                        "idm": ["ActionIDM", "BCPolicy"], "bc": ["BCPolicy"]}[method]
    assert np.isfinite(summary["held_out_action_mse"])
    if method != "bc":
        assert np.isfinite(summary["probe_mse"])
    store = RunStore()
    stages = json.loads((run_dir / "stages.json").read_text())
    assert set(stages["finished"]) == set(stages["planned"])
    for stage in stages["planned"]:
        if stage == "eval":
            continue
        series = store.metrics(summary["run_id"], keys=["loss"], stage=stage)["loss"]["value"]
        assert len(series) >= 4 and np.isfinite(series).all(), (stage, series)
    series = store.metrics(summary["run_id"], keys=["loss"], stage=FIRST_STAGE[method])["loss"]["value"]
    assert series[-3:].mean() < series[:2].mean(), f"{method} loss did not fall with bf16/channels_last/compile: {series}"


@pytest.mark.slow
def test_a_stage_one_run_with_all_switches_resumes_into_the_later_stages(data_dir, tmp_path, capsys):
    """Stage 1 trained compiled in bf16; a resumed run loads its final.pt and trains on."""
    run_dir = tmp_path / "run"
    args = ["--method", "laom", "--preset", "smoke", "--data", str(data_dir / "toy.h5"),
            "--labeled-data", str(data_dir / "labeled.h5"), "--run-dir", str(run_dir), *FAST, *SWITCHES]
    code, first, err = train(capsys, *args, "--set", "run.stop_after=lam")
    assert code == 0, err
    assert first["stopped_after"] == "lam"
    code, summary, err = train(capsys, *args, "--resume")
    assert code == 0, err
    finished = json.loads((run_dir / "stages.json").read_text())["finished"]
    assert set(finished) == {"lam", "bc", "decoder", "eval"}
    assert summary["probe_mse"] == first["probe_mse"] and np.isfinite(summary["held_out_action_mse"])
