"""Tracker parity on the Runs page (issue 16): x axes, tags/notes/rename, archive and delete
with confirmation, links that open runs, the sweep view, logs and CSV, the artifacts browser."""
from __future__ import annotations

import json
import os

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from tests.pages.conftest import APP
from tests.pages.tracker_workspace import build


def open_runs(**query: str) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60)
    for k, v in query.items():
        at.query_params[k] = v
    at.run()
    at.switch_page("pages/runs.py").run()
    assert_clean(at)
    return at


def assert_clean(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]


def chart(at: AppTest, title: str) -> dict:
    for c in at.get("plotly_chart"):
        spec = json.loads(c.proto.spec)
        if (spec["layout"].get("title") or {}).get("text") == title:
            return spec
    raise AssertionError(f"no chart {title!r}")


def xs(trace: dict) -> list:
    """A trace's x values (plotly sends numeric arrays base64-encoded)."""
    x = trace["x"]
    if isinstance(x, dict) and "bdata" in x:
        import base64

        return np.frombuffer(base64.b64decode(x["bdata"]), dtype=np.dtype(x["dtype"])).tolist()
    return list(x)


def short(rid: str) -> str:
    return rid.rsplit("-", 1)[-1]


@pytest.fixture
def ids(workspace):
    return build(workspace)


def test_curves_against_step_relative_and_wall_time(ids):
    at = open_runs(run=short(ids[0]))
    spec = chart(at, "lam/loss")
    line = [t for t in spec["data"] if t.get("name")][0]
    assert xs(line) == [0, 5, 10, 15, 20, 25, 30, 35, 40, 45] and spec["layout"]["xaxis"]["title"]["text"] == "step"
    at.radio(key="rn_xaxis").set_value("relative").run()
    assert_clean(at)
    spec = chart(at, "lam/loss")
    x = np.array(xs([t for t in spec["data"] if t.get("name")][0]), dtype=float)
    assert spec["layout"]["xaxis"]["title"]["text"] == "relative time (h)"
    assert x[0] >= 0 and np.all(np.diff(x) > 0) and x[-1] < 0.1  # hours since the run started
    at.radio(key="rn_xaxis").set_value("wall").run()
    assert_clean(at)
    spec = chart(at, "lam/loss")
    x = xs([t for t in spec["data"] if t.get("name")][0])
    assert spec["layout"]["xaxis"]["title"]["text"] == "wall-clock time"
    assert str(x[0]).startswith(str(np.datetime64("now", "Y")))  # dates, not numbers
    assert at.toggle(key="rn_group_by").disabled  # no seed bands over wall-clock time


def test_rename_tags_notes_from_the_page_and_search_finds_them(ids, workspace):
    from laom_core.runs.store import RunStore

    rid = ids[1]
    at = open_runs(run=rid)
    at.text_input(key=f"rn_name_{rid}").set_value("best lr").run()
    at.button(key="rn_rename").click().run()
    at.text_input(key=f"rn_tags_{rid}").set_value("keep, paper fig").run()
    at.button(key="rn_save_tags").click().run()
    at.text_area(key=f"rn_notes_{rid}").set_value("stable after 3k steps").run()
    at.button(key="rn_save_notes").click().run()
    assert_clean(at)
    with RunStore() as s:
        run = s.get_run(rid)
    assert run["name"] == "best lr" and run["tags"] == ["keep", "paper fig"] and run["notes"] == "stable after 3k steps"
    at.text_input(key="rn_text").set_value("paper fig").run()
    table = at.dataframe[0].value
    assert list(table["name"]) == ["best lr"] and list(table["tags"]) == ["keep, paper fig"]
    at.text_input(key="rn_text").set_value("3k steps").run()  # notes are searched too
    assert list(at.dataframe[0].value["name"]) == ["best lr"]
    at.text_input(key=f"rn_tags_{rid}").set_value("a, b,").run()
    at.text_input(key=f"rn_tags_{rid}").set_value("x" * 50).run()
    at.button(key="rn_save_tags").click().run()  # a bad tag: one message, nothing saved
    assert_clean(at)
    assert any("at most 40 characters" in str(e.value) for e in at.error)
    with RunStore() as s:
        assert s.get_run(rid)["tags"] == ["keep", "paper fig"]


def test_archive_asks_first_then_hides_until_show_archived(ids):
    from laom_core.runs.store import RunStore

    at = open_runs(run=ids[0])
    at.button(key="rn_archive").click().run()
    assert any("Archive" in str(w.value) for w in at.warning)
    with RunStore() as s:
        assert s.get_run(ids[0])["archived"] is False  # nothing happens before the answer
    at.button(key="rn_confirm_yes").click().run()
    assert_clean(at)
    with RunStore() as s:
        assert s.get_run(ids[0])["archived"] is True
    assert len(at.dataframe[0].value) == 2  # hidden by default
    at.toggle(key="rn_archived").set_value(True).run()
    names = list(at.dataframe[0].value["name"])
    assert len(names) == 3 and any(n.endswith("(archived)") for n in names)


