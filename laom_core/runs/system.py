"""System figures of a training process, logged with its metrics under stage ``system``.

:func:`system_metrics` is the one monitor: every stage of a training run calls it when it
logs (``Stage.log``), so the figures share the stage's step axis. Keys: ``cpu_percent``
(this process and its children, e.g. data loader workers; 100 = one core), ``rss_mb``
(resident memory, MiB), and on CUDA ``gpu_mem_mb`` (peak memory allocated by torch) and
``gpu_util`` (% from NVML when available).

CPU % is a rate: psutil measures it between two calls *on the same* ``psutil.Process``
object, and a fresh object's first call always answers 0. The objects are therefore kept
per pid for the life of the process (a pid whose process was replaced gets a new one), and
a pid seen for the first time reports its average since it started instead of that 0.
"""
from __future__ import annotations

import contextlib
import sys
import threading
import time

import psutil

_PROCESSES: dict[int, psutil.Process] = {}
_LOCK = threading.Lock()


def _process(pid: int) -> tuple[psutil.Process, bool]:
    """The cached ``psutil.Process`` of ``pid`` and whether it was already cached."""
    proc = _PROCESSES.get(pid)
    if proc is not None:
        try:
            if proc.is_running():  # same pid, same process (psutil compares the start time)
                return proc, True
        except psutil.Error:
            pass
    proc = psutil.Process(pid)
    _PROCESSES[pid] = proc
    return proc, False


def _cpu_percent(proc: psutil.Process, seen: bool) -> float:
    """CPU % since the previous reading of ``proc``; for a first reading, since it started."""
    value = proc.cpu_percent(None)  # also primes the next reading
    if seen:
        return float(value)
    times = proc.cpu_times()
    elapsed = max(time.time() - proc.create_time(), 1e-3)
    return 100.0 * (times.user + times.system) / elapsed


def _forget_gone(alive: set[int]) -> None:
    for pid in list(_PROCESSES):
        if pid not in alive:
            del _PROCESSES[pid]


def system_metrics(pid: int | None = None) -> dict[str, float]:
    """One reading of the figures of process ``pid`` (default: this one) and its children."""
    out: dict[str, float] = {}
    with _LOCK:
        try:
            main, seen = _process(pid or psutil.Process().pid)
            with main.oneshot():
                cpu = _cpu_percent(main, seen)
                rss = main.memory_info().rss
            alive = {main.pid}
            try:
                children = main.children(recursive=True)
            except psutil.Error:
                children = []
            for child in children:
                try:
                    proc, seen = _process(child.pid)
                    cpu += _cpu_percent(proc, seen)
                    rss += proc.memory_info().rss
                    alive.add(child.pid)
                except psutil.Error:
                    continue
            _forget_gone(alive)
            out["cpu_percent"] = float(cpu)
            out["rss_mb"] = rss / 2**20
        except (psutil.Error, OSError):  # process info unavailable: leave these figures out
            pass
    out.update(_cuda_figures())
    return out


def _cuda_figures() -> dict[str, float]:
    torch = sys.modules.get("torch")  # never import torch just to look
    out: dict[str, float] = {}
    try:
        if torch is None or not torch.cuda.is_available():
            return out
        out["gpu_mem_mb"] = torch.cuda.max_memory_allocated() / 2**20
        with contextlib.suppress(Exception):
            out["gpu_util"] = float(torch.cuda.utilization())
    except Exception:  # noqa: BLE001 - monitoring must never break training
        pass
    return out


def install() -> None:
    """Make training's ``system_metrics`` (``laom_core.training.common``) this one.

    Training logs its system figures through ``laom_core.training.common.system_metrics``,
    which took a fresh ``psutil.Process`` per reading (always 0 % CPU). Until that module
    imports this function itself, the train command calls ``install()`` before training.
    """
    from laom_core.training import common

    common.system_metrics = system_metrics


__all__ = ["system_metrics", "install"]
