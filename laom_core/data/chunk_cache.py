"""A fixed-size pool of memory slots holding trajectory chunks, with LRU eviction.

The sampler's chunked path (datasets larger than the memory budget) keeps trajectory
chunks in one preallocated array of equal-size *slots*, so a batch is assembled with a
single numpy fancy index over ``obs.reshape(-1, 3, H, W)`` whatever chunks it touches.
The array is sized once from the budget, which makes the accounting exact: the cache
never holds more than ``nbytes`` bytes, however many chunks pass through it.

Slots are either *pinned* (in the sampler's random pool, or being filled by the
prefetch thread) or *unpinned* (cached, evictable, least recently used first).
"""
from __future__ import annotations

from collections import OrderedDict

import numpy as np


class ChunkCache:
    """``num_slots`` slots of ``frames_per_slot`` steps each: obs (3,H,W) uint8, actions, states.

    A slot holds the steps ``[lo, lo + count)`` of one trajectory chunk; the caller owns
    the meaning of keys (here: a global chunk index) and fills slots itself (so a
    background thread can fill a pinned slot while the main thread reads others).
    """

    def __init__(
        self,
        num_slots: int,
        frames_per_slot: int,
        img_hw: tuple[int, int],
        action_dim: int,
        state_dim: int,
    ) -> None:
        if num_slots < 1 or frames_per_slot < 1:
            raise ValueError("a chunk cache needs at least one slot of at least one frame")
        h, w = img_hw
        self.num_slots = num_slots
        self.frames_per_slot = frames_per_slot
        # np.empty commits pages lazily: resident memory grows as slots are filled, up to nbytes.
        self.obs = np.empty((num_slots, frames_per_slot, 3, h, w), dtype=np.uint8)
        self.actions = np.empty((num_slots, frames_per_slot, action_dim), dtype=np.float32)
        self.states = np.empty((num_slots, frames_per_slot, state_dim), dtype=np.float32)
        self.lo = np.zeros(num_slots, dtype=np.int64)  # first step (within its trajectory) held
        self.key_of_slot = np.full(num_slots, -1, dtype=np.int64)
        self._slot_of: dict[int, int] = {}
        self._lru: OrderedDict[int, None] = OrderedDict((s, None) for s in range(num_slots))
        self._pinned: set[int] = set()
        self.loads = 0  # number of chunk loads (misses), for tests and benchmarks

    @staticmethod
    def slot_nbytes(frames_per_slot: int, img_hw: tuple[int, int], action_dim: int, state_dim: int) -> int:
        """Bytes one slot takes (obs + actions + states)."""
        h, w = img_hw
        return frames_per_slot * (3 * h * w + 4 * (action_dim + state_dim))

    @property
    def nbytes(self) -> int:
        """Bytes of the slot arrays (the cache's whole footprint, fixed at construction)."""
        return self.obs.nbytes + self.actions.nbytes + self.states.nbytes

    @property
    def num_unpinned(self) -> int:
        return len(self._lru)

    def lookup(self, key: int) -> int:
        """The slot holding ``key``, or -1. A hit on an unpinned slot refreshes its recency."""
        slot = self._slot_of.get(int(key), -1)
        if slot >= 0 and slot in self._lru:
            self._lru.move_to_end(slot)
        return slot

    def acquire(self) -> int:
        """Take the least recently used unpinned slot, forget what it held, and pin it."""
        if not self._lru:
            raise RuntimeError("chunk cache: every slot is pinned")
        slot, _ = self._lru.popitem(last=False)
        old = int(self.key_of_slot[slot])
        if old >= 0:
            del self._slot_of[old]
            self.key_of_slot[slot] = -1
        self._pinned.add(slot)
        return slot

    def commit(self, slot: int, key: int, lo: int) -> None:
        """Declare that pinned ``slot`` now holds chunk ``key`` starting at step ``lo``."""
        self.key_of_slot[slot] = key
        self.lo[slot] = lo
        self._slot_of[int(key)] = slot
        self.loads += 1

    def release(self, slot: int) -> None:
        """Unpin ``slot``; it stays cached (most recently used) until evicted."""
        self._pinned.discard(slot)
        self._lru[slot] = None
        self._lru.move_to_end(slot)
