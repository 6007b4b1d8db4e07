

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
