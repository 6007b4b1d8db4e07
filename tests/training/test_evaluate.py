"""Evaluation: the learned policy runs in the eval environment; returns, videos, normalization."""
from __future__ import annotations

import json

import numpy as np
import pytest

from laom_core.envs.types import EnvStep
from laom_core.experts.base import Policy
from laom_core.models import ActionDecoder, BCPolicy
from laom_core.training.evaluate import LearnedPolicy, reference_return
from train_helpers import FAST, fake_control_dataset, train


def test_learned_policy_stacks_frames_like_the_sampler():
    import torch

    policy = LearnedPolicy(BCPolicy(9, 8, 1, 1), ActionDecoder(8, 6, 16), 3, torch.device("cpu"))
    assert isinstance(policy, Policy)
    first = EnvStep(pixels=np.full((32, 32, 3), 10, np.uint8), state=np.zeros(3, np.float32), observation={})
    policy.reset()
    action = policy.act(first)
    assert action.shape == (6,) and action.dtype == np.float32
    assert len(policy.frames) == 3 and all((f == 10).all() for f in policy.frames)  # start padding
    policy.act(EnvStep(pixels=np.full((32, 32, 3), 20, np.uint8), state=np.zeros(3, np.float32), observation={}))
    assert [int(f[0, 0, 0]) for f in policy.frames] == [10, 10, 20]  # oldest first, like the sampler
    policy.reset()
    assert len(policy.frames) == 0


def test_reference_return_uses_paper_divisors():
    def pair(n):
        return n.divisor, n.source

    assert pair(reference_return("cheetah-run", "vanilla")) == (840.0, "paper BC (no_distractors)")
    assert pair(reference_return("hopper-hop", "scale_easy_video_hard")) == (253.0, "paper BC (distractors)")
    assert pair(reference_return("toy-move", "vanilla")) == (None, None)


@pytest.mark.slow
def test_bc_run_evaluates_with_videos_and_normalized_return(tmp_path, capsys):
    data = fake_control_dataset(tmp_path / "cheetah.h5")
    eval_data = fake_control_dataset(tmp_path / "cheetah_eval.h5", trajectories=2, seed=1)
    run_dir = tmp_path / "run"
    code, summary, err = train(capsys, "--method", "bc", "--preset", "smoke", "--data", str(data),
                               "--eval-data", str(eval_data), "--run-dir", str(run_dir), *FAST,
                               "--set", "bc.total_updates=4", "--set", "run.eval_max_steps=12")
    assert code == 0, err
    assert summary["eval_episodes"] == 1 and np.isfinite(summary["eval_return_mean"])
    assert summary["eval_task"] == "cheetah-run" and summary["reference_return"] == 840.0
    assert summary["normalized_return"] == pytest.approx(summary["eval_return_mean"] / 840.0)
    rollouts = run_dir / "artifacts" / "rollouts"
    [episode] = json.loads((rollouts / "episodes.json").read_text())
    assert episode["length"] == 12 and len(episode["rewards"]) == 12 and len(episode["actions"][0]) == 6
    assert episode["return"] == pytest.approx(sum(episode["rewards"]))
    for key in ("video_mp4", "video_webm"):
        video = rollouts / episode[key]
        assert video.stat().st_size > 100
    import imageio.v3 as iio

    frames = iio.imread(rollouts / episode["video_mp4"])
    # reset frame + 12 steps; small frames are upscaled by pixel repetition (viz.video) for the browser
    assert frames.shape[0] == 13 and frames.shape[1:3] == (256, 256)
