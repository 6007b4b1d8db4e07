"""Train page: the Backend choice queues a Slurm run; Runs page: its backend and job id."""
from __future__ import annotations

from pathlib import Path

from streamlit.testing.v1 import AppTest

from cluster_helpers import done, wait_for

APP = str(Path(__file__).resolve().parents[2] / "app.py")


def _open(page: str) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60).run()
    at.switch_page(page).run()
    return at


def test_train_page_launches_on_slurm_and_runs_page_shows_the_job(store, slurm, workspace, monkeypatch):
    from laom_core.data.toy import make_toy_dataset

    monkeypatch.setenv("LAOM_TORCH_THREADS", "1")
    (workspace / "datasets").mkdir(parents=True, exist_ok=True)
    make_toy_dataset(workspace / "datasets" / "toy.hdf5", trajectories=3, steps=10, img_size=16)
    at = _open("pages/train.py")
    at.selectbox(key="tr_method").set_value("bc").run()
    at.text_area(key="tr_overrides").input("bc.total_updates=2\nbc.batch_size=4").run()
    at.selectbox(key="tr_device").set_value("cpu").run()
    at.radio(key="tr_backend").set_value("slurm").run()
    at.text_input(key="tr_partition").input("debug").run()
    assert not at.exception, [e.value for e in at.exception]
    code = "\n".join(c.value for c in at.code)
    assert "--backend slurm --partition debug" in code
    at.button(key="tr_launch").click().run()
    assert not at.exception, [e.value for e in at.exception]
    runs = store.list_runs()
    assert len(runs) == 1 and runs[0]["backend"] == "slurm" and runs[0]["backend_opts"]["partition"] == "debug"
    run = wait_for(lambda: done(store, runs[0]["id"]), timeout=300)
    assert run["status"] == "finished", run["error"]
    page = _open("pages/runs.py")
    assert not page.exception, [e.value for e in page.exception]
    table = page.dataframe[0].value
    assert f"slurm {run['job_id']}" in list(table["backend"])
