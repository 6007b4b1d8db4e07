"""Ingest the metrics a remote run writes to its folder into the run store.

A run on a cluster node must not open the workspace's SQLite store (WAL mode over a
network filesystem corrupts it). It appends one JSON object a line to
``<run_dir>/metrics.jsonl`` instead (``{"stage", "step", "wall", key: value, ...}``, see
:class:`laom_core.training.common.Metrics`), and the local scheduler calls
:func:`ingest_metrics` on every pass.

Exactly once: the store keeps, per run, the byte offset up to which the file is ingested
(``runs.ingest_offset``). New complete lines (a line without its newline is not written
yet) are turned into metric rows and stored **in the same transaction** that moves the
offset, conditional on the offset still being what was read. A scheduler killed at any
point either committed rows and offset together or neither; a second ingester racing it
finds the offset moved and writes nothing. A file shorter than the offset (replaced, not
appended to) is reported and left alone.
"""
from __future__ import annotations

import json
import math
import sqlite3
from pathlib import Path
from typing import Any

from laom_core import rundir
from laom_core.runs.store import RunStore, _group_rows, _run_num

METRICS_FILE = rundir.METRICS
MAX_CHUNK_BYTES = 8 << 20  # at most this much of the file per call (a long backlog is read in steps)
_RESERVED = ("stage", "step", "wall")


def parse_lines(data: bytes) -> tuple[list[tuple[str, str, int, float | None, float]], int, int]:
    """Complete lines of ``data`` -> (metric rows, bytes consumed, bad lines skipped)."""
    end = data.rfind(b"\n")
    if end < 0:
        return [], 0, 0
    rows: list[tuple[str, str, int, float | None, float]] = []
    bad = 0
    for line in data[:end].split(b"\n"):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
            stage, step, wall = str(obj["stage"]), int(obj["step"]), float(obj.get("wall") or 0.0)
        except (ValueError, KeyError, TypeError):
            bad += 1
            continue
        for key, value in obj.items():
            if key in _RESERVED:
                continue
            try:
                v = None if value is None else float(value)
            except (TypeError, ValueError):
                continue
            if v is not None and not math.isfinite(v):
                v = None
            rows.append((stage, str(key), step, v, wall))
    return rows, end + 1, bad


def ingest_metrics(store: RunStore, run_id: str, run_dir: str | Path, *, max_bytes: int = MAX_CHUNK_BYTES) -> int:
    """Store the new complete lines of ``<run_dir>/metrics.jsonl``; returns how many rows were added."""
    path = Path(run_dir) / METRICS_FILE
    total = 0
    while True:
        offset = store._read(lambda c: c.execute("SELECT ingest_offset FROM runs WHERE id=?",
                                                 (run_id,)).fetchone())
        if offset is None:
            return total
        offset = int(offset[0] or 0)
        try:
            with open(path, "rb") as fh:
                fh.seek(0, 2)
                size = fh.tell()
                if size < offset:
                    raise OSError(f"{path} is shorter ({size} bytes) than what was ingested ({offset})")
                fh.seek(offset)
                data = fh.read(max_bytes)
        except FileNotFoundError:
            return total
        rows, used, _bad = parse_lines(data)
        if used == 0:
            if len(data) >= max_bytes:  # one line longer than max_bytes: skip it rather than stall
                used = len(data)
            else:
                return total
        grouped = _group_rows(rows) if rows else {}

        def write(conn: sqlite3.Connection, offset: int = offset, used: int = used) -> bool:
            cur = conn.execute("UPDATE runs SET ingest_offset=? WHERE id=? AND ingest_offset=?",
                               (offset + used, run_id, offset))
            if cur.rowcount != 1:
                return False  # someone else ingested these bytes meanwhile
            if not grouped:
                return True
            num = _run_num(conn, run_id)
            ids: dict[tuple[str, str], int] = {}
            for sk in grouped:
                conn.execute("INSERT OR IGNORE INTO series (run_num, stage, key) VALUES (?, ?, ?)", (num, *sk))
                ids[sk] = conn.execute("SELECT series_id FROM series WHERE run_num=? AND stage=? AND key=?",
                                       (num, *sk)).fetchone()[0]
            conn.executemany(
                "INSERT INTO metric_chunks (series_id, n, step_min, step_max, steps, vals, walls) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                [(ids[sk], n, lo, hi, st, va, wa) for sk, (st, va, wa, n, lo, hi) in grouped.items()])
            return True

        if store._write(write):
            total += len(rows)
        if len(data) < max_bytes:
            return total


def read_json(path: Path, max_bytes: int = 1 << 20) -> dict[str, Any] | None:
    """A small JSON object file (summary.json, exit.json), or None if absent/partial/too big."""
    try:
        with open(path, "rb") as fh:
            data = fh.read(max_bytes + 1)
    except OSError:
        return None
    if len(data) > max_bytes:
        return None
    try:
        obj = json.loads(data)
    except ValueError:
        return None
    return obj if isinstance(obj, dict) else None
