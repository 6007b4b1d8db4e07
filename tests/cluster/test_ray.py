"""The ray backend against a real local Ray head (scripts/start_ray.sh): what only Ray has
(the checks every backend shares are in test_backends.py)."""
from __future__ import annotations

def test_launch_train_smoke_through_ray(store, ray_cluster, tmp_path, capsys, monkeypatch):
    """The real thing: `launch --backend ray` of a smoke BC run on tiny generated data."""
    import json

    from cluster_helpers import done, wait_for
    from laom_core.cli import main
    from laom_core.data.toy import make_toy_dataset

    monkeypatch.setenv("LAOM_TORCH_THREADS", "1")
    data = make_toy_dataset(tmp_path / "labeled.hdf5", trajectories=3, steps=10, img_size=16)
    assert main(["launch", "--method", "bc", "--preset", "smoke", "--data", str(data), "--set", "bc.total_updates=3",
                 "--set", "bc.batch_size=4", "--set", "run.log_every=1", "--device", "cpu",
                 "--backend", "ray", "--json"]) == 0
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    run = wait_for(lambda: done(store, out["id"]), timeout=300)
    assert run["status"] == "finished", run["error"]
    assert run["job_id"] == out["id"]  # the submission id is the run id
    assert len(store.metrics(out["id"], stage="bc")["loss"]["step"]) == 3


def test_launch_to_an_unreachable_ray_address_says_so(store, tmp_path, capsys):
    from laom_core.cli import main
    from laom_core.data.toy import make_toy_dataset

    data = make_toy_dataset(tmp_path / "d.hdf5", trajectories=2, steps=6, img_size=16)
    assert main(["launch", "--method", "bc", "--data", str(data), "--backend", "ray",
                 "--ray-address", "http://127.0.0.1:9"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "\n" not in err
    assert "no Ray cluster is reachable at http://127.0.0.1:9" in err or "needs Ray" in err
    assert store.list_runs() == []
