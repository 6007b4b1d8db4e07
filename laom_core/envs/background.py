"""Background video distractor: a video plays on the skybox, behind the agent.

Each episode picks a clip, a start frame and a direction; with ``dynamic`` the clip plays
one frame per step and bounces at both ends, otherwise the start frame stays. The frame is
written into every face of the skybox texture (``model.tex_data``) and uploaded to the GL
context. The suite compiles the model with a small skybox (``face_size`` per face) so the
upload per step is cheap. The floor stays opaque for walker/cheetah/hopper and gets alpha
0.3 otherwise, so the video also shows through the ground.
"""
from __future__ import annotations

from collections import OrderedDict

import mujoco
import numpy as np

from laom_core.envs.videos import Clip
from laom_core.errors import EnvError

# Loaded clips kept per environment (resized to the face size, so each is small).
CLIP_CACHE_SIZE = 8


class BackgroundVideo:
    """Shows clips on the skybox of ``physics``; owns its random state."""

    def __init__(
        self,
        clips: list[Clip],
        *,
        dynamic: bool,
        seed: np.random.SeedSequence | int,
        ground_alpha: float = 1.0,
    ):
        if not clips:
            raise EnvError("background distractor needs at least one clip")
        self.clips = clips
        self.dynamic = dynamic
        self.ground_alpha = float(ground_alpha)
        self._rng = np.random.default_rng(seed)
        self._cache: OrderedDict[int, np.ndarray] = OrderedDict()
        self.clip_id = -1
        self.frame_index = -1
        self._direction = 1
        self._frames: np.ndarray | None = None
        self._texture_id = -1
        self._shown = (-2, -2)

    # -- binding to a model ------------------------------------------------------------

    def bind(self, physics) -> None:
        """Find the skybox texture and make the floor transparent where asked."""
        model = physics.model
        skyboxes = [i for i in range(model.ntex) if model.tex_type[i] == mujoco.mjtTexture.mjTEXTURE_SKYBOX]
        if not skyboxes:
            raise EnvError("this model has no skybox texture to show a background video on")
        tid = skyboxes[0]
        if model.tex_nchannel[tid] != 3:
            raise EnvError("skybox texture must be RGB")
        self._texture_id = tid
        width, height = int(model.tex_width[tid]), int(model.tex_height[tid])
        if height != 6 * width:
            raise EnvError(f"skybox texture {width}x{height} is not six square faces")
        self.face_size = width
        adr = int(model.tex_adr[tid])
        # A writable view of the six faces inside the model's texture buffer.
        self._faces = model.tex_data[adr : adr + 6 * width * width * 3].reshape(6, width, width, 3)
        if self.ground_alpha < 1.0:
            for g in _floor_geoms(model):
                mat = model.geom_matid[g]
                if mat >= 0:
                    model.mat_rgba[mat, 3] = self.ground_alpha
                else:
                    model.geom_rgba[g, 3] = self.ground_alpha
        self._shown = (-2, -2)

    # -- episode logic -------------------------------------------------------------------

    def reset(self) -> None:
        self.clip_id = int(self._rng.integers(len(self.clips)))
        self._frames = self._clip_frames(self.clip_id)
        n = len(self._frames)
        self.frame_index = int(self._rng.integers(n))
        self._direction = 1 if self._rng.uniform() < 0.5 else -1

    def advance(self) -> None:
        """Move to the next frame (dynamic only), bouncing at both ends."""
        if not self.dynamic or self._frames is None:
            return
        n = len(self._frames)
        if n == 1:
            return
        nxt = self.frame_index + self._direction
        if not 0 <= nxt < n:
            self._direction = -self._direction
            nxt = self.frame_index + self._direction
        self.frame_index = nxt

    def apply(self, renderer) -> None:
        """Put the current frame on the skybox (uploads only when the frame changed)."""
        key = (self.clip_id, self.frame_index)
        if key == self._shown:
            return
        # Faces show textures mirrored left-right; store the frame flipped so it reads
        # the right way round from inside the box.
        self._faces[:] = self._frames[self.frame_index][None, :, ::-1]
        renderer.upload_texture(self._texture_id)
        self._shown = key

    def state(self) -> dict:
        return {"clip_id": self.clip_id, "frame_index": self.frame_index}

    # -- clip cache ----------------------------------------------------------------------

    def _clip_frames(self, clip_id: int) -> np.ndarray:
        if clip_id in self._cache:
            self._cache.move_to_end(clip_id)
            return self._cache[clip_id]
        clip = self.clips[clip_id]
        frames = square_resize(clip.frames, self.face_size)
        clip.release()
        self._cache[clip_id] = frames
        while len(self._cache) > CLIP_CACHE_SIZE:
            self._cache.popitem(last=False)
        return frames


def _floor_geoms(model) -> list[int]:
    """Plane geoms on the world body: the ground (not walls or the agent)."""
    return [
        g
        for g in range(model.ngeom)
        if model.geom_type[g] == mujoco.mjtGeom.mjGEOM_PLANE and model.geom_bodyid[g] == 0
        and abs(model.geom_quat[g][0]) > 0.99  # horizontal: identity orientation
    ]


def square_resize(frames: np.ndarray, size: int) -> np.ndarray:
    """Centre-crop frames to a square and resize to ``size`` (bilinear)."""
    t, h, w, _ = frames.shape
    side = min(h, w)
    top, left = (h - side) // 2, (w - side) // 2
    frames = frames[:, top : top + side, left : left + side]
    if side == size:
        return np.ascontiguousarray(frames)
    from PIL import Image

    return np.stack([np.asarray(Image.fromarray(f).resize((size, size), Image.BILINEAR)) for f in frames])
