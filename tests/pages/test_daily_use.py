"""What a new user hits in the first hour (issue 16): pages that keep up with the workspace."""
from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from tests.pages.conftest import APP


def open_page(page: str, timeout: float = 60) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=timeout).run()
    at.switch_page(page).run()
    return at


def assert_clean(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]


def test_clip_thumbnails_show_once_the_clips_are_generated(workspace):
    from laom_core.envs import builtin_clips
    from laom_core.envs.videos import BuiltinSource

    at = open_page("pages/datasets.py")
    assert_clean(at)
    source = BuiltinSource()
    first = [s for s in source.specs if s.split == "train"][:2]
    captions = [c.value for c in at.caption]
    assert f"{first[0].name} (not generated)" in captions
    for spec in first:  # what `clips generate` (or the page's button) writes
        builtin_clips.load_or_generate(spec, source.folder)
    at.run()
    assert_clean(at)
    captions = [c.value for c in at.caption]
    assert f"{first[0].name} (not generated)" not in captions, "stale thumbnail cache"
    assert f"{first[1].name} (not generated)" not in captions
    shown = [str(img.proto) for img in at.get("image")]
    assert any(first[0].name in p for p in shown)


# ------------------------------------------------------------------ supervision budgets
def test_normalization_by_a_near_zero_bc_reference_is_refused():
    from laom_core.analysis.aggregate import checked_normalized_returns, reference_floor

    floor, why = reference_floor("cheetah-run", distractors=True)
    assert floor == pytest.approx(82.3) and "823" in why  # 10% of the paper's BC return with distractors
    assert reference_floor("toy-move")[0] == 10.0  # a task the paper did not report: the absolute floor
    rows = [{"method": "bc", "labeled_budget": None, "task": "cheetah-run", "eval_return_mean": 0.5},
            {"method": "idm", "labeled_budget": 2, "task": "cheetah-run", "eval_return_mean": 69.95},
            {"method": "lapo", "labeled_budget": None, "task": "cheetah-run", "eval_return_mean": 2.4},
            {"method": "laom", "labeled_budget": None, "task": "walker-run", "eval_return_mean": 300.0,
             "reference_return": 749.0},
            # a stored ratio is not a divisor: with no BC run of its own, the paper's BC divides
            {"method": "laom", "labeled_budget": None, "task": "hopper-hop", "eval_return_mean": 1.0,
             "normalized_return": 2.0}]
    out, problems = checked_normalized_returns(rows, distractors=True)
    assert [r["normalized_return"] for r in out[:3]] == [None, None, None]  # was 1, 139.9, 4.8
    assert "0.5" in problems["cheetah-run"] and "82.3" in problems["cheetah-run"]
    assert out[3]["normalized_return"] == 300.0 / 749.0 and "walker-run" not in problems
    assert out[4]["normalized_return"] == 1.0 / 253.0 and "hopper-hop" not in problems
    good, problems = checked_normalized_returns(
        [dict(rows[0], eval_return_mean=400.0), rows[1]], distractors=True)
    assert good[1]["normalized_return"] == 69.95 / 400.0 and not problems


def test_budget_axis_counts_labeled_steps_with_readable_ticks(tmp_path):
    from laom_core.analysis.aggregate import labeled_file_steps
    from laom_core.data.toy import make_toy_dataset
    from laom_core.viz.budgets import budget_figure, short_number

    path = make_toy_dataset(tmp_path / "l.hdf5", trajectories=2, steps=20, img_size=16)
    assert labeled_file_steps(path) == {"chunks": 2, "steps": 40, "chunk_steps": 20}
    assert labeled_file_steps(tmp_path / "gone.hdf5") is None
    assert [short_number(v) for v in (200, 3200, 128000, 1_500_000)] == ["200", "3.2k", "128k", "1.5M"]
    entries = [{"method": "idm", "labeled_steps": 200, "mean": 0.1, "std": 0.0, "n": 1},
               {"method": "idm", "labeled_steps": 3200, "mean": 0.2, "std": 0.0, "n": 1}]
    fig = budget_figure(entries, metric_label="m", reference={"idm": 0.2}, reference_budget=128000,
                        x_key="labeled_steps", x_title="labeled steps", x_unit="labeled steps")
    assert fig.layout.xaxis.title.text == "labeled steps"
    assert list(fig.layout.xaxis.tickvals) == [200, 3200, 128000]
    assert list(fig.layout.xaxis.ticktext) == ["200", "3.2k", "128k"]
    star = next(t for t in fig.data if t.name.startswith("paper"))
    assert list(star.x) == [128000]
    probe = budget_figure([dict(e, mean=m) for e, m in zip(entries, (0.25, 0.009))], metric_label="probe MSE",
                          reference_lines={"lapo": 22.1}, log_y=True, x_key="labeled_steps")
    assert list(probe.layout.yaxis.ticktext) == ["0.01", "0.1", "1", "10"]  # not 2, 5, 2, 5 of each decade


