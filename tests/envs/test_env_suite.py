"""The distracting suite: determinism, distractors that really act, errors, bookkeeping."""
from __future__ import annotations

import numpy as np
import pytest

from laom_core.envs import DIFFICULTIES, FolderSource, make_env
from laom_core.envs.background import BackgroundVideo
from laom_core.envs.videos import Clip
from laom_core.errors import EnvError

SIZE = 32


def _rollout(env, steps: int):
    rng = np.random.default_rng(0)
    records = [env.reset()]
    for _ in range(steps):
        records.append(env.step(rng.uniform(env.action_low, env.action_high)))
    return records


def test_same_seed_gives_byte_identical_frames(frame_folder):
    runs = []
    for _ in range(2):
        with make_env("cheetah-run", "hard", seed=3, img_size=SIZE, fast_render=True,
                      video_source=FolderSource(frame_folder)) as env:
            runs.append(_rollout(env, 6))
    for a, b in zip(*runs):
        assert a.pixels.dtype == np.uint8 and a.pixels.shape == (SIZE, SIZE, 3)
        assert a.pixels.tobytes() == b.pixels.tobytes()
        assert a.distractor["clip_id"] == b.distractor["clip_id"]
        assert np.array_equal(a.distractor["camera"], b.distractor["camera"])
        assert np.array_equal(a.distractor["color"], b.distractor["color"])
    with make_env("cheetah-run", "hard", seed=4, img_size=SIZE, fast_render=True,
                  video_source=FolderSource(frame_folder)) as env:
        other = _rollout(env, 6)
    assert any(a.pixels.tobytes() != b.pixels.tobytes() for a, b in zip(runs[0], other))


