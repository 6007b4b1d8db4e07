"""One train request: argv <-> request round trip, one message per bad input, the same
message from the CLI (train, launch) and the launcher, and its JSON form."""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from laom_core.cli import main
from laom_core.commands.train import _saved
from laom_core.data.toy import make_toy_dataset
from laom_core.errors import ConfigError, LaomError
from laom_core.runs import launcher
from laom_core.runs.request import (TrainRequest, parse_train_argv, read_request, train_argv, train_command,
                                    validate_train_request)


@pytest.fixture
def data(tmp_path, workspace):
    return make_toy_dataset(tmp_path / "d.hdf5", trajectories=2, steps=6, img_size=16)


@pytest.fixture
def labeled(tmp_path, workspace):
    return make_toy_dataset(tmp_path / "l.hdf5", trajectories=2, steps=6, img_size=16)


def test_argv_round_trip(data, labeled, tmp_path):
    cfg = tmp_path / "c.yaml"
    cfg.write_text("lapo:\n  batch_size: 8\n")
    request = validate_train_request(
        "laom-labels", preset="smoke", config_path=cfg, sets=["lapo.latent_action_dim=16", "seed=3"],
        data=data, labeled_data=labeled, eval_data=data, device="cpu", run_dir=tmp_path / "r", run_id="abc",
        resume=True, name="n", group="g", progress=False)
    assert request.seed == 3 and request.config.lapo.batch_size == 8 and request.config.lapo.latent_action_dim == 16
    argv = train_argv(request)
    assert parse_train_argv(argv) == request
    assert train_argv(parse_train_argv(argv)) == argv
    assert train_command(request, python="py")[:4] == ["py", "-m", "laom_core", "train"]
    minimal = validate_train_request("lapo", data=str(data))
    assert train_argv(minimal) == ["--method", "lapo", "--preset", "cpu-small", "--data", str(data)]
    assert parse_train_argv(train_argv(minimal)) == minimal


def test_json_form_round_trips_without_reloading(data, labeled, tmp_path):
    request = validate_train_request("laom", preset="smoke", sets=["lapo.latent_action_dim=16"], data=data,
                                     labeled_data=labeled)
    saved = json.loads(json.dumps(request.to_dict()))
    assert TrainRequest.from_dict(saved) == request
    with pytest.raises(ConfigError, match="not a saved train request"):
        TrainRequest.from_dict({"method": "laom"})


def test_paths_resolve_from_the_datasets_folder_and_the_config(data, workspace, tmp_path):
    (workspace / "datasets").mkdir(parents=True, exist_ok=True)
    inside = make_toy_dataset(workspace / "datasets" / "named.hdf5", trajectories=2, steps=6, img_size=16)
    assert validate_train_request("lapo", data="named.hdf5").data == inside.resolve()
    cfg = tmp_path / "authors.yaml"
    cfg.write_text(f"lapo:\n  data_path: {data}\n  labeled_data_path: {data}\n")
    request = validate_train_request("laom-labels", preset="smoke", config_path=cfg)
    assert request.data == data.resolve() and request.labeled_data == data.resolve()
    # A method that uses no labels takes no labeled set from the config.
    assert validate_train_request("bc", preset="smoke", config_path=cfg).labeled_data is None


BAD = [  # (arguments after the data, the one message's distinguishing part)
    (["--set", "lapo.no_such_key=1"], "no_such_key"),
    (["--set", "lapo.batch_size=-4"], "batch_size"),
    (["--set", "nonsense"], "--set expects section.key=value"),
    (["--preset", "huge"], "unknown preset"),
    (["--eval-data", "/no/such/eval.hdf5"], "no such file"),
    (["--config", "/no/such/config.yaml"], "no such file"),
]


@pytest.mark.parametrize("extra,expected", BAD)
def test_each_bad_input_is_one_message_everywhere(data, store, capsys, extra, expected):
    argv = ["--method", "laom", "--data", str(data), *extra]
    with pytest.raises(LaomError) as from_request:
        parse_train_argv(argv)
    message = str(from_request.value)
    assert expected in message and "\n" not in message
    with pytest.raises(LaomError) as from_launcher:
        launcher.launch(argv, store=store, start_scheduler=False)
    assert str(from_launcher.value) == message
    for command in ("launch", "train"):
        assert main([command, *argv]) == 2
        err = capsys.readouterr().err.strip()
        assert err == f"error: {message}", (command, err)
    assert store.list_runs() == []


def test_missing_data_and_unknown_method(workspace, store, capsys):
    with pytest.raises(ConfigError, match="--data is required"):
        validate_train_request("lapo")
    assert main(["train", "--method", "lapo"]) == 2
    assert capsys.readouterr().err.strip() == "error: --data is required (the training dataset, HDF5)"
    with pytest.raises(ConfigError, match="unknown method 'nope'"):
        validate_train_request("nope", data="x")
    with pytest.raises(ConfigError, match="train arguments: .*--method"):
        launcher.launch(["--method", "nope", "--data", "x"], store=store, start_scheduler=False)
    with pytest.raises(ConfigError, match="unknown device"):
        validate_train_request("lapo", data="x", device="tpu")


def test_launcher_queues_the_requests_own_argv(data, store):
    request = validate_train_request("lapo", preset="smoke", sets=["seed=2"], data=data, device="cpu")
    plan = launcher.prepare_launch(request)
    assert plan["argv"][:4] == train_command(request)[:4]
    assert plan["argv"][4:-6] == train_argv(request) and plan["argv"][-6:-4] == ["--request", "{run_dir}/request.json"]
    assert plan["argv"][-4:] == ["--run-dir", "{run_dir}", "--run-id", "{run_id}"]
    assert plan["seed"] == 2 and plan["device"] == "cpu" and plan["datasets"] == {"data": str(data)}
    # The same request as strings is the same plan (so the same idempotency key).
    assert launcher.prepare_launch(train_argv(request)) == plan
    with pytest.raises(ConfigError, match="chosen by the launcher"):
        launcher.prepare_launch(request.replace(run_id="x"))
    run_id = launcher.launch(request, store=store, start_scheduler=False, client_token="t")
    assert launcher.launch(train_argv(request), store=store, start_scheduler=False, client_token="t") == run_id
    assert store.get_run(run_id)["seed"] == 2


def test_a_queued_run_trains_the_request_as_checked_at_queue_time(data, store, tmp_path, workspace, monkeypatch,
                                                                   capsys):
    monkeypatch.setenv("LAOM_TORCH_THREADS", "1")
    cfg = tmp_path / "c.yaml"
    cfg.write_text("bc:\n  batch_size: 4\n")
    request = validate_train_request("bc", preset="smoke", config_path=cfg, data=data, device="cpu",
                                     sets=["bc.total_updates=2", "run.log_every=1"])
    run_id = launcher.launch(request, store=store, start_scheduler=False, client_token="t")
    run = store.get_run(run_id)
    run_dir = Path(run["run_dir"])
    saved = read_request(run_dir / "request.json")
    assert saved == request.replace(run_dir=run_dir, run_id=run_id)
    # The same launch again is the same run, and leaves no stray folder behind.
    assert launcher.launch(request, store=store, start_scheduler=False, client_token="t") == run_id
    assert [p.name for p in (workspace / "runs").iterdir()] == [run_id]
    cfg.write_text("bc:\n  batch_size: 6\n")  # edited while the run waits in the queue
    argv = run["argv"]
    assert argv[1:4] == ["-m", "laom_core", "train"]
    assert main(argv[3:]) == 0, capsys.readouterr().err
    assert "batch_size: 4" in (run_dir / "config.yaml").read_text()
    assert store.get_run(run_id)["status"] == "finished"
    with pytest.raises(ConfigError, match="trains bc, not --method lapo"):
        _saved(argparse.Namespace(request=str(run_dir / "request.json"), method="lapo", run_dir=None, run_id=None,
                                  resume=False, no_progress=False))
    assert main(["train", "--method", "bc", "--request", str(tmp_path / "none.json")]) == 2
    assert "no saved train request" in capsys.readouterr().err
