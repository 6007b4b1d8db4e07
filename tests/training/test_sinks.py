"""Metric sinks: TensorBoard event files and W&B (offline) under the authors' metric names."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

from laom_core.runs.store import RunStore
from laom_core.training.common import Metrics
from laom_core.training.sinks import Guarded, authors_names, flatten_config
from train_helpers import FAST, train


def _tb_scalars(folder: Path) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(folder), size_guidance={"scalars": 0})
    acc.Reload()
    out = {}
    for tag in acc.Tags()["scalars"]:
        events = acc.Scalars(tag)
        out[tag] = (np.array([e.step for e in events]), np.array([e.value for e in events]))
    return out


def test_authors_names():
    assert authors_names("lam", {"fdm_loss": 1.0, "probe_mse": 2.0, "lr": 3.0, "action_loss": 4.0}, "laom") == {
        "lapo/mse_loss": 1.0, "lapo/action_probe_mse_loss": 2.0, "lapo/learning_rate": 3.0,
        "lapo/true_action_mse_loss": 4.0}
    assert authors_names("eval", {"eval_return_mean": 5.0}, "lapo") == {"decoder/eval_returns_mean": 5.0}
    assert authors_names("eval", {"eval_return_mean": 5.0}, "bc") == {"bc/eval_returns_mean": 5.0}
    assert authors_names("idm", {"held_out_probe_mse": 0.5, "loss": 1.0}, "idm") == {
        "idm/eval_mse_loss": 0.5, "idm/mse_loss": 1.0}
    assert authors_names("system", {"cpu_percent": 50.0}, "bc", during="bc") == {"bc/system/cpu_percent": 50.0}
    assert flatten_config({"seed": 0, "lapo": {"batch_size": 8, "x": None}}) == {
        "seed": 0, "lapo.batch_size": 8, "lapo.x": None}


@pytest.mark.slow
def test_lapo_run_writes_tensorboard_events_matching_the_store(data_dir, tmp_path, capsys):
    run_dir = tmp_path / "run"
    code, summary, err = train(capsys, "--method", "lapo", "--preset", "smoke", "--data", str(data_dir / "toy.h5"),
                               "--run-dir", str(run_dir), *FAST)
    assert code == 0, err
    assert "[metrics]" not in err  # tensorboard is installed: nothing to note
    events = list((run_dir / "tb").glob("events.out.tfevents.*"))
    assert events, "no TensorBoard event file"
    scalars = _tb_scalars(run_dir / "tb")

    store = RunStore()
    run_id = summary["run_id"]
    compared = 0
    for stage, key in store.metric_keys(run_id):
        if stage == "system":
            continue
        curve = store.metrics(run_id, keys=[key], stage=stage)[key]
        (tag,) = authors_names(stage, {key: 0.0}, "lapo")
        assert tag in scalars, f"{stage}/{key} missing as {tag}"
        steps, values = scalars[tag]
        assert np.array_equal(steps, curve["step"]), tag
        np.testing.assert_allclose(values, curve["value"], rtol=1e-6, atol=1e-7, err_msg=tag)
        compared += 1
    assert compared >= 15
    # the authors' names for the three stages of a LAPO run
    for tag in ("lapo/mse_loss", "lapo/action_probe_mse_loss", "lapo/learning_rate", "lapo/grad_norm",
                "lapo/throughput", "bc/mse_loss", "bc/learning_rate", "decoder/mse_loss"):
        assert tag in scalars, tag
    # system figures under the stage they were sampled in, one per training log
    assert len(scalars["lapo/system/cpu_percent"][0]) == len(scalars["lapo/mse_loss"][0])


@pytest.mark.slow
def test_opt_out_writes_no_event_files(data_dir, tmp_path, capsys):
    run_dir = tmp_path / "run"
    code, _, err = train(capsys, "--method", "bc", "--preset", "smoke", "--data", str(data_dir / "toy.h5"),
                         "--run-dir", str(run_dir), *FAST, "--set", "run.tensorboard=false")
    assert code == 0, err
    assert not (run_dir / "tb").exists()
    assert "[metrics]" not in err


@pytest.mark.slow
def test_without_tensorboard_the_run_finishes_and_says_so_once(data_dir, tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", None)  # import fails as without the package
    run_dir = tmp_path / "run"
    code, summary, err = train(capsys, "--method", "bc", "--preset", "smoke", "--data", str(data_dir / "toy.h5"),
                               "--run-dir", str(run_dir), *FAST)
    assert code == 0, err
    assert not (run_dir / "tb").exists()
    assert err.count("the tensorboard package is not installed") == 1
    assert len(RunStore().metrics(summary["run_id"], stage="bc")["loss"]["step"]) >= 3


class _Breaks:
    name = "Breaks"

    def __init__(self) -> None:
        self.calls = 0

    def log(self, stage, step, values):
        self.calls += 1
        raise OSError("disk full")

    def flush(self):
        pass

    def close(self):
        pass


def test_a_failing_sink_is_disabled_after_one_logged_error(tmp_path, capsys):
    metrics = Metrics(tmp_path)
    broken = _Breaks()
    metrics.sinks = [Guarded(broken)]
    for step in range(5):
        metrics.log("bc", step, {"loss": 1.0 / (step + 1)})
    metrics.close()
    err = capsys.readouterr().err
    assert broken.calls == 1 and not metrics.sinks[0].active
    assert err.count("Breaks sink disabled after an error in log: OSError: disk full") == 1
    lines = [json.loads(x) for x in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert [x["step"] for x in lines] == [0, 1, 2, 3, 4]  # the run's own record is untouched


@pytest.mark.slow
def test_wandb_offline_run_logs_the_authors_names(data_dir, tmp_path, capsys, monkeypatch):
    pytest.importorskip("wandb")
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_SILENT", "true")
    run_dir = tmp_path / "run"
    code, summary, err = train(capsys, "--method", "bc", "--preset", "smoke", "--data", str(data_dir / "toy.h5"),
                               "--run-dir", str(run_dir), *FAST, "--set", "run.wandb_project=laom-test",
                               "--set", "run.tensorboard=false")
    assert code == 0, err
    assert "[metrics]" not in err
    offline = list((run_dir / "wandb").glob("offline-run-*/run-*.wandb"))
    assert len(offline) == 1, "no offline W&B run under the run folder"
    records = _wandb_records(offline[0])
    (run_record,) = [r.run for r in records if r.WhichOneof("record_type") == "run"]
    assert run_record.project == "laom-test" and run_record.run_id == summary["run_id"]
    config = {u.key: json.loads(u.value_json) for u in run_record.config.update}
    assert config["bc.total_updates"] == 8 and config["run.wandb_project"] == "laom-test"
    history = [{(i.key or "/".join(i.nested_key)): json.loads(i.value_json) for i in r.history.item}
               for r in records if r.WhichOneof("record_type") == "history"]
    logged = [(h["bc/total_steps"], h["bc/mse_loss"]) for h in history if "bc/mse_loss" in h]
    curve = RunStore().metrics(summary["run_id"], keys=["loss"], stage="bc")["loss"]
    assert [s for s, _ in logged] == curve["step"].tolist()
    np.testing.assert_allclose([v for _, v in logged], curve["value"], rtol=1e-9)
    assert any("bc/learning_rate" in h and "bc/throughput" in h for h in history)


def _wandb_records(path: Path) -> list:
    """The records of a ``.wandb`` file (W&B's LevelDB-log format of protobuf ``Record``s)."""
    import struct

    from wandb.proto import wandb_internal_pb2 as pb

    data = path.read_bytes()
    assert data[:4] == b":W&B"
    pos, block, out, buf = 7, 32768, [], b""
    while pos + 7 <= len(data):
        left = block - pos % block
        if left < 7:
            pos += left
            continue
        _crc, length, kind = struct.unpack("<IHB", data[pos:pos + 7])
        if length == 0 and kind == 0:
            pos += left
            continue
        buf += data[pos + 7:pos + 7 + length]
        pos += 7 + length
        if kind in (1, 4):  # a full record, or the last piece of one
            record = pb.Record()
            record.ParseFromString(buf)
            out.append(record)
            buf = b""
    return out


def test_print_config_shows_the_sink_keys(capsys):
    import yaml

    from laom_core.cli import main

    assert main(["train", "--method", "bc", "--preset", "smoke", "--print-config"]) == 0
    run = yaml.safe_load(capsys.readouterr().out)["run"]
    assert run["tensorboard"] is True and run["wandb_project"] is None
    assert main(["train", "--method", "bc", "--preset", "smoke", "--print-config",
                 "--set", "run.wandb_project=laom", "--set", "run.tensorboard=false"]) == 0
    run = yaml.safe_load(capsys.readouterr().out)["run"]
    assert run["tensorboard"] is False and run["wandb_project"] == "laom"