def _sky(pixels: np.ndarray) -> np.ndarray:
    """Top rows of a cheetah frame: only sky (skybox) there."""
    return pixels[: SIZE // 6].astype(np.int16)


def test_distractors_change_background_and_camera_between_episodes(frame_folder):
    with make_env("cheetah-run", "hard", seed=0, img_size=SIZE, fast_render=True,
                  video_source=FolderSource(frame_folder)) as env:
        firsts = [env.reset() for _ in range(4)]
    cams = np.stack([f.distractor["camera"] for f in firsts])
    assert cams.dtype == np.float32 and cams.shape == (4, 8)
    assert len({tuple(c[:4]) for c in cams}) == 4  # new offsets every episode
    assert len({(f.distractor["clip_id"], f.distractor["frame_index"]) for f in firsts}) > 1
    assert all(np.abs(_sky(a.pixels) - _sky(b.pixels)).mean() > 5 for a, b in zip(firsts, firsts[1:]))

    with make_env("cheetah-run", "vanilla", seed=0, img_size=SIZE, fast_render=True) as env:
        vanilla = [env.reset() for _ in range(3)]
    for f in vanilla:
        assert f.distractor["clip_id"] == -1
        assert not f.distractor["camera"].any() and not f.distractor["color"].any()
    assert all(np.array_equal(_sky(vanilla[0].pixels), _sky(f.pixels)) for f in vanilla)


def test_camera_shake_alone_moves_the_view_and_is_dynamic():
    with make_env("cheetah-run", "vanilla", seed=1, img_size=SIZE, fast_render=True,
                  camera_scale=0.3, dynamic=True) as env:
        assert env.background is None and env.color is None
        first = env.reset()
        later = [env.step(np.zeros(env.action_dim)) for _ in range(3)]
        second = env.reset()
    s = 0.3
    for rec in [first, *later, second]:
        cam = rec.distractor["camera"]
        assert np.all(np.abs(cam[:3]) <= np.pi / 2 * s + 1e-6)
        assert -0.5 * s - 1e-6 <= cam[3] <= 1.5 * s + 1e-6
        assert np.linalg.norm(cam[4:7]) <= 0.4 * s / 4 * 1.001  # cartesian, r0 units per step
        assert abs(cam[7]) <= np.pi / 50 * s + 1e-6
    assert not np.array_equal(first.distractor["camera"], later[-1].distractor["camera"])
    assert np.abs(_sky(first.pixels) - _sky(second.pixels)).mean() > 1


def test_color_change_moves_agent_colour_within_bounds():
    with make_env("cheetah-run", "vanilla", seed=2, img_size=SIZE, color_scale=0.3, dynamic=True) as env:
        self_mat = env.physics.model.name2id("self", "material")
        base = env.physics.model.mat_rgba[self_mat, :3].copy()
        ground = env.physics.model.name2id("grid", "material")
        ground_before = env.physics.model.mat_rgba[ground].copy()
        rec = env.reset()
        delta = rec.distractor["color"]
        assert delta.shape == (3,) and np.all(np.abs(delta) <= 0.3)
        assert np.allclose(env.physics.model.mat_rgba[self_mat, :3], np.clip(base + delta, 0, 1), atol=1e-6)
        assert np.array_equal(env.physics.model.mat_rgba[ground], ground_before)  # scene untouched
        nxt = env.step(np.zeros(env.action_dim))
        assert not np.array_equal(nxt.distractor["color"], delta)  # dynamic: drifts per step


def test_static_mode_freezes_distractors_within_an_episode(frame_folder):
    with make_env("cheetah-run", "hard", seed=0, img_size=SIZE, dynamic=False, fast_render=True,
                  video_source=FolderSource(frame_folder)) as env:
        assert env.dynamic is False
        recs = _rollout(env, 4)
    first = recs[0].distractor
    for rec in recs[1:]:
        assert rec.distractor["frame_index"] == first["frame_index"]
        assert np.array_equal(rec.distractor["camera"], first["camera"])
        assert np.array_equal(rec.distractor["color"], first["color"])


def test_video_plays_frame_by_frame_and_bounces():
    clip = Clip("c", frames=np.arange(4, dtype=np.uint8).reshape(4, 1, 1, 1).repeat(3, -1).repeat(8, 1).repeat(8, 2))
    video = BackgroundVideo([clip], dynamic=True, seed=0)
    video.face_size = 8
    video.reset()
    seen = [video.frame_index]
    for _ in range(12):
        video.advance()
        seen.append(video.frame_index)
    steps = np.diff(seen)
    assert set(np.abs(steps)) == {1}
    assert min(seen) == 0 and max(seen) == 3
    assert np.sum(steps[1:] != steps[:-1]) >= 2  # turned around at both ends


def test_presets_and_overrides(frame_folder):
    source = FolderSource(frame_folder)
    with make_env("cheetah-run", "easy", img_size=16, video_source=source) as env:
        assert env.settings.camera_scale == 0.1 and len(env.clips) == 4 and env.dynamic
    with make_env("cheetah-run", "medium", img_size=16, video_source=source, num_videos=2, scale=0.05) as env:
        assert len(env.clips) == 2 and env.settings.color_scale == 0.05
    with make_env("cheetah-run", "scale_easy_video_hard", split="eval", img_size=16, video_source=source) as env:
        assert env.settings.camera_scale == 0.1 and [c.name for c in env.clips] == ["clip2", "clip5"]
    with make_env("cheetah-run", "vanilla", img_size=16) as env:
        assert env.background is None and env.camera is None and env.color is None and not env.dynamic
    assert set(DIFFICULTIES) == {"vanilla", "easy", "medium", "hard", "scale_easy_video_hard"}


def test_ground_opaque_for_cheetah_transparent_for_cartpole(frame_folder):
    source = FolderSource(frame_folder)
    for task, alpha in (("cheetah-run", 1.0), ("cartpole-swingup", 0.3)):
        with make_env(task, "easy", img_size=16, video_source=source) as env:
            grid = env.physics.model.name2id("grid", "material")
            assert env.physics.model.mat_rgba[grid, 3] == pytest.approx(alpha)


def test_episode_bookkeeping_and_action_clipping():
    with make_env("cartpole-swingup", img_size=16, max_steps=3, fast_render=True) as env:
        assert (env.action_dim, env.state_dim) == (1, 5)
        first = env.reset()
        assert first.first and not first.last and first.reward == 0.0
        assert first.state.dtype == np.float32 and first.state.shape == (5,)
        assert sorted(first.observation) == ["position", "velocity"]
        recs = [env.step([5.0]) for _ in range(3)]
        assert [r.last for r in recs] == [False, False, True]
        assert env.physics.data.ctrl[0] == pytest.approx(1.0)  # clipped to the bound
        assert env.step([0.0]).first  # the next step starts a new episode
        with pytest.raises(EnvError, match="NaN"):
            env.step([np.nan])
        with pytest.raises(EnvError, match="expects 1"):
            env.step([0.0, 1.0])


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(task="cheetah-fly"), "unknown task"),
        (dict(task="dragon-run"), "unknown domain"),
        (dict(task="cheetah"), "domain-task"),
        (dict(difficulty="extreme"), "unknown difficulty"),
        (dict(split="test"), "unknown split"),
        (dict(img_size=0), "img_size"),
        (dict(wobble=1), "unknown environment option"),
        (dict(scale="big"), "scale must be a number"),
        (dict(camera_id=9), "camera id 9"),
    ],
)
def test_bad_arguments_raise_clear_env_errors(kwargs, match):
    with pytest.raises(EnvError, match=match):
        make_env(**{"img_size": 16, **kwargs})


