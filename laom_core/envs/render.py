"""A small offscreen renderer bound to one physics and one camera.

dm_control's ``physics.render`` builds a new scene per call; collection renders every step,
so this keeps one ``MjvScene`` and one pixel buffer per environment. Between updating the
scene and drawing it, distractors may edit the scene camera (camera shake) and textures
uploaded to the GL context (background video).
"""
from __future__ import annotations

import mujoco
import numpy as np

from laom_core.envs.gl import gl_error
from laom_core.errors import EnvError

class Renderer:
    """Renders ``camera_id`` of ``physics`` at ``size`` x ``size`` RGB."""

    def __init__(self, physics, size: int, camera_id: int, fast: bool = False):
        model = physics.model
        if not 0 <= camera_id < model.ncam:
            raise EnvError(f"camera id {camera_id} out of range: the model has {model.ncam} cameras")
        # The offscreen buffer must hold the image; it is sized when the context is made.
        model.vis.global_.offwidth = max(int(model.vis.global_.offwidth), size)
        model.vis.global_.offheight = max(int(model.vis.global_.offheight), size)
        self.physics = physics
        self.size = size
        self.camera_id = camera_id
        try:
            self._contexts = physics.contexts  # creates the GL context on first use
        except Exception as exc:  # dm_control raises several types when GL is missing
            raise gl_error(exc) from exc
        self.scene = mujoco.MjvScene(model.ptr, maxgeom=max(1000, 2 * model.ngeom + 100))
        self._option = mujoco.MjvOption()
        self._perturb = mujoco.MjvPerturb()
        self._camera = mujoco.MjvCamera()
        self._camera.type = mujoco.mjtCamera.mjCAMERA_FIXED
        self._camera.fixedcamid = camera_id
        self._rect = mujoco.MjrRect(0, 0, size, size)
        self._buffer = np.empty((size, size, 3), dtype=np.uint8)
        self._linear_textures: set[int] = set()
        if fast:
            self.scene.flags[mujoco.mjtRndFlag.mjRND_SHADOW] = 0
            self.scene.flags[mujoco.mjtRndFlag.mjRND_REFLECTION] = 0

    def update_scene(self) -> None:
        mujoco.mjv_updateScene(
            self.physics.model.ptr,
            self.physics.data.ptr,
            self._option,
            self._perturb,
            self._camera,
            mujoco.mjtCatBit.mjCAT_ALL,
            self.scene,
        )

    def draw(self) -> np.ndarray:
        """Draw the current scene; returns a new (size, size, 3) uint8 array, top row first."""
        with self._contexts.gl.make_current() as ctx:
            ctx.call(self._draw_on_gl_thread)
        return np.ascontiguousarray(self._buffer[::-1])

    def render(self) -> np.ndarray:
        self.update_scene()
        return self.draw()

    def _draw_on_gl_thread(self) -> None:
        con = self._contexts.mujoco.ptr
        mujoco.mjr_setBuffer(mujoco.mjtFramebuffer.mjFB_OFFSCREEN, con)
        mujoco.mjr_render(self._rect, self.scene, con)
        mujoco.mjr_readPixels(self._buffer, None, self._rect, con)

    def upload_cube_faces(self, texture_id: int, image: np.ndarray, faces) -> None:
        """Put ``image`` (F, F, 3) uint8 on some faces of a cube (skybox) texture on the GPU.

        Much cheaper than :meth:`upload_texture`, which re-sends all six faces from
        ``model.tex_data`` and rebuilds the mipmaps: only level 0 of the listed faces is
        replaced, and the texture's minification filter is switched to plain linear once,
        so stale mipmap levels are never sampled.
        """
        with self._contexts.gl.make_current() as ctx:
            ctx.call(self._upload_faces_on_gl_thread, texture_id, image, tuple(faces))

    def _upload_faces_on_gl_thread(self, texture_id: int, image: np.ndarray, faces: tuple) -> None:
        from OpenGL import GL

        con = self._contexts.mujoco.ptr
        size = image.shape[0]
        GL.glBindTexture(GL.GL_TEXTURE_CUBE_MAP, int(con.texture[texture_id]))
        if texture_id not in self._linear_textures:
            GL.glTexParameteri(GL.GL_TEXTURE_CUBE_MAP, GL.GL_TEXTURE_MIN_FILTER, GL.GL_LINEAR)
            GL.glPixelStorei(GL.GL_UNPACK_ALIGNMENT, 1)
            self._linear_textures.add(texture_id)
        for face in faces:
            GL.glTexSubImage2D(
                GL.GL_TEXTURE_CUBE_MAP_POSITIVE_X + int(face), 0, 0, 0, size, size,
                GL.GL_RGB, GL.GL_UNSIGNED_BYTE, image,
            )

    def upload_texture(self, texture_id: int) -> None:
        """Send ``model.tex_data`` of one texture to the GPU (after editing it)."""
        with self._contexts.gl.make_current() as ctx:
            ctx.call(
                mujoco.mjr_uploadTexture, self.physics.model.ptr, self._contexts.mujoco.ptr, texture_id
            )
