#!/usr/bin/env bash
# Set up everything (Python packages, chromium) and run the whole test suite.
set -euo pipefail
cd "$(dirname "$0")"
bash scripts/setup.sh --browser
export MUJOCO_GL=${MUJOCO_GL:-egl}
# Cluster backends (tests/cluster): start a single-node Slurm and a local Ray head when the
# whole suite or tests/cluster runs. LAOM_CLUSTER=none skips starting them (their tests then
# skip, saying why), LAOM_CLUSTER=slurm starts Slurm only. A cluster that started must run
# its tests (LAOM_CLUSTER_TESTS lists them); one that failed to start is reported here.
want=${LAOM_CLUSTER:-all}
if [[ "$want" != none ]] && { [[ $# -eq 0 ]] || [[ "$*" == *cluster* ]]; }; then
  started=()
  if bash scripts/start_slurm.sh; then started+=(slurm); else echo "[test] WARNING: Slurm did not start; its tests skip" >&2; fi
  stop_ray=0
  if [[ "$want" == all ]]; then
    if out=$(bash scripts/start_ray.sh); then
      echo "$out"; started+=(ray)
      [[ "$out" == *"already running"* ]] || stop_ray=1  # leave no Ray head behind that we started
    else
      echo "[test] WARNING: Ray did not start; its tests skip" >&2
    fi
  fi
  export LAOM_CLUSTER_TESTS=$(IFS=,; echo "${started[*]:-}")
  rc=0
  python3 -m pytest "$@" || rc=$?
  if [[ "$stop_ray" == 1 ]]; then bash scripts/start_ray.sh --stop; fi
  exit $rc
fi
exec python3 -m pytest "$@"
