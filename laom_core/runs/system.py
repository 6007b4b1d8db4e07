"""System figures of a training process, logged every few seconds under stage ``system``.

Keys: ``cpu_percent`` (this process and its children, 100 = one core), ``rss_mb``
(resident memory, MiB), and on CUDA (:func:`cuda_figures`) ``gpu_mem_mb`` (memory reserved
by torch on the current device), ``gpu_mem_allocated_mb``, ``gpu_mem_peak_mb`` (peak
allocated since the process started), ``gpu_util`` (% from NVML when available). The CUDA
device's name is written to the run's ``gpu_name`` field once. Training logs the same
figures at each log step (``laom_core.training.common.system_metrics``).

Usage in a training process::

    monitor = start_system_monitor(store, run_id, interval_s=5)
    ...
    monitor.stop()
"""
from __future__ import annotations

import sys
import threading
from typing import TYPE_CHECKING, Any

try:
    import psutil
except ImportError:  # pragma: no cover - the GPU machine's image may lack it; cuda_figures needs none
    psutil = None  # type: ignore[assignment]

if TYPE_CHECKING:  # pragma: no cover
    from laom_core.runs.store import RunStore


def sample_system(process: "psutil.Process | None" = None) -> dict[str, float]:
    """One reading of this process's figures (CPU % since the previous call on ``process``)."""
    process = process or psutil.Process()
    out: dict[str, float] = {}
    with process.oneshot():
        cpu = process.cpu_percent(None)
        rss = process.memory_info().rss
    for child in _children(process):
        try:
            cpu += child.cpu_percent(None)
            rss += child.memory_info().rss
        except psutil.Error:
            continue
    out["cpu_percent"] = float(cpu)
    out["rss_mb"] = rss / 2**20
    out.update(cuda_figures())
    return out


_CHILD_CACHE: dict[int, "psutil.Process"] = {}


def _children(process: "psutil.Process") -> list["psutil.Process"]:
    """Child processes (data loader workers), cached so cpu_percent has a previous reading."""
    try:
        current = {p.pid: p for p in process.children(recursive=True)}
    except psutil.Error:
        return []
    for pid in list(_CHILD_CACHE):
        if pid not in current:
            del _CHILD_CACHE[pid]
    for pid, proc in current.items():
        if pid not in _CHILD_CACHE:
            _CHILD_CACHE[pid] = proc
            try:
                proc.cpu_percent(None)  # first call only primes the counter
            except psutil.Error:
                pass
    return list(_CHILD_CACHE.values())


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


class SystemMonitor:
    """A daemon thread logging :func:`sample_system` every ``interval_s`` seconds."""

    def __init__(self, store: "RunStore", run_id: str, interval_s: float = 5.0) -> None:
        self.run_id = run_id
        self.interval_s = float(interval_s)
        self._writer = store.metric_writer(run_id, flush_rows=1, flush_s=0.0)
        self._store_path = store.path
        self._stop = threading.Event()
        self._process = psutil.Process()
        self._process.cpu_percent(None)  # prime: the first reading covers the first interval
        self._step = 0
        self._named_gpu = False
        self.samples = 0
        self.last: dict[str, Any] = {}
        self._thread = threading.Thread(target=self._loop, name=f"system-monitor-{run_id}", daemon=True)

    def start(self) -> "SystemMonitor":
        self._thread.start()
        return self

    def _loop(self) -> None:
        while not self._stop.wait(self.interval_s):
            self.sample_now()

    def sample_now(self) -> dict[str, float]:
        """Take and log one reading now (also called by the thread)."""
        try:
            values = sample_system(self._process)
            self._writer.log("system", self._step, values)
            self._step += 1
            self.samples += 1
            self.last = values
            if not self._named_gpu:
                name = cuda_device_name()
                if name:
                    from laom_core.runs.store import RunStore

                    with RunStore(self._store_path, reconcile=False) as store:
                        store.update_run(self.run_id, gpu_name=name)
                    self._named_gpu = True
            return values
        except Exception as exc:  # noqa: BLE001 - never take the training down
            print(f"system monitor: {exc}", file=sys.stderr)
            return {}

    def stop(self) -> None:
        """Stop the thread, log one last reading and close the writer."""
        if self._stop.is_set():
            return
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=self.interval_s + 5)
        try:
            self.sample_now()
        finally:
            self._writer.close()

    def __enter__(self) -> "SystemMonitor":
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def start_system_monitor(store: "RunStore", run_id: str, interval_s: float = 5.0) -> SystemMonitor:
    """Start logging system figures of this process for ``run_id``; call ``.stop()`` at the end."""
    return SystemMonitor(store, run_id, interval_s).start()

