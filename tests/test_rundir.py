"""The run folder's layout (laom_core/rundir.py): paths, loaders, writers, and that
nobody else spells its file names."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from laom_core import rundir
from laom_core.errors import LaomError
from laom_core.rundir import RunDir

REPO = Path(__file__).resolve().parents[1]


def test_layout_paths(tmp_path: Path) -> None:
    d = RunDir(tmp_path)
    assert d.summary == tmp_path / "summary.json"
    assert d.stages == tmp_path / "stages.json"
    assert d.config == tmp_path / "config.yaml"
    assert d.log == tmp_path / "log.txt"
    assert d.final_checkpoint("lam") == tmp_path / "checkpoints" / "lam" / "final.pt"
    assert d.last_checkpoint("bc") == tmp_path / "checkpoints" / "bc" / "last.pt"
    assert d.probe == tmp_path / "artifacts" / "probe.json"
    assert d.latents == tmp_path / "artifacts" / "latents.npz"
    assert d.leakage == tmp_path / "artifacts" / "leakage.json"
    assert d.episodes == tmp_path / "artifacts" / "rollouts" / "episodes.json"
    assert d.reprobe("abc") == tmp_path / "artifacts" / "reprobe-abc.json"
    assert rundir.of_run({"run_dir": str(tmp_path)}) == d
    assert rundir.of_run({"run_dir": None}) is None and rundir.of_run(None) is None


def test_write_then_load_round_trip(tmp_path: Path) -> None:
    assert not RunDir(tmp_path).holds_run()
    rundir.write_stages(tmp_path, "laom", ["lam", "bc"], {"lam": {"updates": 3}})
    rundir.write_summary(tmp_path, {"probe_mse": 0.5})
    rundir.write_origin(tmp_path, {"method": "laom"})
    rundir.write_config(tmp_path, "seed: 3\n")
    rundir.merge_probe(tmp_path, {"a": 1})
    rundir.merge_probe(tmp_path, {"b": 2})
    assert rundir.load_stages(tmp_path) == {"method": "laom", "planned": ["lam", "bc"],
                                            "finished": {"lam": {"updates": 3}}}
    assert rundir.load_method(tmp_path) == "laom"
    assert rundir.load_summary(tmp_path) == {"probe_mse": 0.5}
    assert rundir.read_json(RunDir(tmp_path).origin) == {"method": "laom"}
    assert rundir.load_config_dict(tmp_path) == {"seed": 3}
    assert rundir.load_probe(tmp_path) == {"a": 1, "b": 2}
    assert RunDir(tmp_path).holds_run()
    assert not list(tmp_path.rglob("*.partial"))  # atomic writes leave no temp files


def test_optional_files_missing_or_corrupt_give_none(tmp_path: Path) -> None:
    for load in (rundir.load_summary, rundir.load_stages, rundir.load_probe, rundir.load_leakage):
        assert load(tmp_path) is None
    d = RunDir(tmp_path)
    d.artifacts.mkdir()
    for path in (d.summary, d.stages, d.probe, d.leakage):
        path.write_text("{not json")
    for load in (rundir.load_summary, rundir.load_stages, rundir.load_probe, rundir.load_leakage):
        assert load(tmp_path) is None
    d.summary.write_text("[1, 2]")  # JSON, but not a summary
    assert rundir.load_summary(tmp_path) is None
    rundir.merge_probe(tmp_path, {"x": 1})  # a broken probe.json starts over
    assert rundir.load_probe(tmp_path) == {"x": 1}


def test_required_files_missing_or_corrupt_raise_laom_error(tmp_path: Path) -> None:
    with pytest.raises(LaomError, match="stages.json"):
        rundir.load_method(tmp_path)
    with pytest.raises(LaomError, match="config.yaml"):
        rundir.load_config_dict(tmp_path)
    RunDir(tmp_path).config.write_text("a: [unclosed\n")
    with pytest.raises(LaomError, match="not valid YAML"):
        rundir.load_config_dict(tmp_path)
    RunDir(tmp_path).stages.write_text('{"planned": []}')
    with pytest.raises(LaomError, match="not a training run folder"):
        rundir.load_method(tmp_path)
    episodes = RunDir(tmp_path).episodes
    with pytest.raises(LaomError, match="cannot read"):
        rundir.load_episodes(episodes)
    episodes.parent.mkdir(parents=True)
    episodes.write_text('{"episode": 0}')
    with pytest.raises(LaomError, match="not a list of episodes"):
        rundir.load_episodes(episodes)
    episodes.write_text('[{"episode": 0, "return": 1.5}]')
    assert rundir.load_episodes(episodes) == [{"episode": 0, "return": 1.5}]


def _spelled(text: str) -> set[str]:
    names = "|".join(re.escape(n) for n in rundir.FILE_NAMES)
    dirs = "|".join(re.escape(n) for n in rundir.DIR_NAMES)
    found = set(re.findall(rf"""["']({names})["']""", text))
    found |= set(re.findall(rf"""/\s*["']({dirs})["']""", text))
    return found


def test_the_check_finds_a_spelled_name() -> None:
    assert _spelled('path = run_dir / "summary.json"') == {"summary.json"}
    assert _spelled("x = folder / 'artifacts' / p") == {"artifacts"}
    assert _spelled('"""writes artifacts/probe.json"""') == set()


def test_no_module_outside_rundir_spells_run_folder_names() -> None:
    offenders = []
    for folder in ("laom_core", "pages", "bench", "scripts"):
        for path in sorted((REPO / folder).rglob("*.py")):
            if path == REPO / "laom_core" / "rundir.py":
                continue
            found = _spelled(path.read_text(encoding="utf-8"))
            if found:
                offenders.append(f"{path.relative_to(REPO)}: {sorted(found)}")
    assert not offenders, "use laom_core.rundir instead of spelling run-folder names:\n" + "\n".join(offenders)