def _finished_run(store, tmp_path, name, method, summary, labeled=None, budget=None):
    import json

    folder = tmp_path / "runs" / name
    folder.mkdir(parents=True)
    (folder / "summary.json").write_text(json.dumps(summary))
    datasets = {"labeled_data": str(labeled)} if labeled else {}
    rid = store.create_run(name, method, summary["task"], {}, folder, labeled_budget=budget, datasets=datasets,
                           status="queued")
    store.set_status(rid, "finished")
    return rid


def test_budgets_page_flags_noise_reference_and_plots_labeled_steps(workspace, tmp_path):
    from laom_core.data.toy import make_toy_dataset
    from laom_core.runs.store import RunStore

    labeled = make_toy_dataset(tmp_path / "labeled.hdf5", trajectories=2, steps=20, img_size=16)
    base = {"task": "cheetah-run", "eval_difficulty": "easy", "probe_mse": 0.5}
    with RunStore() as store:
        _finished_run(store, tmp_path, "bc", "bc", dict(base, eval_return_mean=0.5, normalized_return=1.0,
                                                        reference_return=0.5))
        _finished_run(store, tmp_path, "idm", "idm", dict(base, eval_return_mean=69.95, normalized_return=139.9,
                                                          reference_return=0.5), labeled=labeled, budget=2)
        _finished_run(store, tmp_path, "lapo", "lapo", dict(base, eval_return_mean=2.4, normalized_return=4.8,
                                                            reference_return=0.5))
    at = open_page("pages/budgets.py")
    assert_clean(at)
    warnings = "\n".join(str(w.value) for w in at.warning)
    assert "cheetah-run" in warnings and "0.5" in warnings and "82.3" in warnings
    charts = at.get("plotly_chart")
    import json

    probe, ret = (json.loads(c.proto.spec) for c in charts)
    assert "labeled steps" in probe["layout"]["xaxis"]["title"]["text"]
    assert 40 in probe["layout"]["xaxis"]["tickvals"]  # 2 chunks x 20 steps, not "2 trajectories"
    assert not [t for t in ret["data"] if not t.get("name", "").startswith("paper")]  # nothing normalized by noise
    star = next(t for t in ret["data"] if t.get("name", "").startswith("paper"))
    assert star["x"] == [128000]
    table = at.dataframe[0].value
    idm = table[table["method"] == "IDM"].iloc[0]
    assert idm["labeled steps"] == "40" and idm["steps per chunk"] == "20"
    assert idm["normalized return"].startswith("not shown")
    captions = "\n".join(str(c.value) for c in at.caption)
    assert "40 labeled steps = 2 chunks × 20 steps" in captions


# ------------------------------------------------------------------ home: the demo again
def test_home_offers_smoke_or_full_when_running_the_demo_again(workspace, monkeypatch):
    import json

    from laom_core.studies import demo

    calls = []
    monkeypatch.setattr(demo, "start_demo", lambda smoke=False: calls.append(smoke) or 1)
    (workspace / "demo").mkdir(parents=True)
    (workspace / "demo" / "status.json").write_text(json.dumps(
        {"state": "finished", "smoke": True, "done": 5, "total": 5, "message": "", "steps": []}))
    at = open_page("pages/home.py")
    assert_clean(at)
    assert at.radio(key="demo_size").value == "smoke"  # a smoke demo is offered as smoke again
    button = at.button(key="run_demo")
    assert button.label == "Run the smoke demo again"
    button.click().run()
    assert calls == [True]
    at.radio(key="demo_size").set_value("full").run()
    assert at.button(key="run_demo").label == "Run the full demo again"
    at.button(key="run_demo").click().run()
    assert calls == [True, False]


