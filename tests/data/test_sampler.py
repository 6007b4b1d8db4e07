"""TrajectorySampler: frame stacks, offsets, determinism, chunked == full, memory budget."""
from __future__ import annotations

import h5py
import numpy as np
import pytest
import torch

from laom_core.data.sampler import Batch, TrajectorySampler, split_trajectories, to_float
from laom_core.data.toy import make_toy_dataset
from laom_core.errors import ConfigError, DatasetError

STACK, K = 3, 4


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """6 trajectories of 20 steps at 16 px, plus one short one (3 steps) to test edges."""
    path = tmp_path_factory.mktemp("sampler") / "tiny.h5"
    make_toy_dataset(path, trajectories=6, steps=20, img_size=16, action_dim=3, seed=1)
    with h5py.File(path, "a") as f:  # a short trajectory: start padding and k limits bite
        g = f.create_group("6")
        g.create_dataset("obs", data=f["0/obs"][:3])
        g.create_dataset("actions", data=f["0/actions"][:3])
        g.create_dataset("states", data=f["0/states"][:3])
        g.attrs["traj_return"] = 0.0
    return path


def _budget_mb_for_chunked(path, batch: int = 48) -> float:
    """A budget that holds half of the file's frames plus the batch and read buffers."""
    with h5py.File(path, "r", locking=False) as f:
        total = sum(f[k]["obs"].size for k in f.keys())
        frame = f["0/obs"][0].size
    return (total / 2 + batch * (2 * STACK + 1) * frame * 1.1 + 2 * 16 * frame) / 2**20


def _reference(path, batch: Batch, stack: int) -> None:
    """Check every sample of ``batch`` against frames picked one by one from the file."""
    with h5py.File(path, "r", locking=False) as f:
        data = {int(k): {n: f[k][n][()] for n in ("obs", "actions", "states")} for k in f.keys()}
    for i in range(len(batch)):
        traj, t, k = int(batch.traj[i]), int(batch.step[i]), int(batch.offset[i])
        g = data[traj]
        T = g["obs"].shape[0]
        assert 0 <= t <= T - 2 and 1 <= k and t + k <= T - 1

        def stacked(step: int) -> np.ndarray:
            idx = [max(step - j, 0) for j in range(stack - 1, -1, -1)]  # oldest first
            return np.concatenate([g["obs"][n].transpose(2, 0, 1) for n in idx], axis=0)

        np.testing.assert_array_equal(batch.obs[i].numpy(), stacked(t))
        np.testing.assert_array_equal(batch.next_obs[i].numpy(), stacked(t + 1))
        np.testing.assert_array_equal(batch.future_obs[i].numpy(), stacked(t + k))
        np.testing.assert_array_equal(batch.actions[i].numpy(), g["actions"][t])
        np.testing.assert_array_equal(batch.states[i].numpy(), g["states"][t])


def test_shapes_dtypes_and_properties(tiny):
    with TrajectorySampler(tiny, frame_stack=STACK, future_obs_offset=K) as s:
        assert s.mode == "full"
        assert s.num_transitions == 6 * 19 + 2
        assert (s.action_dim, s.state_dim, s.img_hw) == (3, 8, (16, 16))
        assert s.traj_ids == list(range(7))
        b = s.sample(32)
        for name in ("obs", "next_obs", "future_obs"):
            x = getattr(b, name)
            assert x.shape == (32, 3 * STACK, 16, 16) and x.dtype == torch.uint8
        assert b.actions.shape == (32, 3) and b.actions.dtype == torch.float32
        assert b.states.shape == (32, 8) and b.states.dtype == torch.float32
        for name in ("offset", "traj", "step"):
            assert getattr(b, name).shape == (32,) and getattr(b, name).dtype == torch.long


@pytest.mark.parametrize("chunked", [False, True])
def test_batches_match_per_sample_reference(tiny, chunked):
    budget = _budget_mb_for_chunked(tiny) if chunked else 64
    with TrajectorySampler(tiny, frame_stack=STACK, future_obs_offset=K, memory_budget_mb=budget,
                           chunk_len=8, seed=3) as s:
        assert s.mode == ("chunked" if chunked else "full")
        steps, trajs = [], []
        for _ in range(12):
            b = s.sample(48)
            _reference(tiny, b, STACK)
            steps.append(b.step)
            trajs.append(b.traj)
        assert (torch.cat(steps) < 2).any()  # start padding was exercised
        assert (torch.cat(trajs) == 6).any()  # and the 3-step trajectory