def test_delete_asks_first_cancel_keeps_yes_removes_run_and_folder(ids, workspace):
    from laom_core.runs.store import RunStore

    folder = workspace / "runs" / "run2"
    at = open_runs(run=ids[2])
    at.button(key="rn_delete").click().run()
    assert any("cannot be undone" in str(w.value) for w in at.warning)
    at.button(key="rn_confirm_no").click().run()
    assert not any("cannot be undone" in str(w.value) for w in at.warning)
    with RunStore() as s:
        assert len(s.list_runs()) == 3
    at.button(key="rn_delete").click().run()
    at.button(key="rn_confirm_yes").click().run()
    assert_clean(at)
    with RunStore() as s:
        assert [r["id"] for r in s.list_runs()] == ids[:2]
    assert not folder.exists() and "run" not in at.query_params


def test_links_open_one_run_or_a_comparison_and_bad_links_say_so(ids):
    at = open_runs(run=short(ids[2]))
    assert at.text_input(key=f"rn_name_{ids[2]}").value == "laom lr0.001"
    assert [t.get("name") for t in chart(at, "lam/loss")["data"] if t.get("name")] == ["laom lr0.001"]
    at = open_runs(runs=f"{short(ids[0])},{short(ids[1])}")
    names = [t.get("name") for t in chart(at, "lam/loss")["data"] if t.get("name")]
    assert len(names) == 2, names  # one band per learning rate (different configs)
    diff = at.dataframe[-1].value  # config diff of the two linked runs
    assert "lapo.learning_rate" in list(diff["key"])
    at = open_runs(runs=f"{short(ids[0])},nosuchrun")
    assert [str(w.value) for w in at.warning] == ["The link names a run not in this workspace: nosuchrun"]
    assert not at.error


def test_sweep_table_grouping_and_parallel_coordinates(ids):
    at = open_runs()
    assert at.selectbox(key="rn_sweep").value == "lr-sweep"
    table = next(d.value for d in at.dataframe if "lapo.learning_rate" in d.value.columns)
    assert list(table["lapo.learning_rate"]) == [1e-4, 3e-4, 1e-3]
    assert list(table["eval_return_mean"]) == [100.0, 150.0, 200.0]
    assert "lapo.batch_size" not in table.columns  # only keys that vary
    spec = json.loads(at.get("plotly_chart")[-1].proto.spec)
    par = spec["data"][0]
    assert par["type"] == "parcoords"
    labels = [d["label"] for d in par["dimensions"]]
    assert labels[0] == "lapo.learning_rate" and "eval_return_mean" in labels
    at.selectbox(key="rn_sweep_group").set_value("lapo.batch_size").run()  # a key that does not vary
    grouped = next(d.value for d in at.dataframe if "runs" in d.value.columns)
    assert list(grouped["runs"]) == [3] and grouped["eval_return_mean mean"][0] == pytest.approx(150.0)
    at.selectbox(key="rn_sweep_group").set_value("lapo.learning_rate").run()
    grouped = next(d.value for d in at.dataframe if "runs" in d.value.columns)
    assert list(grouped["runs"]) == [1, 1, 1]


def test_run_next_moves_a_queued_run_to_the_front(ids, workspace):
    from laom_core.runs.store import RunStore

    with RunStore() as store:
        # Queued without a command: the scheduler never starts them, so they stay queued.
        older, newer = (store.create_run(f"queued {i}", "bc", "cheetah-run", {}, workspace / "runs" / f"q{i}",
                                         seed=0, status="queued") for i in range(2))
    at = open_runs(run=ids[0])
    assert at.button(key="rn_first").disabled  # a finished run has no place in the queue
    at = open_runs(run=newer)
    at.button(key="rn_first").click().run()
    assert_clean(at)
    with RunStore() as store:
        assert store.get_run(newer)["priority"] == 1 and store.get_run(older)["priority"] == 0
    assert any("priority 1" in c.value for c in at.caption)


def test_whole_log_and_downloads(ids):
    at = open_runs(run=ids[0])
    code = "\n".join(str(c.value) for c in at.code)
    assert "FIRST LINE" not in code and "line 149 of run 0" in code  # the tail
    assert "10/10" in code and "5/10" not in code  # tqdm redraws collapsed
    at.toggle(key="rn_log_whole").set_value(True).run()
    code = "\n".join(str(c.value) for c in at.code)
    assert "FIRST LINE" in code and "line 000 of run 0" in code
    labels = {b.proto.label for b in at.get("download_button")}
    assert {"Log", "Metrics (CSV)"} <= labels


