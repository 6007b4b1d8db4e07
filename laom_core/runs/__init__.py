"""Runs: the SQLite run store, the background launcher and its queue, sweeps.

- :mod:`laom_core.runs.store`: ``RunStore`` and ``MetricWriter`` (runs, metrics).
- :mod:`laom_core.runs.request`: ``TrainRequest``, its one validation and its argv form.
- :mod:`laom_core.runs.execute`: a training run's lifecycle in its own process.
- :mod:`laom_core.runs.liveness`: which running runs still have a live process.
- :mod:`laom_core.runs.launcher`: queue, start, stop, resume runs as process groups
  (processes themselves: :mod:`laom_core.procs`).
- :mod:`laom_core.runs.sweeps`: named groups (methods x budgets x seeds x tasks).
"""
from laom_core.runs.store import STATUSES, TERMINAL, MetricWriter, RunStore

__all__ = ["RunStore", "MetricWriter", "STATUSES", "TERMINAL"]
