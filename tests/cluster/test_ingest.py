"""Ingesting a remote run's metrics.jsonl into the store: exactly once, across restarts."""
from __future__ import annotations

import json
import sqlite3

from laom_core.runs.ingest import ingest_metrics, parse_lines
from laom_core.runs.store import SCHEMA_VERSION, RunStore


def _line(step: int, **values) -> str:
    return json.dumps({"stage": "lam", "step": step, "wall": 1.0, **values}) + "\n"


def test_partial_lines_wait_and_nothing_is_doubled(store_dir):
    store, run_id, run_dir = store_dir
    path = run_dir / "metrics.jsonl"
    path.write_text(_line(0, loss=1.0) + _line(1, loss=2.0) + '{"stage": "lam", "st')
    assert ingest_metrics(store, run_id, run_dir) == 2
    assert ingest_metrics(store, run_id, run_dir) == 0  # again: nothing new, nothing doubled
    with open(path, "a") as fh:
        fh.write('ep": 2, "wall": 1.0, "loss": 3.0}\n' + "not json\n" + _line(3, loss=4.0, acc=None))
    assert ingest_metrics(store, run_id, run_dir) == 3  # the finished line, the bad one skipped, step 3
    curve = store.metrics(run_id, stage="lam")["loss"]
    assert list(curve["step"]) == [0, 1, 2, 3] and list(curve["value"]) == [1.0, 2.0, 3.0, 4.0]
    assert store.count_metrics(run_id) == 5  # 4 loss + 1 acc (None kept as NaN)


def test_a_second_store_connection_resumes_from_the_offset(store_dir, workspace):
    store, run_id, run_dir = store_dir
    path = run_dir / "metrics.jsonl"
    path.write_text("".join(_line(i, loss=float(i)) for i in range(100)))
    assert ingest_metrics(store, run_id, run_dir, max_bytes=1000) == 100  # read in several chunks
    other = RunStore()  # another scheduler after a restart
    with open(path, "a") as fh:
        fh.write("".join(_line(i, loss=float(i)) for i in range(100, 150)))
    assert ingest_metrics(other, run_id, run_dir) == 50
    assert ingest_metrics(store, run_id, run_dir) == 0
    other.close()
    assert store.count_metrics(run_id) == 150
    assert store.get_run(run_id)["ingest_offset"] == path.stat().st_size


def test_parse_lines_keeps_incomplete_tail():
    rows, used, bad = parse_lines(b'{"stage": "s", "step": 1, "x": 2}\n{"stage"')
    assert rows == [("s", "x", 1, 2.0, 0.0)] and used == 34 and bad == 0


def test_v1_store_opens_and_gains_backend_columns(workspace):
    workspace.mkdir(parents=True, exist_ok=True)
    path = workspace / "runs.sqlite"
    conn = sqlite3.connect(path)
    from laom_core.runs.store import _SCHEMA_V1

    conn.executescript(_SCHEMA_V1)
    conn.execute("INSERT INTO runs (id, name, status, created_at) VALUES ('old-run', 'old', 'finished', 1.0)")
    conn.execute("PRAGMA user_version=1")
    conn.commit()
    conn.close()
    with RunStore(path) as s:
        assert s.schema_version == SCHEMA_VERSION >= 2  # v3 (tracker columns) builds on v2
        run = s.get_run("old-run")
        assert run["status"] == "finished" and run["backend"] is None and run["ingest_offset"] == 0


def test_cluster_yaml_is_safe_and_bounded(workspace):
    import pytest

    from laom_core.errors import ConfigError
    from laom_core.runs.backends import MAX_CLUSTER_FILE_BYTES, check_backend, cluster_defaults

    workspace.mkdir(parents=True, exist_ok=True)
    (workspace / "cluster.yaml").write_text("slurm:\n  partition: debug\n  sbatch: {qos: normal}\n")
    assert cluster_defaults("slurm") == {"partition": "debug", "sbatch": {"qos": "normal"}}
    assert cluster_defaults("ray") == {}
    (workspace / "cluster.yaml").write_text("!!python/object/apply:os.system ['true']\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        cluster_defaults("slurm")
    (workspace / "cluster.yaml").write_text("#" * (MAX_CLUSTER_FILE_BYTES + 1))
    with pytest.raises(ConfigError, match="larger than"):
        cluster_defaults("slurm")
    with pytest.raises(ConfigError, match="unknown backend"):
        check_backend("k8s")
    with pytest.raises(ConfigError, match="need --backend"):
        check_backend("local", {"partition": "x"})