def test_empty_or_missing_video_folder_is_an_env_error(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(EnvError, match="no videos"):
        make_env("cheetah-run", "easy", img_size=16, video_source=str(tmp_path / "empty"))
    with pytest.raises(EnvError, match="does not exist"):
        make_env("cheetah-run", "easy", img_size=16, video_source=str(tmp_path / "nope"))


@pytest.mark.parametrize("task, camera", [("walker-run", 0), ("hopper-hop", 0), ("humanoid-walk", 0),
                                          ("reacher-easy", 0), ("quadruped-walk", 2)])
def test_paper_and_extra_domains_render(task, camera, frame_folder):
    with make_env(task, "easy", img_size=24, fast_render=True, video_source=FolderSource(frame_folder)) as env:
        assert env.camera_id == camera
        rec = env.step(np.zeros(env.action_dim))
        assert rec.pixels.shape == (24, 24, 3) and rec.pixels.std() > 1


def test_partial_skybox_upload_matches_a_full_texture_upload(frame_folder):
    """Only the skybox faces in view are sent each step; the picture must be the same as
    MuJoCo's own upload of all six faces (checked with strong camera shake)."""
    with make_env("cheetah-run", "hard", seed=5, img_size=SIZE, fast_render=True, scale=0.6,
                  video_source=FolderSource(frame_folder)) as env:
        renderer, video = env._renderer, env.background
        env.reset()
        for _ in range(8):
            fast = env.step(np.zeros(env.action_dim)).pixels
            video._faces[:] = video._frames[video.frame_index][None]
            renderer.upload_texture(video._texture_id)
            renderer._linear_textures.discard(video._texture_id)  # same filtering as ours
            renderer.upload_cube_faces(video._texture_id, video._frames[0], [])
            assert np.array_equal(fast, renderer.draw())
            video._shown = (-2, -2)  # next step re-uploads what it needs


def test_missing_gl_backend_says_what_to_install():
    import os
    import subprocess
    import sys

    code = (
        "from laom_core.envs import make_env\n"
        "from laom_core.errors import EnvError\n"
        "try:\n    make_env('cheetah-run', img_size=16)\n"
        "except EnvError as exc:\n    print('ENVERROR', exc)\n"
    )
    env = {**os.environ, "MUJOCO_GL": "no-such-backend"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert "ENVERROR" in out.stdout and "apt-get install libegl1" in out.stdout
