"""Config: presets, the authors' YAML files, overrides and refusals."""
from __future__ import annotations

import pytest

from laom_core.config import PRESETS, TrainConfig, config_from_dict, load_config, parse_set
from laom_core.errors import ConfigError
from laom_core.config import PRESET_DIR

# (lapo.aug_views, lapo.fdm_arch, lapo.fdm_residual) of the small presets, chosen by the
# measurements in their YAML comments
SMALL_PRESET_CHOICE = {"cpu-small": ("shared", "authors", True), "smoke": ("shared", "unet", True)}


def test_every_preset_loads_for_every_method():
    for preset in PRESETS:
        for method in ("idm", "lapo", "laom", "laom-labels", "bc"):
            config, ignored = load_config(preset, method)
            assert isinstance(config, TrainConfig) and ignored == []


def test_paper_preset_is_table_5():
    c, _ = load_config("paper", "laom")
    lam = c.lapo
    assert (lam.batch_size, lam.num_epochs, lam.learning_rate, lam.warmup_epochs) == (512, 10, 1e-4, 3)
    assert (lam.frame_stack, lam.encoder_scale, lam.encoder_num_res_blocks) == (3, 6, 2)
    assert (lam.latent_action_dim, lam.future_obs_offset, lam.weight_decay, lam.grad_norm) == (8192, 10, 0.0, None)
    assert (lam.act_head_dim, lam.obs_head_dim, lam.target_tau) == (1024, 1024, 0.001)
    assert (lam.labeled_batch_size, lam.labels_coef, lam.use_aug) == (128, 0.001, True)
    assert (c.bc.batch_size, c.bc.num_epochs, c.bc.learning_rate, c.bc.encoder_scale, c.bc.use_aug) == (
        512, 10, 1e-4, 32, False)
    assert (c.decoder.batch_size, c.decoder.total_updates, c.decoder.learning_rate, c.decoder.hidden_dim,
            c.decoder.eval_episodes) == (512, 2500, 3e-4, 256, 25)
    assert (c.idm.total_updates, c.idm.batch_size, c.idm.learning_rate, c.idm.encoder_scale,
            c.idm.future_obs_offset) == (10000, 512, 1e-4, 12, 1)


def test_paper_preset_has_the_authors_augmentation_and_lapo_decoder():
    for c in (load_config("paper", "laom")[0], TrainConfig()):  # the preset and the defaults
        lam = c.lapo
        assert (lam.aug_views, lam.aug_shift_pad, lam.aug_max_rotation_deg, lam.aug_perspective_distortion,
                lam.aug_perspective_pad) == ("independent", 14, 90, 0.5, 30)
        assert (lam.fdm_arch, lam.fdm_residual) == ("authors", False)
    for value in ("independent", "shared"):
        assert load_config("smoke", "laom", overrides=[f"lapo.aug_views={value}"])[0].lapo.aug_views == value
    for value in ("authors", "unet"):
        assert load_config("smoke", "lapo", overrides=[f"lapo.fdm_arch={value}"])[0].lapo.fdm_arch == value


def test_small_presets_choose_their_augmentation_and_fdm():
    for preset in ("cpu-small", "smoke"):
        lam = load_config(preset, "laom")[0].lapo
        assert (lam.aug_views, lam.fdm_arch, lam.fdm_residual) == SMALL_PRESET_CHOICE[preset], preset
        assert (lam.aug_shift_pad, lam.aug_max_rotation_deg, lam.aug_perspective_distortion,
                lam.aug_perspective_pad) == (14, 10, 0.2, 0), preset


def test_runs_saved_before_the_keys_existed_rebuild_their_unet():
    c, _ = load_config("cpu-small", "lapo")
    saved = c.to_dict()
    del saved["lapo"]["fdm_arch"], saved["lapo"]["aug_views"]
    old = config_from_dict(saved)
    assert old.lapo.fdm_arch == "unet" and old.lapo.aug_views == "shared"
    assert config_from_dict(c.to_dict()) == c


def test_authors_example_yaml_loads_as_is():
    c, ignored = load_config("smoke", "laom", PRESET_DIR / "authors-example.yaml")
    assert c.lapo.learning_rate == pytest.approx(1e-4)  # written "1e-4": a string for PyYAML
    assert c.lapo.latent_action_dim == 8192 and c.bc.encoder_scale == 32 and c.decoder.total_updates == 2500
    assert c.project == "laom" and c.bc.dcs_backgrounds_split == "train"


