"""LAOM Studio core: distracting control, datasets, latent action models, run store.

This package never imports streamlit; the dashboard pages are thin views over it.
"""
import os

# MuJoCo picks its GL backend at import time. EGL works headless (GPU or Mesa llvmpipe);
# respect a user's explicit choice.
os.environ.setdefault("MUJOCO_GL", "egl")
if os.environ["MUJOCO_GL"] == "egl":
    os.environ.setdefault("PYOPENGL_PLATFORM", "egl")

__version__ = "0.1.0"