# ------------------------------------------------------------------ runs: names and seed bands
def _run(rid, name, method="laom", seed=0, latent=64, budget=None):
    return {"id": rid, "name": name, "method": method, "seed": seed, "task": "cheetah-run",
            "labeled_budget": budget, "datasets": {"data": "/d/train.hdf5"}, "status": "finished",
            "config": {"seed": seed, "name": name, "lapo": {"latent_action_dim": latent, "batch_size": 8}}}


def test_same_named_runs_get_their_short_id_and_bands_group_by_config():
    from pages import common

    runs = [_run("laom-20250101-000000-aaaaaa", "LAOM s0", latent=64),
            _run("laom-20250101-000001-bbbbbb", "LAOM s0", latent=512),
            _run("laom-20250101-000002-cccccc", "LAOM s1", seed=1, latent=512),
            _run("bc-20250101-000003-dddddd", "BC", method="bc")]
    names = common.display_names(runs)
    assert names[runs[0]["id"]] == "LAOM s0 [aaaaaa]" and names[runs[1]["id"]] == "LAOM s0 [bbbbbb]"
    assert names[runs[2]["id"]] == "LAOM s1"  # unique names stay as they are
    assert "aaaaaa" in common.run_label(runs[0]) and "bbbbbb" in common.run_label(runs[1])
    bands = common.seed_groups(runs)
    # Seeds 0 and 1 of latent 512 share a band; latent 64 is another configuration, not a seed.
    assert bands[runs[1]["id"]] == bands[runs[2]["id"]] != bands[runs[0]["id"]]
    assert "lapo.latent_action_dim=512" in bands[runs[1]["id"]] and bands[runs[1]["id"]].startswith("LAOM")
    assert bands[runs[3]["id"]].startswith("BC")


def test_band_label_says_when_runs_repeat_a_seed():
    import numpy as np

    from laom_core.viz.curves import curve_figure

    step = np.arange(5)
    series = [{"name": "a", "group": "LAOM", "seed": 0, "step": step, "value": step * 1.0},
              {"name": "b", "group": "LAOM", "seed": 0, "step": step, "value": step * 2.0},
              {"name": "c", "group": "LAPO", "seed": 0, "step": step, "value": step * 1.0},
              {"name": "d", "group": "LAPO", "seed": 1, "step": step, "value": step * 2.0}]
    names = [t.name for t in curve_figure(series, group=True).data if t.name]
    assert "LAOM (n=2 runs, 1 seed)" in names and "LAPO (n=2)" in names


def test_runs_page_legends_tell_same_named_runs_apart(workspace):
    import json

    from laom_core.runs.store import RunStore

    with RunStore() as store:
        ids = []
        for latent in (64, 512):
            rid = store.create_run("LAOM s0", "laom", "cheetah-run",
                                   {"seed": 0, "lapo": {"latent_action_dim": latent}}, workspace / "runs" / str(latent),
                                   status="queued", seed=0)
            store.set_status(rid, "running")  # this process: alive, so both are shown live by default
            with store.metric_writer(rid) as w:
                for step in range(5):
                    w.log("lam", step, {"loss": 1.0 / (step + 1) * latent})
            ids.append(rid)
    at = open_page("pages/runs.py")
    assert_clean(at)
    spec = json.loads(at.get("plotly_chart")[0].proto.spec)
    names = [t.get("name") for t in spec["data"] if t.get("name")]
    assert any("lapo.latent_action_dim=64" in n for n in names) and any("=512" in n for n in names), names
    assert not any("n=2" in n for n in names)  # two configurations of seed 0 are not one band of n=2
    at.toggle(key="rn_group_by").set_value(False).run()
    spec = json.loads(at.get("plotly_chart")[0].proto.spec)
    names = {t.get("name") for t in spec["data"] if t.get("name")}
    assert {f"LAOM s0 [{rid[-6:]}]" for rid in ids} <= names, names