def test_future_offsets_in_range_and_cover_all(tiny):
    with TrajectorySampler(tiny, frame_stack=STACK, future_obs_offset=K, seed=0) as s:
        b = s.sample(2000)
        T = torch.where(b.traj == 6, 3, 20)
        assert int(b.offset.min()) == 1 and int(b.offset.max()) == K
        assert (b.step + b.offset <= T - 1).all() and (b.step <= T - 2).all()
        assert set(b.offset.tolist()) == set(range(1, K + 1))
        assert (s.sample(500, multi_step=False).offset == 1).all()
        assert torch.equal(b.future_obs[b.offset == 1], b.next_obs[b.offset == 1])


def test_stack_of_one_frame(tiny):
    with TrajectorySampler(tiny, frame_stack=1, future_obs_offset=2) as s:
        b = s.sample(16)
        assert b.obs.shape == (16, 3, 16, 16)
        _reference(tiny, b, 1)


@pytest.mark.parametrize("chunked", [False, True])
def test_determinism_by_seed(tiny, chunked):
    budget = _budget_mb_for_chunked(tiny, 24) if chunked else 64

    def draw(seed, prefetch=True):
        with TrajectorySampler(tiny, future_obs_offset=K, memory_budget_mb=budget, chunk_len=8, seed=seed,
                               prefetch=prefetch) as s:
            return [s.sample(24) for _ in range(5)]

    a, b, c = draw(7), draw(7), draw(8)
    no_thread = draw(7, prefetch=False)  # the prefetch thread changes timing, never content
    for x, y, z in zip(a, b, no_thread):
        for name in ("obs", "future_obs", "offset", "traj", "step", "actions"):
            assert torch.equal(getattr(x, name), getattr(y, name))
            assert torch.equal(getattr(x, name), getattr(z, name))
    assert not all(torch.equal(x.step, z.step) for x, z in zip(a, c))


def test_chunked_path_gives_the_same_batches_as_full_load(tiny):
    budget = _budget_mb_for_chunked(tiny, 17)
    with TrajectorySampler(tiny, future_obs_offset=K, memory_budget_mb=64) as full, \
            TrajectorySampler(tiny, future_obs_offset=K, memory_budget_mb=budget, chunk_len=4) as chunked:
        assert full.mode == "full" and chunked.mode == "chunked"
        pairs = list(zip(full.iterate(17), chunked.iterate(17)))
        assert sum(len(b) for b, _ in pairs) == full.num_transitions
        for x, y in pairs:
            for name in ("obs", "next_obs", "future_obs", "offset", "actions", "states", "traj", "step"):
                assert torch.equal(getattr(x, name), getattr(y, name)), name
        # explicit requests touching many chunks (more than the cache's free slots)
        rng = np.random.default_rng(0)
        j = rng.integers(0, 6, size=300)
        t = rng.integers(0, 19 - K, size=300)
        k = rng.integers(1, K + 1, size=300)
        x, y = full.gather(j, t, k), chunked.gather(j, t, k)
        for name in ("obs", "next_obs", "future_obs", "actions", "states", "traj", "step", "offset"):
            assert torch.equal(getattr(x, name), getattr(y, name)), name


def test_iterate_is_ordered_and_complete(tiny):
    with TrajectorySampler(tiny, traj_ids=[2, 6]) as s:
        batches = list(s.iterate(7))
        traj = torch.cat([b.traj for b in batches])
        step = torch.cat([b.step for b in batches])
        assert traj.tolist() == [2] * 19 + [6] * 2
        assert step.tolist() == list(range(19)) + [0, 1]
        assert all((b.offset == 1).all() for b in batches)
        assert list(s.iterate_held_out(100))[0].traj.shape == (21,)


