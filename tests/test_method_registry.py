"""The method registry is the one description of a method; every list elsewhere is derived from it."""
from __future__ import annotations

import pytest

from laom_core import methods


def test_registry_names_labels_and_pipelines():
    assert methods.METHODS == ("bc", "idm", "lapo", "laom", "laom-labels")
    assert methods.label("laom-labels") == "LAOM+supervision"
    assert methods.label("custom") == "custom" and methods.label(None) == "?"
    assert methods.LAM_METHODS == ("lapo", "laom", "laom-labels")
    assert methods.USES_LABELED == {"idm", "lapo", "laom", "laom-labels"}
    assert methods.BUDGET_METHODS == ("idm", "laom-labels")
    assert methods.PIPELINES["idm"] == ["idm", "bc", "eval"]
    assert methods.PIPELINES["bc"] == ["bc", "eval"]
    assert all(methods.PIPELINES[m][0] == "lam" for m in methods.LAM_METHODS)
    assert all(m.help and m.color.startswith("#") for m in methods.REGISTRY)
    with pytest.raises(KeyError, match="choose from"):
        methods.get("nope")


def test_every_layer_reads_the_registry():
    from laom_core import config
    from laom_core.runs import request, sweeps
    from laom_core.training import stages
    from laom_core.viz import budgets, curves

    assert config.METHODS is methods.METHODS
    assert request.METHODS is methods.METHODS and sweeps.METHODS is methods.METHODS
    assert stages.PIPELINES is methods.PIPELINES and stages.USES_LABELED is methods.USES_LABELED
    assert budgets.LABELS is methods.LABELS and curves.METHOD_COLORS is methods.COLORS
    assert set(config.METHOD_DEFAULTS) == set(methods.METHODS)
    assert stages.planned_stages("laom", stop_after="bc") == ["lam", "bc"]