def test_authors_style_yaml_with_their_extra_keys(tmp_path):
    path = tmp_path / "theirs.yaml"
    path.write_text(
        "project: laom\nseed: 3\n"
        "lapo:\n  learning_rate: 3e-4\n  num_updates: 7\n  normalize: true\n  labeled_loss_coef: 0.05\n"
        "idm:\n  num_updates: 500\n  batch_size: 64\n"
    )
    c, ignored = load_config("smoke", "laom-labels", path)
    assert c.seed == 3 and c.lapo.learning_rate == pytest.approx(3e-4) and c.lapo.total_updates == 7
    assert c.lapo.labels_coef == pytest.approx(0.05) and c.idm.total_updates == 500
    assert ignored == ["lapo.normalize"]


@pytest.mark.parametrize(
    "override, key",
    [
        ("lapo.bogus=1", "lapo.bogus"),
        ("nosuch.batch_size=2", "nosuch"),
        ("lapo.batch_size=abc", "lapo.batch_size"),
        ("lapo.batch_size=0", "lapo.batch_size"),
        ("lapo.batch_size=2.5", "lapo.batch_size"),
        ("lapo.learning_rate=-1e-3", "lapo.learning_rate"),
        ("lapo.use_aug=perhaps", "lapo.use_aug"),
        ("lapo.target_tau=1.5", "lapo.target_tau"),
        ("run.held_out_fraction=nan", "run.held_out_fraction"),
        ("bc.frame_stack=2", "frame_stack"),
        ("lapo.aug_views=both", "lapo.aug_views"),
        ("lapo.fdm_arch=resnet", "lapo.fdm_arch"),
        ("lapo.aug_perspective_distortion=1.5", "lapo.aug_perspective_distortion"),
        ("lapo.aug_max_rotation_deg=200", "lapo.aug_max_rotation_deg"),
        ("lapo.aug_shift_pad=-1", "lapo.aug_shift_pad"),
    ],
)
def test_bad_overrides_name_the_key(override, key):
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        load_config("smoke", "laom", overrides=[override])


