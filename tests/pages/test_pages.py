"""Every page through streamlit's AppTest: empty workspace, populated workspace, bad input."""
from __future__ import annotations

import h5py
import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from tests.pages.conftest import APP, PAGES


def open_page(page: str, timeout: float = 60) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=timeout).run()
    at.switch_page(page).run()
    return at


def assert_clean(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]


def texts(elements) -> str:
    return "\n".join(str(e.value) for e in elements)


@pytest.mark.parametrize("page", PAGES)
def test_page_renders_on_empty_workspace(page, workspace):
    at = open_page(page)
    assert_clean(at)
    assert not at.error, texts(at.error)
    if page != "pages/home.py":
        # Every other page explains what is missing and where to get it.
        assert at.info, f"{page} shows no guidance on an empty workspace"


def test_home_counts_on_empty_workspace(workspace):
    at = open_page("pages/home.py")
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Datasets"] == "0" and metrics["Runs"] == "0"


@pytest.mark.parametrize("page", PAGES)
def test_page_renders_on_populated_workspace(page, populated):
    at = open_page(page)
    assert_clean(at)
    assert not at.error, texts(at.error)


def test_home_shows_populated_counts(populated):
    at = open_page("pages/home.py")
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Datasets"] == "3"
    assert metrics["Runs"] == "2" and metrics["Finished"] == "2"


def test_runs_page_lists_runs_and_plots_curves(populated):
    at = open_page("pages/runs.py")
    assert_clean(at)
    table = at.dataframe[0].value
    assert len(table) == 2 and set(table["method"]) == {"LAOM+supervision", "BC"}
    charts = at.get("plotly_chart")
    assert len(charts) >= 1, "no curve drawn for the latest run"
    assert "log.txt" not in texts(at.error)


def test_runs_page_filters_by_method(populated):
    at = open_page("pages/runs.py")
    at.multiselect(key="rn_method").set_value(["bc"]).run()
    assert_clean(at)
    table = at.dataframe[0].value
    assert list(table["method"]) == ["BC"]


def test_latent_page_starts_umap_and_shows_map(populated):
    at = open_page("pages/latent_space.py")
    assert_clean(at)
    assert at.get("plotly_chart"), "no latent map drawn"
    from laom_core import jobs

    from laom_core.analysis.umap import load_embedding
    from laom_core.runs.store import RunStore

    run = next(r for r in RunStore().list_runs() if r["method"] == "laom-labels")
    latents = f"{run['run_dir']}/artifacts/latents.npz"
    running = [j for j in jobs.list_jobs("umap") if j.state == "running"]
    # Either the map is being computed in the background, or it is cached already.
    assert len(running) == 1 or load_embedding(latents) is not None
    count = len(jobs.list_jobs("umap"))
    at.run()  # a rerun does not start a second job
    assert len(jobs.list_jobs("umap")) == count
    # Colour choices come from the saved latents: true actions and steps at least.
    options = at.selectbox(key="ls_color_a").options
    assert any(o.startswith("action dim") for o in options) and "step in trajectory" in options


def test_budgets_page_aggregates_finished_runs(populated):
    at = open_page("pages/budgets.py")
    assert_clean(at)
    assert len(at.get("plotly_chart")) == 2
    table = at.dataframe[0].value
    assert "LAOM+supervision" in set(table["method"])


def test_rollouts_page_plays_video_and_syncs_curves(populated):
    at = open_page("pages/rollouts.py")
    assert_clean(at)
    assert at.get("video"), "no rollout video element"
    slider = at.slider(key="ro_t")
    slider.set_value(3).run()
    assert_clean(at)
    assert any("step 3" in str(img.proto) for img in at.get("image")), "frame view did not follow the slider"


def test_train_page_rejects_bad_override(populated):
    at = open_page("pages/train.py")
    at.text_area(key="tr_overrides").input("lapo.no_such_key=3").run()
    assert_clean(at)
    assert "no_such_key" in texts(at.error)
    assert at.button(key="tr_launch").disabled
    at.text_area(key="tr_overrides").input("lapo.batch_size=-4").run()
    assert "batch_size" in texts(at.error)


def test_train_page_shows_equivalent_command(populated):
    at = open_page("pages/train.py")
    at.selectbox(key="tr_method").set_value("lapo").run()
    at.text_area(key="tr_overrides").input("lapo.latent_action_dim=64").run()
    assert_clean(at)
    code = texts(at.code)
    assert "python -m laom_core launch --method lapo --preset smoke" in code
    assert "--set lapo.latent_action_dim=64" in code


def test_train_launch_is_idempotent_across_reruns(populated):
    from laom_core.runs import launcher
    from laom_core.runs.store import RunStore

    store = RunStore()
    before = {r["id"] for r in store.list_runs()}
    at = open_page("pages/train.py")
    at.selectbox(key="tr_method").set_value("bc").run()
    at.button(key="tr_launch").click().run()
    assert_clean(at)
    at.run()
    at.run()  # reruns of the page never launch again
    new = [r for r in store.list_runs() if r["id"] not in before]
    try:
        assert len(new) == 1 and new[0]["method"] == "bc"
        assert "Queued 1 run" in texts(at.success)
        # The Runs page shows the new live run by default and stops it.
        runs_page = open_page("pages/runs.py")
        assert_clean(runs_page)
        runs_page.button(key="rn_stop").click().run()
        assert_clean(runs_page)
        assert store.get_run(new[0]["id"])["status"] == "stopped"
        runs_page.run()
        assert not runs_page.button(key="rn_resume").disabled
    finally:
        for r in new:
            try:
                launcher.stop(r["id"], grace_s=2.0, store=store)
            except Exception:
                pass
            store.delete_run(r["id"])


