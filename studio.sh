#!/usr/bin/env bash
# Set up everything and start the LAOM Studio dashboard on http://localhost:8501
# (localhost only; pass --server.address 0.0.0.0 explicitly to expose it).
set -euo pipefail
cd "$(dirname "$0")"
bash scripts/setup.sh
export MUJOCO_GL=${MUJOCO_GL:-egl}
exec python3 -m streamlit run app.py --server.address localhost --server.port "${PORT:-8501}" --server.headless true --browser.gatherUsageStats false "$@"
