"""The ``ray`` backend: one Ray job per run on an existing Ray cluster (Ray Jobs API).

Options: ``address`` (the cluster's dashboard/jobs address, default
``http://127.0.0.1:8265`` or ``RAY_ADDRESS``), ``gpus`` and ``cpus`` for the entrypoint.
The submission id is the run id (``<run id>.<attempt>`` from the second attempt on: Ray
keeps ids unique). Ray takes the entrypoint as one command line; it is built from the
argument list with :func:`shlex.join`, so no argument is ever interpreted by a shell.
"""
from __future__ import annotations

import os
import shlex
import time

from laom_core.errors import ConfigError, RunError
from laom_core.runs.backends.base import JobState

DEFAULT_ADDRESS = "http://127.0.0.1:8265"
OPTION_KEYS = ("address", "gpus", "cpus")
_STATES = {"PENDING": "pending", "RUNNING": "running", "SUCCEEDED": "done", "FAILED": "failed",
           "STOPPED": "cancelled"}


def address_of(opts: dict) -> str:
    return str(opts.get("address") or os.environ.get("RAY_ADDRESS") or DEFAULT_ADDRESS)


_CLIENTS: dict[str, object] = {}


def _client(address: str):
    """One JobSubmissionClient per address (each new one makes an HTTP handshake)."""
    from ray.job_submission import JobSubmissionClient

    client = _CLIENTS.get(address)
    if client is None:
        client = _CLIENTS[address] = JobSubmissionClient(address)
    return client


def submission_id(run: dict, attempt: int) -> str:
    return run["id"] if attempt <= 1 else f"{run['id']}.{attempt}"


class RayBackend:
    name = "ray"

    def check(self, opts: dict) -> None:
        unknown = set(opts) - set(OPTION_KEYS)
        if unknown:
            raise ConfigError(f"unknown ray option(s) {', '.join(sorted(unknown))} (known: {', '.join(OPTION_KEYS)})")
        for key in ("gpus", "cpus"):
            if key in opts and (not isinstance(opts[key], (int, float)) or opts[key] < 0):
                raise ConfigError(f"ray option {key} must be a number >= 0, got {opts[key]!r}")
        try:
            import ray.job_submission  # noqa: F401
        except ImportError as exc:
            raise ConfigError("the ray backend needs Ray: pip install 'laom-studio[cluster]' "
                              "(or pip install 'ray[default]')") from exc
        address = address_of(opts)
        try:
            _CLIENTS.pop(address, None)
            _client(address).list_jobs()
        except Exception as exc:  # noqa: BLE001 - connection errors of several kinds
            raise ConfigError(f"no Ray cluster is reachable at {address} ({type(exc).__name__}); "
                              "start one (scripts/start_ray.sh) or pass its address") from None

    def submit(self, run: dict, argv: list[str], env: dict[str, str], opts: dict) -> str:
        attempt = int(run.get("attempts") or 0) + 1
        env = {k: v for k, v in env.items() if k not in ("PATH", "HOME")}
        kwargs: dict = {}
        if opts.get("gpus"):
            kwargs["entrypoint_num_gpus"] = float(opts["gpus"])
        kwargs["entrypoint_num_cpus"] = float(opts.get("cpus") or 1)
        return _client(address_of(opts)).submit_job(
            entrypoint=shlex.join(argv), submission_id=submission_id(run, attempt),
            runtime_env={"env_vars": env}, metadata={"laom_run_id": run["id"]}, **kwargs)

    def poll(self, run: dict) -> JobState:
        try:
            info = _client(address_of(run.get("backend_opts") or {})).get_job_info(str(run["job_id"]))
        except RuntimeError as exc:
            if "does not exist" in str(exc):
                return JobState("gone", reason=f"Ray no longer knows job {run['job_id']}")
            return JobState("running", reason=str(exc))
        except Exception as exc:  # noqa: BLE001 - cluster unreachable for a moment: assume alive
            return JobState("running", reason=f"{type(exc).__name__}: {exc}")
        state = _STATES.get(str(getattr(info.status, "value", info.status)), "running")
        return JobState(state, info.driver_exit_code if state != "running" else None,
                        f"Ray job {run['job_id']} {info.status}: {info.message or ''}".strip())

    def cancel(self, run: dict, grace_s: float) -> None:
        """Ray stops a job with SIGTERM to its process group and SIGKILL after the cluster's
        ``RAY_JOB_STOP_SIGNAL_TIMEOUT_S``; we wait ``grace_s`` plus that margin for it to end."""
        client = _client(address_of(run.get("backend_opts") or {}))
        client.stop_job(str(run["job_id"]))
        deadline = time.time() + grace_s + 30
        while time.time() < deadline:
            if self.poll(run).ended:
                return
            time.sleep(0.3)
        raise RunError(f"Ray job {run['job_id']} did not stop within {grace_s + 30:.0f} s")

    def log(self, run: dict, lines: int = 50) -> str:
        try:
            text = _client(address_of(run.get("backend_opts") or {})).get_job_logs(str(run["job_id"]))
        except Exception:  # noqa: BLE001 - a log is best effort
            return ""
        return "\n".join(text.splitlines()[-lines:])
