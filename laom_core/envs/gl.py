"""What to tell the user when MuJoCo cannot render (imports nothing that needs GL)."""
from __future__ import annotations

import os

from laom_core.errors import EnvError

GL_INSTALL_HINT = (
    "no working OpenGL backend for MuJoCo (MUJOCO_GL={backend}). Install EGL/Mesa "
    "(Debian/Ubuntu: apt-get install libegl1 libgl1-mesa-dri) and use MUJOCO_GL=egl, or "
    "OSMesa (apt-get install libosmesa6) with MUJOCO_GL=osmesa"
)


def gl_error(exc: BaseException) -> EnvError:
    backend = os.environ.get("MUJOCO_GL", "unset")
    return EnvError(GL_INSTALL_HINT.format(backend=backend) + f" ({type(exc).__name__}: {exc})")


def import_suite():
    """``dm_control.suite``, imported on first use (it loads MuJoCo and a GL backend, which
    most callers of the envs package never need); a missing GL library becomes an EnvError
    with an install hint."""
    try:
        from dm_control import suite  # deferred on purpose: heavy, and needs a GL backend
    except Exception as exc:  # EGL/OSMesa libraries missing surface here
        raise gl_error(exc) from None
    return suite