def test_memory_budget_respected_and_chunks_cycle(tiny):
    budget = _budget_mb_for_chunked(tiny, 16)
    with TrajectorySampler(tiny, future_obs_offset=K, memory_budget_mb=budget, chunk_len=4, seed=0) as s:
        assert s.mode == "chunked"
        assert s.cache_nbytes == 0  # sized at the first request, from its batch size
        s.sample(16)
        assert 0 < s.cache_nbytes and s.cache_nbytes + s.reserve_nbytes <= budget * 2**20
        seen = set()
        for _ in range(60):
            b = s.sample(16)
            seen.update(zip(b.traj.tolist(), b.step.tolist()))
        assert s.cache_nbytes + s.reserve_nbytes <= budget * 2**20  # fixed slot array: no growth
        assert s._cache.loads > s._cache.num_slots  # chunks were replaced, not all resident
        # the epoch order sweeps all chunks: nearly every transition was drawn
        assert len(seen) >= 0.9 * s.num_transitions


def test_tiny_budget_shrinks_chunks_or_refuses(tiny):
    with TrajectorySampler(tiny, memory_budget_mb=0.2, chunk_len=128) as s:
        assert s.mode == "chunked" and s.chunk_len < 128
        _reference(tiny, s.sample(8), 3)
    with pytest.raises(ConfigError, match="memory_budget_mb"):
        TrajectorySampler(tiny, memory_budget_mb=0.001)


def test_split_trajectories():
    train, held = split_trajectories(20, 0.1, seed=0)
    assert len(held) == 2 and len(train) == 18 and not set(train) & set(held)
    assert sorted(train + held) == list(range(20))
    assert split_trajectories(20, 0.1, seed=0) == (train, held)
    assert split_trajectories(20, 0.1, seed=1) != (train, held)
    assert [len(x) for x in split_trajectories(2, 0.0, 0)] == [1, 1]
    assert [len(x) for x in split_trajectories(3, 0.9, 0)] == [1, 2]
    assert split_trajectories(1, 0.5, 0) == ([0], [])
    with pytest.raises(ConfigError):
        split_trajectories(10, 1.5, 0)


def test_to_float_range():
    x = torch.tensor([0, 255, 128], dtype=torch.uint8)
    y = to_float(x)
    assert y.dtype == torch.float32
    assert y[0] == -1.0 and y[1] == 1.0 and abs(float(y[2])) < 0.01


def test_bad_inputs_raise_dataset_errors(tiny, tmp_path):
    with pytest.raises(DatasetError, match="not found"):
        TrajectorySampler(tmp_path / "missing.h5")
    junk = tmp_path / "junk.h5"
    junk.write_bytes(b"not hdf5 at all")
    with pytest.raises(DatasetError, match="HDF5"):
        TrajectorySampler(junk)
    empty = tmp_path / "empty.h5"
    with h5py.File(empty, "w") as f:
        f.create_group("foo")
    with pytest.raises(DatasetError, match="layout"):
        TrajectorySampler(empty)
    with pytest.raises(DatasetError, match="trajectory 99"):
        TrajectorySampler(tiny, traj_ids=[0, 99])
    bad = tmp_path / "nan.h5"
    with h5py.File(bad, "w") as f:
        g = f.create_group("0")
        g.create_dataset("obs", data=np.zeros((5, 8, 8, 3), np.uint8))
        a = np.zeros((5, 2), np.float32)
        a[2, 1] = np.nan
        g.create_dataset("actions", data=a)
        g.create_dataset("states", data=np.zeros((5, 1), np.float32))
    with pytest.raises(DatasetError, match="NaN"):
        TrajectorySampler(bad)
    noobs = tmp_path / "noobs.h5"
    with h5py.File(noobs, "w") as f:
        f.create_group("0").create_dataset("actions", data=np.zeros((5, 2), np.float32))
    with pytest.raises(DatasetError, match="'obs'"):
        TrajectorySampler(noobs)
    with pytest.raises(ConfigError, match="frame_stack"):
        TrajectorySampler(tiny, frame_stack=0)


def test_locate_transitions_maps_flat_indices_to_trajectory_and_step():
    from laom_core.data.sampler import locate_transitions

    j, t = locate_transitions(np.array([3, 1, 4]), np.arange(5))  # 2 + 0 + 3 transitions
    assert j.tolist() == [0, 0, 2, 2, 2] and t.tolist() == [0, 1, 0, 1, 2]
