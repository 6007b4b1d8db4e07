#!/usr/bin/env python3
"""Build the trimmed site-packages folder that travels with the working tree to a GPU machine.

The device machine's image has Python 3.12, torch (CUDA), h5py, imageio, scikit-learn and
numba, but no MuJoCo, no dm_control and no package registry, and a call carries at most
64 MiB in all. This script downloads the wheels of what the suite tasks, EGL rendering and
laom_core's train/collect paths import beyond that image, unpacks them into
``.gpu_carry/site`` (ignored by git) and drops what those paths never load: dm_control's
locomotion/soccer/dog meshes, tests and test assets, MuJoCo's Studio/Filament renderer,
plugins, headers and introspection data. ``bench/gpu_check.py`` puts the folder on
``sys.path`` (and on ``PYTHONPATH`` for its subprocesses) when it exists.

    python scripts/build_gpu_carry.py                  # cp312 for the device (default)
    python scripts/build_gpu_carry.py --python-version 3.11 --out /tmp/carry311 --check

``--check`` (only when --python-version is this interpreter's) imports and renders with
the carry in an interpreter that sees nothing else of this machine's site-packages but
the packages the device image has (torch, numpy, h5py, imageio, scikit-learn, numba and
their dependencies): a distracted cheetah-run step rendered with EGL, and ``dm_control.suite``.
"""
from __future__ import annotations

import argparse
import fnmatch
import json
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

# Pinned where the project pins them (requirements.txt); the rest are pure or small.
PACKAGES = [
    "mujoco==3.17.0",
    "dm_control==1.0.50",
    "dm-env",        # dm_control.rl.control
    "absl-py",       # dm_control, mujoco flags/logging
    "lxml",          # dm_control.utils.xml_tools (suite domains edit their XML)
    "PyOpenGL",      # EGL bindings (mujoco.egl, dm_control._render.pyopengl)
    "tqdm",          # laom_core progress bars
    "PyYAML",        # laom_core.config
    "psutil",        # laom_core system metrics (optional there, small)
]

# Relative to the site folder; fnmatch patterns on POSIX paths. A directory match drops the tree.
DROP = [
    # dm_control: only dm_control.suite (+ its rl, mujoco, utils, _render modules) is used
    "dm_control/locomotion", "dm_control/suite/dog_assets", "dm_control/mujoco/testing",
    "dm_control/blender", "dm_control/mjcf/test_assets", "dm_control/third_party/kinova",
    "dm_control/manipulation", "dm_control/composer", "dm_control/entities", "dm_control/viewer",
    "dm_control/locomotion", "dm_control/autowrap", "dm_control/mjcf/testdata",
    # mujoco: the classic renderer only; no Studio/Filament, plugins, headers, sysid, usd
    "mujoco/experimental", "mujoco/_render_filament.*", "mujoco/plugin", "mujoco/include",
    "mujoco/introspect", "mujoco/testdata", "mujoco/sysid", "mujoco/usd", "mujoco/_simulate.*",
    "mujoco/viewer.py", "mujoco/mjrf.py", "mujoco/msh2obj.py", "mujoco/minimize.py", "mujoco/cgl",
    "mujoco/_batch.*", "mujoco/batch.py", "mujoco/_rollout.*", "mujoco/rollout.py",
    # PyOpenGL: EGL and desktop GL core/ARB/KHR (what mujoco.egl and dm_control's EGL renderer load)
    "OpenGL/DLLS", "OpenGL/WGL", "OpenGL/AGL", "OpenGL/Tk", "OpenGL/GLE", "OpenGL/GLU", "OpenGL/GLUT",
    "OpenGL/GLES1", "OpenGL/GLES2", "OpenGL/GLES3", "OpenGL/GLX", "OpenGL/raw/WGL", "OpenGL/raw/AGL",
    "OpenGL/raw/GLE", "OpenGL/raw/GLU", "OpenGL/raw/GLUT", "OpenGL/raw/GLES1", "OpenGL/raw/GLES2",
    "OpenGL/raw/GLES3", "OpenGL/raw/GLX", "OpenGL/GL/*/*", "OpenGL/raw/GL/*/*",
    # PyYAML: the pure-Python loader (laom_core uses safe_load; the C extension is optional)
    "yaml/_yaml.*", "_yaml",
    # lxml: etree only
    "lxml/objectify.*", "lxml/html", "lxml/isoschematron", "lxml/includes", "lxml/sax.*",
    "lxml/builder.*", "lxml/*.h", "lxml/*.pyx", "lxml/*.pxd", "lxml/*.pxi",
    # everywhere
    "*/__pycache__", "*_test.py", "*/tests", "*/testing/*_test*", "*.dist-info/RECORD",
]
# Kept even where DROP matches: the GL extension families that OpenGL.GL itself imports.
KEEP = ["OpenGL/GL/ARB/*", "OpenGL/GL/KHR/*", "OpenGL/GL/VERSION/*", "OpenGL/raw/GL/ARB/*", "OpenGL/raw/GL/KHR/*",
        "OpenGL/raw/GL/VERSION/*"]
