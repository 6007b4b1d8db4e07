#!/usr/bin/env bash
# Set up everything (Python packages, chromium) and run the whole test suite.
set -euo pipefail
cd "$(dirname "$0")"
bash scripts/setup.sh --browser
export MUJOCO_GL=${MUJOCO_GL:-egl}
exec python3 -m pytest "$@"