def test_datasets_page_bad_and_foreign_files(populated, tmp_path):
    at = open_page("pages/datasets.py")
    at.text_input(key="ds_extra_path").input(str(tmp_path / "nope.hdf5")).run()
    assert_clean(at)
    assert "no such file" in texts(at.error)
    foreign = tmp_path / "foreign.hdf5"
    with h5py.File(foreign, "w") as f:
        f.create_dataset("x", data=np.zeros(3))
    at.text_input(key="ds_extra_path").input(str(foreign)).run()
    assert_clean(at)
    assert "foreign.hdf5" in texts(at.error)
    # The page stays usable: the workspace's datasets are still listed.
    assert len(at.dataframe[0].value) == 3


def test_runs_page_survives_missing_artifacts(populated, tmp_path):
    """A run whose folder vanished (or never got artifacts) shows messages, not tracebacks."""
    from laom_core.runs.store import RunStore

    store = RunStore()
    rid = store.create_run("ghost", "laom", "cheetah-run", {"lapo": {"batch_size": 8}}, tmp_path / "ghost",
                           status="running")
    try:
        for page in ("pages/runs.py", "pages/latent_space.py", "pages/rollouts.py", "pages/budgets.py"):
            at = open_page(page)
            assert_clean(at)
    finally:
        store.delete_run(rid)


def test_datasets_page_renders_vanilla_and_distracted_side_by_side(populated):
    at = open_page("pages/datasets.py")
    at.slider(key="cmp_steps").set_value(10)
    next(b for b in at.button if b.label == "Render").click().run(timeout=120)
    assert_clean(at)
    captions = [str(img.proto) for img in at.get("image")]
    assert any('caption: "vanilla"' in c for c in captions)
    chosen = at.selectbox(key="cmp_difficulty").value
    assert any(f'caption: "{chosen}"' in c for c in captions)


def test_datasets_page_launches_subset_job(populated):
    from laom_core import jobs

    at = open_page("pages/datasets.py")
    at.number_input(key="sub_n").set_value(1)
    at.number_input(key="sub_chunk").set_value(5)
    next(b for b in at.button if b.label == "Sample subset").click().run()
    assert_clean(at)
    job = jobs.list_jobs("subset")[0]
    deadline = __import__("time").time() + 120
    while job.state == "running" and __import__("time").time() < deadline:
        __import__("time").sleep(0.5)
        job = jobs.job_status(job.id)
    assert job.state == "finished", job.log_tail
    from pathlib import Path

    from laom_core.data.hdf5 import validate_dataset

    out = Path(job.result["result"])
    try:
        info = validate_dataset(out)
        assert info.num_trajectories == 1 and info.total_steps == 5 and info.labeled_subset
    finally:
        out.unlink()


def test_datasets_page_collects_in_the_background(workspace):
    """The collection form starts `python -m laom_core collect ...` as a job that writes a valid file."""
    import time
    from pathlib import Path

    from laom_core import jobs
    from laom_core.data.hdf5 import validate_dataset

    at = open_page("pages/datasets.py")
    at.selectbox(key="col_difficulty").set_value("vanilla")
    at.text_input(key="col_policy").input("random")
    at.number_input(key="col_episodes").set_value(1)
    at.number_input(key="col_steps").set_value(5)
    at.text_input(key="col_name").input("tiny")
    next(b for b in at.button if b.label == "Start collection").click().run()
    assert_clean(at)
    assert not at.error, texts(at.error)
    assert "laom_core collect --task cheetah-run --difficulty vanilla" in texts(at.code)
    job = jobs.list_jobs("collect")[0]
    deadline = time.time() + 180
    while job.state == "running" and time.time() < deadline:
        time.sleep(0.5)
        job = jobs.job_status(job.id)
    assert job.state == "finished", job.log_tail
    info = validate_dataset(Path(workspace) / "datasets" / "tiny.hdf5")
    assert info.num_trajectories == 1 and info.total_steps == 5 and info.difficulty == "vanilla"


def test_pages_show_a_message_for_a_file_with_dangling_links(workspace):
    """A dataset whose trajectory reads through a soft link to nowhere: a message, never an exception."""
    from laom_core.data.toy import make_toy_dataset

    folder = workspace / "datasets"
    folder.mkdir(parents=True)
    path = make_toy_dataset(folder / "linked.hdf5", trajectories=3, steps=8, img_size=16, seed=0)
    with h5py.File(path, "a") as f:
        del f["1/actions"]
        f["1/actions"] = h5py.SoftLink("/nowhere")
        f["3"] = h5py.ExternalLink(str(workspace / "missing.h5"), "/x")
    at = open_page("pages/datasets.py")
    assert_clean(at)
    assert "linked.hdf5" in texts(at.error) and "link" in texts(at.error)
    for page in ("pages/home.py", "pages/train.py"):
        assert_clean(open_page(page))
