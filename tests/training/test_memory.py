"""The memory estimate refuses a run that cannot fit before any model is built, and lets
every preset through on a machine that can run it."""
from __future__ import annotations

import pytest

from laom_core.config import METHODS, load_config
from laom_core.errors import ConfigError
from laom_core.training.memory import check_fits, estimate

from train_helpers import FAST, train

GB = 2**30


@pytest.mark.parametrize("preset,available_gb", [("smoke", 1), ("cpu-small", 1), ("paper", 40)])
def test_presets_pass_where_they_can_run(preset, available_gb):
    """smoke and cpu-small fit in 1 GB with a 160 x 250-step set; paper in 40 GB with the
    whole data budget as cache (its GPU has 80-140 GB)."""
    for method in METHODS:
        config, _ = load_config(preset, method)
        transitions = None if preset == "paper" else 160 * 249
        stages = check_fits(config, method, 64, "cpu", available=available_gb * GB, data_transitions=transitions)
        assert stages and all(s.total > 0 for s in stages)


def test_estimate_grows_with_batch_stack_and_scale():
    base, _ = load_config("smoke", "bc")
    (b0,) = estimate(base, "bc", 64)
    bigger, _ = load_config("smoke", "bc", overrides={"bc.batch_size": base.bc.batch_size * 4})
    b4 = estimate(bigger, "bc", 64)[0]
    assert b4.activation_bytes == pytest.approx(4 * b0.activation_bytes, rel=0.01)
    assert b4.input_bytes == 4 * b0.input_bytes and b4.state_bytes == b0.state_bytes
    wider, _ = load_config("smoke", "bc", overrides={"bc.encoder_scale": 8})
    w = estimate(wider, "bc", 64)[0]
    assert w.activation_bytes > 4 * b0.activation_bytes and w.state_bytes > 8 * b0.state_bytes


def test_estimate_counts_heads_decoder_frozen_copies_and_cache():
    """LAPO's pixel decoder, LAOM+supervision's labeled batch, LAOM's EMA target and the
    latent BC's frozen labeller are all in the estimate; the cache is what the data needs,
    at most run.memory_budget_mb."""
    lapo_unet, _ = load_config("smoke", "lapo", overrides={"lapo.fdm_arch": "unet"})
    lapo_authors, _ = load_config("smoke", "lapo", overrides={"lapo.fdm_arch": "authors"})
    assert estimate(lapo_unet, "lapo", 64)[0].activation_bytes != estimate(lapo_authors, "lapo", 64)[0].activation_bytes
    laom, _ = load_config("smoke", "laom")
    (lam, bc), labels = estimate(laom, "laom", 64)[:2], estimate(laom, "laom-labels", 64)[0]
    assert labels.activation_bytes > lam.activation_bytes
    bc_only, _ = load_config("smoke", "bc")
    assert bc.state_bytes > estimate(bc_only, "bc", 64)[0].state_bytes  # + the frozen LAM
    small = estimate(laom, "laom", 64, data_transitions=100)[0]
    assert small.cache_bytes == 100 * 3 * 64 * 64
    assert lam.cache_bytes == laom.run.memory_budget_mb * 2**20


def test_too_big_is_refused_with_the_estimate():
    config, _ = load_config("paper", "laom")
    with pytest.raises(ConfigError, match=r"needs about \d+\.\d GB .* bc stage .*bc\.batch_size=512.* 8\.0 GB"):
        check_fits(config, "laom", 64, "cpu", available=8 * GB)


def test_cli_refuses_before_building_anything(data_dir, tmp_path, capsys, monkeypatch):
    from laom_core.runs.store import RunStore

    run_dir = tmp_path / "run"
    code, _, err = train(capsys, "--method", "bc", "--preset", "smoke", "--data", str(data_dir / "toy.h5"),
                         "--run-dir", str(run_dir), *FAST, "--set", "bc.batch_size=16384",
                         "--set", "bc.encoder_scale=128")
    assert code == 2
    lines = err.strip().splitlines()
    assert lines[-1].startswith("error: this run needs about") and "GB" in lines[-1], err
    assert "Traceback" not in err
    assert not run_dir.exists()
    assert RunStore().list_runs() == []
    monkeypatch.setenv("LAOM_STUDIO_MEMORY_CHECK", "0")
    config, _ = load_config("smoke", "bc", overrides={"bc.batch_size": 16384, "bc.encoder_scale": 128})
    check_fits(config, "bc", 32, "cpu", available=1)  # the escape hatch