# What the train/collect paths import from the trees dropped above must stay importable: --check.
LIMIT_MB = 48.0


def _tag(version: str) -> str:
    return "cp" + version.replace(".", "")


def download(version: str, wheels: Path) -> list[Path]:
    wheels.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, "-m", "pip", "download", "--only-binary=:all:", "--no-deps", "--python-version", version,
           "--implementation", "cp", "--abi", _tag(version), "--abi", "abi3", "--abi", "none",
           "--platform", "manylinux_2_17_x86_64", "--platform", "manylinux2014_x86_64",
           "--platform", "manylinux_2_28_x86_64", "--platform", "any", "-d", str(wheels), *PACKAGES]
    print("+", " ".join(cmd), flush=True)
    subprocess.run(cmd, check=True)
    return sorted(wheels.glob("*.whl"))


def _dropped(rel: str) -> bool:
    if any(fnmatch.fnmatch(rel, pattern) for pattern in KEEP):
        return False
    for pattern in DROP:
        if fnmatch.fnmatch(rel, pattern) or fnmatch.fnmatch(rel, pattern + "/*"):
            return True
        if pattern.startswith("*/") and fnmatch.fnmatch("/" + rel, "*/" + pattern[2:]):
            return True
        if pattern.startswith("*/") and fnmatch.fnmatch("/" + rel, "*/" + pattern[2:] + "/*"):
            return True
    return False


def unpack(wheel_files: list[Path], site: Path) -> tuple[int, int]:
    """Unpack every wheel into ``site`` skipping DROP; returns (bytes kept, bytes dropped)."""
    if site.exists():
        shutil.rmtree(site)
    site.mkdir(parents=True)
    kept = dropped = 0
    for wheel in wheel_files:
        with zipfile.ZipFile(wheel) as z:
            for info in z.infolist():
                if info.is_dir():
                    continue
                rel = info.filename
                if rel.split("/", 1)[0].endswith(".data"):  # wheel .data folders (scripts, headers)
                    dropped += info.file_size
                    continue
                if _dropped(rel):
                    dropped += info.file_size
                    continue
                target = site / rel
                target.parent.mkdir(parents=True, exist_ok=True)
                with z.open(info) as src, open(target, "wb") as dst:
                    shutil.copyfileobj(src, dst)
                mode = (info.external_attr >> 16) & 0o777
                if mode:
                    os.chmod(target, mode)
                kept += info.file_size
    return kept, dropped


def folder_mb(path: Path) -> float:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) / 2**20


# ----------------------------------------------------------------------------- check
# Top-level modules of the device image (torch, numpy, h5py, imageio, scikit-learn, numba
# and what they depend on): the check sees these from this machine and nothing else.
IMAGE_MODULES = [
    "torch", "torchgen", "functorch", "numpy", "numpy.libs", "h5py", "h5py.libs", "imageio", "PIL", "pillow.libs",
    "sklearn", "scikit_learn.libs", "scipy", "scipy.libs", "joblib", "threadpoolctl.py", "numba", "llvmlite",
    "sympy", "mpmath", "networkx", "jinja2", "markupsafe", "fsspec", "filelock", "typing_extensions.py",
    "setuptools", "pkg_resources", "_distutils_hack",
]