def test_runs_table_leaves_missing_values_blank(workspace):
    from laom_core.runs.store import RunStore

    with RunStore() as store:
        rid = store.create_run("plain", "laom", "cheetah-run", {}, workspace / "runs" / "plain", status="queued")
        store.set_status(rid, "finished")
    at = open_page("pages/runs.py")
    assert_clean(at)
    table = at.dataframe[0]
    row = table.value.iloc[0]
    assert row["budget"] is None or row["budget"] != row["budget"]  # missing, not the text "None"
    assert table.proto.HasField("placeholder") and table.proto.placeholder == ""  # drawn as a blank cell
    assert row["id"] == rid.rsplit("-", 1)[-1]  # the short id (the CLI takes it), so the table fits 1400 px
    assert "created" not in table.value.columns  # the id's timestamp and the row order carry it


def test_probe_badge_flags_worse_than_chance_and_never_points_up_for_chance():
    from pages import common

    good = common.chance_badge(0.25, 1.0)
    assert good["delta_arrow"] == "down" and good["delta_color"] == "green" and "75% below chance" in good["delta"]
    bad = common.chance_badge(1.2, 1.0)
    assert bad["delta_color"] == "red" and bad["delta"].startswith("worse than chance")
    assert common.chance_badge(0.5, None) == {}


# ------------------------------------------------------------------ train: a second click
def test_second_launch_click_says_it_is_the_same_run_and_offers_a_copy(workspace, monkeypatch):
    from laom_core.data.toy import make_toy_dataset
    from laom_core.runs import launcher
    from laom_core.runs.store import RunStore

    monkeypatch.setattr(launcher, "ensure_scheduler", lambda *a, **k: None)  # queue only, start nothing
    (workspace / "datasets").mkdir(parents=True)
    make_toy_dataset(workspace / "datasets" / "toy.hdf5", trajectories=3, steps=10, img_size=16)
    at = open_page("pages/train.py")
    assert_clean(at)
    at.button(key="tr_launch").click().run()
    assert_clean(at)
    with RunStore() as store:
        first = [r["id"] for r in store.list_runs()]
    assert len(first) == 1 and "Queued 1 run" in "\n".join(str(s.value) for s in at.success)
    at.button(key="tr_launch").click().run()  # the same settings again
    assert_clean(at)
    info = "\n".join(str(i.value) for i in at.info)
    assert "Same run as before" in info and first[0] in info and "client token" in info
    assert not at.success  # nothing new was queued, and the page does not claim so
    with RunStore() as store:
        assert [r["id"] for r in store.list_runs()] == first
    at.button(key="tr_launch_copy").click().run()
    assert_clean(at)
    with RunStore() as store:
        assert len(store.list_runs()) == 2


# ------------------------------------------------------------------ datasets: the collect form
def test_collect_form_has_the_clis_image_size_and_fast_renderer(workspace):
    from laom_core import jobs

    at = open_page("pages/datasets.py")
    at.selectbox(key="col_difficulty").set_value("vanilla")
    at.text_input(key="col_policy").input("random")
    at.number_input(key="col_episodes").set_value(1)
    at.number_input(key="col_steps").set_value(5)
    at.number_input(key="col_img_size").set_value(32)
    at.checkbox(key="col_fast_render").check()
    next(b for b in at.button if b.label == "Start collection").click().run()
    assert_clean(at)
    try:
        command = "\n".join(str(c.value) for c in at.code)
        assert "--img-size 32" in command and "--fast-render" in command
        job = jobs.list_jobs("collect")[0]
        assert "--img-size" in job.argv and "--fast-render" in job.argv
    finally:
        for job in jobs.list_jobs("collect"):
            if job.state == "running":
                jobs.stop_job(job.id, grace_s=2.0)


def test_legends_sit_below_the_plot_not_over_its_title():
    import numpy as np

    from laom_core.viz.curves import curve_figure
    from laom_core.viz.latent import leakage_bars, probe_bars

    series = [{"name": f"run {i}", "group": "LAOM", "step": np.arange(3), "value": np.ones(3)} for i in range(6)]
    figures = [curve_figure(series, title="lam/loss"),
               probe_bars({"a": {"per_dim": [0.1, 0.2]}, "b": {"per_dim": [0.3, 0.1]}}),
               leakage_bars({"a": {"r2_action": 0.5, "leakage": 0.1}, "b": {"r2_action": 0.4, "leakage": 0.2}})]
    for fig in figures:
        assert fig.layout.legend.y < 0 and fig.layout.legend.yanchor == "top", fig.layout.title.text
