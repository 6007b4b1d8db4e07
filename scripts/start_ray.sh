#!/usr/bin/env bash
# Start a local Ray head (localhost only) for the ray backend's tests and for trying it by hand.
#
#   bash scripts/start_ray.sh          # pip install "ray[default]" if missing, start; idempotent
#   bash scripts/start_ray.sh --stop   # ray stop
#
# Jobs address: http://127.0.0.1:${LAOM_RAY_DASHBOARD_PORT:-8265} (what --ray-address takes).
set -euo pipefail
PORT=${LAOM_RAY_PORT:-6390}
DASH=${LAOM_RAY_DASHBOARD_PORT:-8265}
PY=${PYTHON:-python3}

if [[ "${1:-}" == "--stop" ]]; then
    "$PY" -m ray.scripts.scripts stop >/dev/null 2>&1 || true
    exit 0
fi
if ! "$PY" -c "import ray.job_submission, ray.dashboard" >/dev/null 2>&1; then
    echo "installing ray[default] (pip)" >&2
    "$PY" -m pip install -q "ray[default]"
fi
up() {
    "$PY" - "$DASH" <<'PYEOF' >/dev/null 2>&1
import sys
from ray.job_submission import JobSubmissionClient
JobSubmissionClient(f"http://127.0.0.1:{sys.argv[1]}").list_jobs()
PYEOF
}
if up; then
    echo "ray up: http://127.0.0.1:$DASH (already running)"
    exit 0
fi
RAY_USAGE_STATS_ENABLED=0 "$PY" -m ray.scripts.scripts start --head --node-ip-address 127.0.0.1 --port "$PORT" \
    --dashboard-host 127.0.0.1 --dashboard-port "$DASH" --num-cpus "${LAOM_RAY_CPUS:-$(nproc)}" \
    --disable-usage-stats >/dev/null
for _ in $(seq 120); do
    if up; then echo "ray up: http://127.0.0.1:$DASH"; exit 0; fi
    sleep 0.5
done
echo "error: the Ray head did not answer on http://127.0.0.1:$DASH" >&2
exit 1