CHECK_SCRIPT = r"""
import os, sys
os.environ.setdefault("MUJOCO_GL", "egl")
import numpy as np
from dm_control import suite
import dm_control, mujoco
carry = os.environ["CARRY_SITE"]
assert dm_control.__file__.startswith(carry) and mujoco.__file__.startswith(carry), (dm_control.__file__, mujoco.__file__)
env = suite.load("cheetah", "run")
env.reset()
pixels = env.physics.render(64, 64, camera_id=0)
assert pixels.shape == (64, 64, 3) and pixels.std() > 0
from laom_core.envs import make_env
e = make_env(task="cheetah-run", difficulty="scale_easy_video_hard", split="train", seed=0, img_size=64)
s = e.reset()
for _ in range(3):
    s = e.step(np.zeros(6, dtype=np.float32))
assert s.pixels.shape == (64, 64, 3)
import laom_core.cli, laom_core.collect, laom_core.training.methods, laom_core.experts.sac_policy  # noqa: F401
print("carry check ok:", dm_control.__file__, mujoco.__version__, "pixels", s.pixels.shape)
"""


def check(site: Path) -> None:
    import importlib.util

    sp = Path(importlib.util.find_spec("numpy").origin).parents[1]
    with tempfile.TemporaryDirectory(prefix="image-") as tmp:
        image = Path(tmp)
        for name in IMAGE_MODULES:
            src = sp / name
            if src.exists():
                (image / name).symlink_to(src)
        for info in sp.glob("*.dist-info"):  # metadata lookups (importlib.metadata) of image packages
            (image / info.name).symlink_to(info)
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), str(image), str(REPO)]),
               "CARRY_SITE": str(site), "PYTHONNOUSERSITE": "1", "MUJOCO_GL": "egl"}
        subprocess.run([sys.executable, "-S", "-c", CHECK_SCRIPT], check=True, env=env, cwd=tmp)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--python-version", default="3.12", help="target interpreter (device: 3.12)")
    parser.add_argument("--out", type=Path, default=REPO / ".gpu_carry", help="folder (site/ and wheels-cpXY/ inside)")
    parser.add_argument("--check", action="store_true", help="import and render with the carry in an image-like "
                        "interpreter (needs --python-version equal to this interpreter's)")
    args = parser.parse_args(argv)

    wheels = args.out / f"wheels-{_tag(args.python_version)}"
    site = args.out / "site"
    files = download(args.python_version, wheels)
    kept, dropped = unpack(files, site)
    # bench/gpu_check.py uses the folder only under the interpreter it was built for
    (site / "carry.json").write_text(json.dumps({"python": args.python_version, "wheels": [f.name for f in files]},
                                                indent=1) + "\n", encoding="utf-8")
    size = folder_mb(site)
    print(f"{len(files)} wheels -> {site}: {size:.1f} MiB kept ({kept / 2**20:.1f} MiB of files), "
          f"{dropped / 2**20:.1f} MiB dropped")
    for child in sorted(site.iterdir(), key=lambda p: -folder_mb(p) if p.is_dir() else -p.stat().st_size)[:8]:
        mb = folder_mb(child) if child.is_dir() else child.stat().st_size / 2**20
        print(f"    {mb:6.1f} MiB  {child.name}")
    if size > LIMIT_MB:
        print(f"error: the carry is {size:.1f} MiB, over {LIMIT_MB} MiB (the working tree must fit beside it "
              "under 64 MiB)", file=sys.stderr)
        return 1
    if args.check:
        here = f"{sys.version_info.major}.{sys.version_info.minor}"
        if here != args.python_version:
            print(f"error: --check needs --python-version {here} (this interpreter)", file=sys.stderr)
            return 2
        check(site.resolve())
    return 0


if __name__ == "__main__":
    sys.exit(main())
