#!/usr/bin/env bash
# Installs what LAOM Studio needs on a fresh Debian machine with Python 3.11:
# the Python packages of requirements.txt and, with --browser, Debian's chromium for
# the end-to-end tests. Safe to run again: it skips what is already there.
set -euo pipefail
cd "$(dirname "$0")/.."

PY=${PYTHON:-python3}
stamp=.setup-stamp
if [ ! -f "$stamp" ] || [ requirements.txt -nt "$stamp" ] || ! "$PY" -c "import torch, dm_control, streamlit, h5py, umap" 2>/dev/null; then
  echo "[setup] installing Python packages (requirements.txt)" >&2
  "$PY" -m pip install --disable-pip-version-check -q -r requirements.txt
  touch "$stamp"
fi

need_apt=()
if [ "${1:-}" = "--browser" ] && ! command -v chromium >/dev/null 2>&1; then
  need_apt+=(chromium)
fi
# EGL through Mesa for headless MuJoCo rendering.
if ! ldconfig -p 2>/dev/null | grep -q libEGL.so.1; then
  need_apt+=(libegl1 libgl1-mesa-dri libgles2)
fi
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "[setup] installing Debian packages: ${need_apt[*]}" >&2
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi
