"""Bad input fails with one clear line and exit code 2; nothing is left half-written."""
from __future__ import annotations

from train_helpers import FAST, train


def _args(data_dir, tmp_path, method="laom", labeled="labeled.h5"):
    return ["--method", method, "--preset", "smoke", "--data", str(data_dir / "toy.h5"),
            "--labeled-data", str(data_dir / labeled), "--run-dir", str(tmp_path / "run"), *FAST]


def test_labeled_data_with_another_action_dim_is_refused(data_dir, tmp_path, capsys):
    code, _, err = train(capsys, *_args(data_dir, tmp_path, labeled="toy_a4.h5"))
    assert code == 2
    assert "error: labeled data" in err and "action dim 4 vs 2" in err and "Traceback" not in err
    assert not (tmp_path / "run" / "checkpoints").exists()


def test_labeled_data_of_another_task_is_refused(data_dir, tmp_path, capsys):
    code, _, err = train(capsys, *_args(data_dir, tmp_path, method="idm", labeled="other_task.h5"))
    assert code == 2 and "task_name 'jump' vs 'move'" in err


def test_bad_config_value_is_refused(data_dir, tmp_path, capsys):
    code, _, err = train(capsys, *_args(data_dir, tmp_path), "--set", "lapo.latent_action_dim=-3")
    assert code == 2 and "lapo.latent_action_dim" in err


def test_missing_data_file_is_refused(data_dir, tmp_path, capsys):
    code, _, err = train(capsys, "--method", "bc", "--preset", "smoke", "--data", str(tmp_path / "nope.h5"))
    assert code == 2 and "nope.h5" in err


def test_foreign_file_is_refused(data_dir, tmp_path, capsys):
    bogus = tmp_path / "bogus.h5"
    bogus.write_bytes(b"not hdf5 at all")
    code, _, err = train(capsys, "--method", "bc", "--preset", "smoke", "--data", str(bogus))
    assert code == 2 and "bogus.h5" in err and "Traceback" not in err


def test_existing_run_folder_needs_resume(data_dir, tmp_path, capsys):
    (tmp_path / "run" / "checkpoints").mkdir(parents=True)
    code, _, err = train(capsys, *_args(data_dir, tmp_path))
    assert code == 2 and "--resume" in err


def test_failure_before_training_marks_the_launched_run_failed(data_dir, tmp_path, capsys):
    from laom_core.runs.store import RunStore

    run_id = RunStore().create_run("x", "laom", "toy-move", {}, str(tmp_path / "run"))
    code, _, err = train(capsys, *_args(data_dir, tmp_path, labeled="toy_a4.h5"), "--run-id", run_id)
    assert code == 2
    row = RunStore().get_run(run_id)
    assert row["status"] == "failed" and "action dim 4 vs 2" in row["error"]


def test_nan_actions_stop_training_with_a_clear_error(tmp_path, capsys):
    import h5py

    from laom_core.data.toy import make_toy_dataset

    data = make_toy_dataset(tmp_path / "nan.h5", trajectories=3, steps=12, img_size=32, action_dim=2, seed=0)
    with h5py.File(data, "r+") as f:
        for key in f:
            f[key]["actions"][...] = float("nan")
    code, _, err = train(capsys, "--method", "bc", "--preset", "smoke", "--data", str(data),
                         "--run-dir", str(tmp_path / "run"), *FAST)
    assert code == 2 and "NaN" in err and "Traceback" not in err


def test_run_folder_holding_other_runs_is_refused(data_dir, tmp_path, workspace, capsys):
    """The runs folder, the workspace, a folder above them or above another run's folder is no run folder."""
    from laom_core.runs.store import RunStore
    from laom_core.workspace import runs_dir

    with RunStore() as store:
        store.create_run("other", "bc", "toy-move", {}, str(tmp_path / "parent" / "other"), status="finished")
    (runs_dir() / "kept").mkdir(parents=True)
    for folder in (runs_dir(), workspace, workspace.parent, tmp_path / "parent"):
        code, _, err = train(capsys, "--method", "bc", "--preset", "smoke", "--data", str(data_dir / "toy.h5"),
                             "--run-dir", str(folder), *FAST)
        assert code == 2 and "error: run folder" in err and "Traceback" not in err, (folder, err)
        assert not (folder / "config.yaml").exists()
    assert (runs_dir() / "kept").is_dir()


def test_resume_with_another_method_or_data_is_refused_before_writing(data_dir, tmp_path, capsys):
    run_dir = tmp_path / "run"
    code, _, err = train(capsys, "--method", "bc", "--preset", "smoke", "--data", str(data_dir / "toy.h5"),
                         "--run-dir", str(run_dir), *FAST, "--set", "bc.total_updates=2")
    assert code == 0, err
    before = {p.name: p.read_bytes() for p in run_dir.iterdir() if p.is_file()}
    for args in (["--method", "laom-labels", "--data", str(data_dir / "toy.h5")],
                 ["--method", "bc", "--data", str(data_dir / "other_task.h5")],
                 ["--method", "bc", "--data", str(data_dir / "labeled.h5")]):
        code, _, err = train(capsys, *args, "--preset", "smoke", "--run-dir", str(run_dir), "--resume", *FAST)
        assert code == 2 and "error: cannot resume" in err and "Traceback" not in err, err
        assert {p.name: p.read_bytes() for p in run_dir.iterdir() if p.is_file()} == before
    code, _, err = train(capsys, "--method", "bc", "--preset", "smoke", "--data", str(data_dir / "toy.h5"),
                         "--run-dir", str(run_dir), "--resume", *FAST, "--set", "bc.total_updates=2")
    assert code == 0, err


def test_resume_of_a_folder_without_origin_checks_the_method_of_its_stages(data_dir, tmp_path, capsys):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "stages.json").write_text('{"method": "laom-labels", "planned": [], "finished": {}}')
    code, _, err = train(capsys, "--method", "bc", "--preset", "smoke", "--data", str(data_dir / "toy.h5"),
                         "--run-dir", str(run_dir), "--resume", *FAST)
    assert code == 2 and "'laom-labels' vs 'bc'" in err
    assert (run_dir / "stages.json").read_text().startswith('{"method": "laom-labels"')


def test_negative_or_huge_seed_is_one_line_error(data_dir, tmp_path, capsys):
    for seed in ("-1", "99999999999999999999"):
        code, _, err = train(capsys, "--method", "bc", "--preset", "smoke", "--data", str(data_dir / "toy.h5"),
                             "--run-dir", str(tmp_path / "run"), *FAST, "--set", f"seed={seed}")
        assert code == 2 and "error: config key seed must be" in err and "Traceback" not in err
