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
