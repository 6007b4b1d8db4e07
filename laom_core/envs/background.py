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
        # The six faces inside the model's texture buffer (MuJoCo's order). Per-step frames
        # go straight to the GPU; this view is for tools that rebuild the texture in full.
        self._faces = model.tex_data[adr : adr + 6 * width * width * 3].reshape(6, width, width, 3)
        if self.ground_alpha < 1.0:
            for g in _floor_geoms(model):
                mat = model.geom_matid[g]
                if mat >= 0:
                    model.mat_rgba[mat, 3] = self.ground_alpha
                else:
                    model.geom_rgba[g, 3] = self.ground_alpha
        self._shown = (-2, -2)
        self._uploaded: set[int] = set()

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
        """Put the current frame on the skybox faces the camera can see.

        Faces are uploaded straight to the GL texture (``model.tex_data`` keeps the
        initial gradient); a face is re-sent only when the frame changed or it comes
        into view, so a static background costs nothing per step.
        """
        key = (self.clip_id, self.frame_index)
        if key != self._shown:
            self._shown = key
            self._uploaded = set()
        faces = visible_skybox_faces(renderer.scene.camera[0]) - self._uploaded
        if faces:
            renderer.upload_cube_faces(self._texture_id, self._frames[self.frame_index], sorted(faces))
            self._uploaded |= faces

    def state(self) -> dict:
        return {"clip_id": self.clip_id, "frame_index": self.frame_index}

    # -- clip cache ----------------------------------------------------------------------

    def _clip_frames(self, clip_id: int) -> np.ndarray:
        if clip_id in self._cache:
            self._cache.move_to_end(clip_id)
            return self._cache[clip_id]
        clip = self.clips[clip_id]
        # Skybox faces show textures mirrored left-right: store frames flipped so they
        # read the right way round from inside the box.
        frames = np.ascontiguousarray(square_resize(clip.frames, self.face_size)[:, :, ::-1])
        clip.release()
        self._cache[clip_id] = frames
        while len(self._cache) > CLIP_CACHE_SIZE:
            self._cache.popitem(last=False)
        return frames


# World direction -> skybox face index (MuJoCo turns the cube so that +z is up).
_FACE_OF_AXIS = {(0, 1): 0, (0, -1): 1, (2, 1): 2, (2, -1): 3, (1, -1): 4, (1, 1): 5}


def visible_skybox_faces(gl_camera) -> set[int]:
    """Faces of the skybox cube seen by a scene camera (``mjvGLCamera``), exactly.

    A cube face spans 90 degrees, more than the field of view, so a face in view always
    crosses the border of the image. The border is four straight segments on the image
    plane; along each, the face can only change where two coordinates of the view ray
    have equal magnitude, so checking the pieces between those points finds every face.
    Plain Python floats: this runs every frame and numpy's per-call overhead dominates.
    """
    fx, fy, fz = gl_camera.forward.tolist()
    ux, uy, uz = gl_camera.up.tolist()
    rx, ry, rz = fy * uz - fz * uy, fz * ux - fx * uz, fx * uy - fy * ux
    near = gl_camera.frustum_near
    bottom, top = gl_camera.frustum_bottom, gl_camera.frustum_top
    half_w = gl_camera.frustum_width or (top - bottom) / 2  # 0 until drawn: square image
    # 5% beyond the frustum so rounding at the image edge cannot miss a face.
    mid_y, half_h = (top + bottom) / 2, 1.05 * (top - bottom) / 2
    x0, x1 = gl_camera.frustum_center - 1.05 * half_w, gl_camera.frustum_center + 1.05 * half_w
    corners = []
    for x, y in ((x0, mid_y - half_h), (x1, mid_y - half_h), (x1, mid_y + half_h), (x0, mid_y + half_h)):
        corners.append((near * fx + x * rx + y * ux, near * fy + x * ry + y * uy, near * fz + x * rz + y * uz))
    faces = set()
    for k in range(4):
        a, b = corners[k], corners[(k + 1) % 4]
        d = (b[0] - a[0], b[1] - a[1], b[2] - a[2])
        cuts = [0.0, 1.0]
        for i, j in ((0, 1), (0, 2), (1, 2)):
            for sign in (1.0, -1.0):  # a_i + t d_i = sign * (a_j + t d_j)
                den = d[i] - sign * d[j]
                if abs(den) > 1e-12:
                    t = (sign * a[j] - a[i]) / den
                    if 0.0 < t < 1.0:
                        cuts.append(t)
        cuts.sort()
        points = cuts + [(p + q) / 2 for p, q in zip(cuts, cuts[1:])]
        for t in points:
            ray = (a[0] + t * d[0], a[1] + t * d[1], a[2] + t * d[2])
            mags = (abs(ray[0]), abs(ray[1]), abs(ray[2]))
            axis = 0 if mags[0] >= mags[1] and mags[0] >= mags[2] else (1 if mags[1] >= mags[2] else 2)
            faces.add(_FACE_OF_AXIS[(axis, 1 if ray[axis] > 0 else -1)])
    return faces


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
