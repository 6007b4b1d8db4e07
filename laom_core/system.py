"""System figures of a training process, logged with its metrics under stage ``system``.

:func:`system_metrics` is the one monitor: every stage of a training run calls it when it
logs (``Stage.log``), so the figures share the stage's step axis. Keys: ``cpu_percent``
(this process and its children, e.g. data loader workers; 100 = one core), ``rss_mb``
(resident memory, MiB), and on CUDA (:func:`cuda_figures`) ``gpu_mem_mb`` (memory reserved
by torch on the current device), ``gpu_mem_allocated_mb``, ``gpu_mem_peak_mb`` (peak
allocated since the process started) and ``gpu_util`` (% from NVML when available).

CPU % is a rate: psutil measures it between two calls *on the same* ``psutil.Process``
object, and a fresh object's first call always answers 0. The objects are therefore kept
per pid for the life of the process (a pid whose process was replaced gets a new one), and
a pid seen for the first time reports its average since it started instead of that 0.
"""
from __future__ import annotations

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
    out.update(cuda_figures())
    return out


def cuda_device_name() -> str | None:
    torch = sys.modules.get("torch")  # never import torch just to look
    try:
        if torch is not None and torch.cuda.is_available() and torch.cuda.is_initialized():
            return torch.cuda.get_device_name(torch.cuda.current_device())
    except Exception:  # noqa: BLE001 - monitoring must never break training
        return None
    return None


def cuda_figures() -> dict[str, float]:
    """GPU memory (MiB) and utilisation (%) of the current CUDA device; empty without one
    (or before this process has used CUDA: nothing is made up, nothing initialises CUDA)."""
    torch = sys.modules.get("torch")
    out: dict[str, float] = {}
    try:
        if torch is None or not torch.cuda.is_available() or not torch.cuda.is_initialized():
            return out
        device = torch.cuda.current_device()
        out["gpu_mem_mb"] = torch.cuda.memory_reserved(device) / 2**20
        out["gpu_mem_allocated_mb"] = torch.cuda.memory_allocated(device) / 2**20
        out["gpu_mem_peak_mb"] = torch.cuda.max_memory_allocated(device) / 2**20
        util = _nvml_utilization(device)
        if util is not None:
            out["gpu_util"] = util
    except Exception:  # noqa: BLE001
        pass
    return out


def _nvml_utilization(device: int) -> float | None:
    torch = sys.modules.get("torch")
    try:
        return float(torch.cuda.utilization(device))  # needs pynvml / nvidia-ml-py
    except Exception:  # noqa: BLE001
        pass
    try:
        import pynvml  # type: ignore

        pynvml.nvmlInit()
        handle = pynvml.nvmlDeviceGetHandleByIndex(device)
        return float(pynvml.nvmlDeviceGetUtilizationRates(handle).gpu)
    except Exception:  # noqa: BLE001
        return None


__all__ = ["system_metrics", "cuda_figures", "cuda_device_name"]
