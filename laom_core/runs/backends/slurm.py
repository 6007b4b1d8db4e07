"""The ``slurm`` backend: one Slurm job per run, submitted through submitit.

Options (from ``<workspace>/cluster.yaml``'s ``slurm:`` section, overridden per launch):
``partition``, ``gpus`` (per node), ``time_limit_min``, ``cpus_per_task``, ``mem_gb`` and
``sbatch`` (a mapping of extra ``sbatch`` options, e.g. ``{account: x, qos: y}``).

The job runs :mod:`laom_core.runs.backends.entry` through
``submitit.helpers.CommandFunction`` (an argument list, no shell). Job state comes from
``squeue``/``scontrol`` rather than submitit's ``sacct`` watcher, so clusters without
accounting work; ``exit.json`` in the run folder is the authority on how the run ended.
"""
from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path

from laom_core.errors import ConfigError, RunError
from laom_core.runs.backends.base import JobState

_TIMEOUT_S = 20
_STATES = {
    "PENDING": "pending", "CONFIGURING": "pending", "REQUEUED": "pending", "RESV_DEL_HOLD": "pending",
    "RUNNING": "running", "COMPLETING": "running", "SUSPENDED": "running", "STAGE_OUT": "running",
    "COMPLETED": "done", "CANCELLED": "cancelled", "FAILED": "failed", "TIMEOUT": "failed",
    "NODE_FAIL": "failed", "OUT_OF_MEMORY": "failed", "PREEMPTED": "failed", "BOOT_FAIL": "failed",
    "DEADLINE": "failed",
}
OPTION_KEYS = ("partition", "gpus", "time_limit_min", "cpus_per_task", "mem_gb", "sbatch")


def _run(argv: list[str], timeout: float = _TIMEOUT_S) -> subprocess.CompletedProcess:
    return subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False)


def reachable() -> str | None:
    """None when a Slurm controller answers, else why not (one sentence)."""
    if not shutil.which("sbatch") or not shutil.which("sinfo"):
        return "no Slurm cluster is reachable: sbatch/sinfo are not installed (see scripts/start_slurm.sh)"
    try:
        out = _run(["sinfo", "-h", "-o", "%P %a"], timeout=10)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"no Slurm cluster is reachable: sinfo failed ({exc})"
    if out.returncode != 0:
        msg = (out.stderr.strip().splitlines() or ["sinfo failed"])[-1]
        return f"no Slurm cluster is reachable: {msg}"
    return None


class SlurmBackend:
    name = "slurm"

    def check(self, opts: dict) -> None:
        unknown = set(opts) - set(OPTION_KEYS)
        if unknown:
            raise ConfigError(f"unknown slurm option(s) {', '.join(sorted(unknown))} "
                              f"(known: {', '.join(OPTION_KEYS)})")
        for key in ("gpus", "time_limit_min", "cpus_per_task"):
            if key in opts and (not isinstance(opts[key], int) or opts[key] < 0):
                raise ConfigError(f"slurm option {key} must be a whole number >= 0, got {opts[key]!r}")
        if "sbatch" in opts and not isinstance(opts["sbatch"], dict):
            raise ConfigError("slurm option sbatch must be a mapping of sbatch options")
        why = reachable()
        if why:
            raise ConfigError(why)
        if opts.get("partition"):
            parts = {line.split()[0].rstrip("*") for line in _run(["sinfo", "-h", "-o", "%P"]).stdout.split()}
            if str(opts["partition"]) not in parts:
                raise ConfigError(f"Slurm has no partition {opts['partition']!r} (has: {', '.join(sorted(parts))})")
        try:
            import submitit  # noqa: F401
        except ImportError as exc:
            raise ConfigError("the slurm backend needs submitit: pip install 'laom-studio[cluster]' "
                              "(or pip install submitit)") from exc

    def _executor(self, folder: Path, run_id: str, opts: dict):
        import submitit

        ex = submitit.AutoExecutor(folder=str(folder), cluster="slurm")
        params: dict = {"name": run_id, "slurm_cpus_per_task": int(opts.get("cpus_per_task") or 1),
                        "timeout_min": int(opts.get("time_limit_min") or 60 * 24 * 7)}
        if opts.get("partition"):
            params["slurm_partition"] = str(opts["partition"])
        if opts.get("gpus"):
            params["slurm_gpus_per_node"] = int(opts["gpus"])
        if opts.get("mem_gb"):
            params["slurm_mem"] = f"{int(float(opts['mem_gb']) * 1024)}M"
        extra = {str(k): v for k, v in (opts.get("sbatch") or {}).items()}
        if extra:
            params["slurm_additional_parameters"] = extra
        ex.update_parameters(**params)
        return ex

    def submit(self, run: dict, argv: list[str], env: dict[str, str], opts: dict) -> str:
        import submitit

        folder = Path(run["run_dir"]) / "slurm"
        job = self._executor(folder, run["id"], opts).submit(
            submitit.helpers.CommandFunction(argv, verbose=False, env=env))
        return str(job.job_id)

    def submit_array(self, runs: list[dict], argvs: list[list[str]], env: dict[str, str], opts: dict,
                     folder: Path) -> list[str]:
        """Many runs as one Slurm job array (submitit ``map_array``); returns their job ids."""
        import submitit

        ex = self._executor(folder, runs[0].get("group_name") or runs[0]["id"], opts)
        fns = [submitit.helpers.CommandFunction(a, verbose=False, env=env) for a in argvs]
        with ex.batch():
            jobs = [ex.submit(fn) for fn in fns]
        return [str(j.job_id) for j in jobs]

    def poll(self, run: dict) -> JobState:
        job = str(run["job_id"])
        out = _run(["scontrol", "-o", "show", "job", job])
        if out.returncode != 0:
            if "Invalid job id" in out.stderr:
                return JobState("gone", reason="Slurm no longer knows the job")
            return JobState("running", reason=out.stderr.strip())  # controller hiccup: assume alive
        fields = dict(item.split("=", 1) for item in out.stdout.split() if "=" in item)
        state = _STATES.get(fields.get("JobState", "").split("+")[0], "running")
        code = None
        if "ExitCode" in fields:
            status, _, sig = fields["ExitCode"].partition(":")
            code = -int(sig) if sig and sig != "0" else int(status or 0)
        reason = f"Slurm job {job} {fields.get('JobState', '?')} ({fields.get('Reason', '')})"
        return JobState(state, code if state != "running" else None, reason)

    def cancel(self, run: dict, grace_s: float) -> None:
        job = str(run["job_id"])
        _run(["scancel", "--signal=TERM", "--full", job])
        deadline = time.time() + grace_s
        while time.time() < deadline:
            if self.poll(run).ended:
                return
            time.sleep(0.3)
        _run(["scancel", job])
        deadline = time.time() + 30
        while time.time() < deadline:
            if self.poll(run).ended:
                return
            time.sleep(0.3)
        raise RunError(f"Slurm job {job} did not end within 30 s of scancel")

    def log(self, run: dict, lines: int = 50) -> str:
        from laom_core.workspace import workspace_root

        job = run.get("job_id")
        text = []
        names = (f"{job}_0_log.err", f"{job}_0_log.out")
        candidates = [Path(run["run_dir"]) / "slurm" / n for n in names]
        if job and "_" in str(job):  # an array task: its submitit folder is the array's
            candidates += [p for n in names for p in (workspace_root() / "slurm-arrays").glob(f"*/{n}")]
        for path in candidates:
            try:
                text += path.read_text(errors="replace").splitlines()
            except OSError:
                continue
        return "\n".join(text[-lines:])