def test_artifacts_browser_lists_files_serves_small_ones_plays_videos(ids, workspace, tmp_path):
    outside = tmp_path / "secret.txt"
    outside.write_text("not yours")
    os.symlink(outside, workspace / "runs" / "run0" / "link.txt")  # leads out of the run folder
    at = open_runs(run=ids[0])
    files = next(d.value for d in at.dataframe if "file" in d.value.columns)
    listed = set(files["file"])
    assert {"log.txt", "summary.json", "checkpoints/lam.pt", "artifacts/latents.npz",
            "artifacts/rollout_0.webm"} <= listed
    assert "link.txt" not in listed
    assert dict(zip(files["file"], files["kind"]))["checkpoints/lam.pt"] == "checkpoint"
    at.selectbox(key="rn_art_file").set_value("artifacts/rollout_0.webm").run()
    assert_clean(at)
    assert at.get("video"), "the rollout video is not played"
    assert any(b.proto.label == "Download rollout_0.webm" for b in at.get("download_button"))


def test_artifact_paths_never_leave_the_run_folder(tmp_path):
    from laom_core.errors import RunError
    from laom_core.runs.artifacts import list_artifacts, resolve_artifact

    run = tmp_path / "run"
    (run / "sub").mkdir(parents=True)
    (run / "sub" / "a.pt").write_bytes(b"x" * 10)
    (tmp_path / "other.txt").write_text("no")
    os.symlink(tmp_path / "other.txt", run / "out.txt")
    assert [a.path for a in list_artifacts(run)] == ["sub/a.pt"]
    assert resolve_artifact(run, "sub/a.pt") == (run / "sub" / "a.pt").resolve()
    for bad in ("../other.txt", "sub/../../other.txt", str(tmp_path / "other.txt"), "out.txt", "", "sub"):
        with pytest.raises(RunError):
            resolve_artifact(run, bad)
    with pytest.raises(RunError, match="not there"):
        list_artifacts(tmp_path / "gone")


def test_sweep_helpers_vary_group_and_draw_categories_and_missing_metrics():
    from laom_core.viz.sweep import group_rows, parcoords_figure, sweep_rows, varying_keys

    runs = [{"id": f"r{i}", "name": "x", "status": "finished", "method": m, "task": "t", "labeled_budget": None,
             "seed": s, "config": {"seed": s, "name": f"n{i}", "opt": {"lr": lr, "bs": 8}}}
            for i, (m, s, lr) in enumerate([("laom", 0, 0.1), ("laom", 1, 0.1), ("lapo", 0, 0.2)])]
    assert varying_keys(runs) == ["method", "seed", "opt.lr"]  # run fields first; name never
    results = {"r0": {"ret": 1.0}, "r1": {"ret": 3.0}, "r2": {"ret": None}}
    rows = sweep_rows(runs, results)
    grouped = group_rows(rows, "method", ["ret"])
    assert [(g["method"], g["runs"], g["ret mean"]) for g in grouped] == [("laom", 2, 2.0), ("lapo", 1, None)]
    assert grouped[0]["ret std"] == pytest.approx(np.std([1.0, 3.0], ddof=1))
    fig = parcoords_figure(rows, varying_keys(runs), ["ret"])
    dims = {d.label: d for d in fig.data[0].dimensions}
    assert list(dims["method"].ticktext) == ["laom", "lapo"] and list(dims["method"].values) == [0, 0, 1]
    ret = dims["ret"]
    assert ret.values[2] < 1.0 and ret.range[0] == ret.values[2]  # a missing metric sits below the range


def test_artifacts_of_a_queued_run_and_of_a_vanished_folder_are_one_message(workspace, monkeypatch):
    from laom_core.runs import launcher
    from laom_core.runs.store import RunStore

    monkeypatch.setattr(launcher, "ensure_scheduler", lambda *a, **k: None)  # queue only, start nothing
    with RunStore() as s:
        queued = s.create_run("waiting", "laom", "cheetah-run", {}, workspace / "runs" / "later", status="queued")
        gone = s.create_run("moved", "laom", "cheetah-run", {}, workspace / "runs" / "gone", status="queued")
        s.set_status(gone, "finished")
    at = open_runs(run=queued)
    assert any("No files yet" in str(i.value) for i in at.info) and not at.error
    at = open_runs(run=gone)
    errors = [str(e.value) for e in at.error]
    assert len(errors) == 1 and "is not there" in errors[0], errors