def test_bad_yaml_file_names_the_key(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("lapo:\n  latent_action_dimm: 64\n")
    with pytest.raises(ConfigError, match="lapo.latent_action_dimm"):
        load_config("smoke", "laom", path)
    path.write_text("lapo: [1, 2\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config("smoke", "laom", path)
    with pytest.raises(ConfigError, match="not found"):
        load_config("smoke", "laom", tmp_path / "missing.yaml")


def test_overrides_are_typed_and_method_defaults_yield_to_the_user():
    c, _ = load_config("smoke", "lapo", overrides=["lapo.latent_action_dim=64", "lapo.grad_norm=null",
                                                    "run.compile=true"])
    assert c.lapo.latent_action_dim == 64 and c.lapo.grad_norm is None and c.run.compile is True
    assert c.lapo.future_obs_offset == 1 and c.lapo.use_aug is False  # LAPO defaults
    c, _ = load_config("smoke", "lapo", overrides=["lapo.future_obs_offset=5"])
    assert c.lapo.future_obs_offset == 5
    with pytest.raises(ConfigError, match="section.key=value"):
        parse_set(["lapo.batch_size"])


def test_resolved_config_round_trips():
    c, _ = load_config("cpu-small", "laom", overrides=["lapo.latent_action_dim=96"])
    assert config_from_dict(c.to_dict()) == c


def test_cli_prints_the_resolved_config(capsys):
    import yaml

    from laom_core.cli import main

    assert main(["train", "--method", "lapo", "--preset", "paper", "--set", "lapo.batch_size=256",
                 "--print-config"]) == 0
    printed = yaml.safe_load(capsys.readouterr().out)
    assert printed["lapo"]["batch_size"] == 256 and printed["lapo"]["future_obs_offset"] == 1
    assert config_from_dict(printed).lapo.latent_action_dim == 8192
    assert main(["train", "--method", "laom", "--preset", "paper", "--print-config"]) == 0
    printed = yaml.safe_load(capsys.readouterr().out)
    assert printed["lapo"]["aug_views"] == "independent" and printed["lapo"]["fdm_arch"] == "authors"


def test_frame_stacks_must_match_only_where_stages_chain():
    c, _ = load_config("smoke", "bc", overrides=["bc.frame_stack=2"])
    assert c.bc.frame_stack == 2
    with pytest.raises(ConfigError, match="idm.frame_stack"):
        load_config("smoke", "idm", overrides=["bc.frame_stack=2"])
    c, _ = load_config("smoke", "idm", overrides=["bc.frame_stack=2", "idm.frame_stack=2"])
    assert c.idm.frame_stack == 2


def _alias_bomb(levels: int, width: int = 9) -> str:
    """Anchors of ``width`` aliases each, ``levels`` deep, under ``lapo: batch_size:`` (a few hundred bytes)."""
    names = "abcdefghijklmnop"
    items = [f"&{names[0]} [{', '.join(['1'] * width)}]"]
    for i in range(1, levels):
        items.append(f"&{names[i]} [{', '.join([f'*{names[i - 1]}'] * width)}]")
    return "lapo:\n  batch_size: [" + ", ".join(items) + "]\n"


def test_yaml_alias_bomb_is_refused_with_a_short_message(tmp_path):
    path = tmp_path / "bomb.yaml"
    path.write_text(_alias_bomb(5))  # 9**5 values once expanded; formatted whole, a 150 KB error line
    with pytest.raises(ConfigError) as info:
        load_config("smoke", "laom", path)
    assert "bomb.yaml" in str(info.value) and len(str(info.value)) < 300


def test_the_reported_371_byte_yaml_is_refused_in_bounded_time_and_memory(tmp_path):
    """The issue's document: nine anchors of nine aliases; a child process with 2 GB of address space."""
    import subprocess
    import sys

    path = tmp_path / "bomb9.yaml"
    path.write_text(_alias_bomb(9))
    assert len(path.read_bytes()) < 400
    code = ("import resource, sys; resource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30))\n"
            "from laom_core.config import load_config\nfrom laom_core.errors import ConfigError\n"
            "try:\n    load_config('smoke', 'laom', sys.argv[1])\nexcept ConfigError as e:\n"
            "    print('refused', len(str(e)))\n")
    proc = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and proc.stdout.startswith("refused"), proc.stderr[-500:]
    assert int(proc.stdout.split()[1]) < 300


def test_deep_large_and_recursive_yaml_is_refused(tmp_path):
    deep = tmp_path / "deep.yaml"
    deep.write_text("lapo:\n  batch_size: " + "[" * 200 + "]" * 200 + "\n")
    big = tmp_path / "big.yaml"
    big.write_text("project: x\n" + "# padding\n" * 200_000)
    recursive = tmp_path / "rec.yaml"
    recursive.write_text("lapo:\n  batch_size: &a [*a]\n")
    for path, what in ((deep, "nested"), (big, "larger"), (recursive, "contains it")):
        with pytest.raises(ConfigError, match=what):
            load_config("smoke", "laom", path)
    with pytest.raises(ConfigError, match="more than"):
        parse_set(["lapo.batch_size=" + _alias_bomb(6).split("batch_size: ", 1)[1].strip()])


def test_rejected_values_are_shown_truncated(tmp_path):
    path = tmp_path / "long.yaml"
    path.write_text("lapo:\n  batch_size: " + "x" * 100_000 + "\n")
    with pytest.raises(ConfigError, match="lapo.batch_size") as info:
        load_config("smoke", "laom", path)
    assert len(str(info.value)) < 200
    with pytest.raises(ConfigError) as info:
        load_config("smoke", "laom", overrides=["lapo.learning_rate=" + "y" * 100_000])
    assert len(str(info.value)) < 200


@pytest.mark.parametrize("item", [
    "lapo.batch_size=100000000", "lapo.latent_action_dim=100000000", "lapo.latent_action_dim=1e20",
    "lapo.encoder_scale=10000", "bc.encoder_scale=1e9", "idm.total_updates=1e12", "lapo.num_epochs=1e9",
    "decoder.hidden_dim=10000000", "run.probe_samples=1e9", "lapo.learning_rate=1e300", "run.memory_budget_mb=1e12",
])
def test_huge_values_are_refused_naming_the_key(item, tmp_path):
    key = item.split("=")[0]
    with pytest.raises(ConfigError, match=rf"{key} must be <= "):
        load_config("smoke", "laom", overrides=[item])
    section, name = key.split(".")
    path = tmp_path / "c.yaml"
    path.write_text(f"{section}:\n  {name}: {item.split('=')[1]}\n")
    with pytest.raises(ConfigError, match=rf"{key} must be <= "):
        load_config("smoke", "laom", path)


def test_every_numeric_key_has_a_range():
    import dataclasses
    import typing

    from laom_core.config import NON_NEGATIVE, POSITIVE, SECTIONS, UNIT_INTERVAL, UPPER

    for section, cls in SECTIONS.items():
        for f in dataclasses.fields(cls):
            hint = typing.get_type_hints(cls)[f.name]
            args = [a for a in typing.get_args(hint) if a is not type(None)] or [hint]
            if args[0] in (int, float):
                assert f.name in UNIT_INTERVAL or (f.name in UPPER and f.name in POSITIVE | NON_NEGATIVE), \
                    f"{section}.{f.name} has no range"


@pytest.mark.parametrize("seed", ["-1", "99999999999999999999", "4294967296"])
def test_negative_or_huge_seed_is_refused(seed, tmp_path):
    with pytest.raises(ConfigError, match="config key seed must be"):
        load_config("smoke", "bc", overrides=[f"seed={seed}"])
    path = tmp_path / "c.yaml"
    path.write_text(f"seed: {seed}\n")
    with pytest.raises(ConfigError, match="config key seed must be"):
        load_config("smoke", "bc", path)
    assert load_config("smoke", "bc", overrides=["seed=4294967295"])[0].seed == 4294967295
