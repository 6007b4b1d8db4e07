"""One normalized-return rule: the same run shows the same number through every path."""
from __future__ import annotations

import json

import pytest

from laom_core import metrics
from laom_core.studies import demo
from laom_core.analysis import aggregate
from laom_core.studies import reproduction as rp
from laom_core.training.evaluate import reference_return


def test_the_rule_own_bc_then_paper_then_the_noise_floor():
    own = metrics.return_normalizer("cheetah-run", True, [400.0, 600.0, None, -3.0])
    assert own.divisor == 500.0 and own.source == "our BC, mean of 2 run(s)" and own(100) == 0.2
    paper = metrics.return_normalizer("cheetah-run", False)
    assert paper.divisor == 840.0 and paper.source == "paper BC (no_distractors)"
    noise = metrics.return_normalizer("cheetah-run", True, [50.0])  # below 10% of 823
    assert noise.divisor is None and noise(100) is None and "82.3" in noise.problem
    assert metrics.return_normalizer("toy-move", False, [9.0]).problem  # the floor of 10
    assert metrics.return_normalizer("toy-move", False).divisor is None  # no reference at all


def _store_runs(workspace, plan, bc_return: float, laom_return: float) -> None:
    from laom_core.runs.store import RunStore

    by_method = {r["method"]: r for r in demo.run_requests(plan)}
    demo._Status(plan)
    with RunStore() as store:
        for method, ret in (("bc", bc_return), ("laom", laom_return)):
            req = by_method[method]
            run_dir = workspace / "runs" / method
            run_dir.mkdir(parents=True)
            (run_dir / "summary.json").write_text(json.dumps(
                {"eval_return_mean": ret, "eval_task": plan.task, "eval_difficulty": plan.difficulty}))
            rid = store.create_run(req["name"], method, plan.task, {}, run_dir, status="queued",
                                   labeled_budget=req["labeled_budget"])
            store.set_status(rid, "running")
            store.set_status(rid, "finished")


@pytest.mark.parametrize("bc_return, expected", [(400.0, 0.25), (5.0, None)])
def test_same_run_same_number_through_every_path(workspace, bc_return, expected):
    from laom_core.runs.store import RunStore

    plan = demo.make_plan(smoke=False)
    _store_runs(workspace, plan, bc_return, 100.0)
    distractors = metrics.has_distractors(plan.difficulty)

    with RunStore() as store:  # what a run's summary.json records (training/methods.py)
        from_summary = reference_return(plan.task, plan.difficulty, store)(100.0)
    demo_rows = {r["method"]: r for r in demo.demo_results()["rows"]}
    rows = [{"method": "bc", "labeled_budget": None, "task": plan.task, "difficulty": plan.difficulty,
             "eval_return_mean": bc_return},
            {"method": "laom", "labeled_budget": 8, "task": plan.task, "difficulty": plan.difficulty,
             "eval_return_mean": 100.0}]
    from_aggregate = aggregate.normalized_returns(rows)[1]["normalized_return"]
    from_page = aggregate.checked_normalized_returns(rows, distractors=distractors)[0][1]["normalized_return"]
    repro = [{"method": m, "task": plan.task, "distractors": distractors, "budget": b, "ablation": None,
              "eval_return_mean": ret, "normalized_return": None} for m, b, ret in (("bc", None, bc_return),
                                                                                    ("laom", 8, 100.0))]
    rp._normalize(repro)

    got = [from_summary, demo_rows["laom"]["normalized_return"], from_aggregate, from_page,
           repro[1]["normalized_return"]]
    assert got == [pytest.approx(expected) if expected else None] * 5
    if expected is None:
        assert "normalization_problem" in repro[1]
