"""Runs: the SQLite run store, the background launcher and its queue, sweeps.

- :mod:`laom_core.runs.store`: ``RunStore`` and ``MetricWriter`` (runs, metrics).
- :mod:`laom_core.runs.liveness`: which running runs still have a live process.
- :mod:`laom_core.runs.launcher`: queue, start, stop, resume runs as process groups.
- :mod:`laom_core.runs.sweeps`: named groups (methods x budgets x seeds x tasks).
"""
from laom_core.runs.store import STATUSES, TERMINAL, MetricWriter, RunStore

__all__ = ["RunStore", "MetricWriter", "STATUSES", "TERMINAL"]
