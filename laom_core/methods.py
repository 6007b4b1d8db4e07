"""The methods LAOM Studio trains: one registry, the one place a method is described.

Every list of method names, labels, pipelines and "is a LAM" in the config, training, the
launcher, the pages, analysis and the studies is derived from :data:`REGISTRY` (no torch, no
streamlit: the config checks and the pages import it cheaply).

The registry is in the paper's table order: the baselines (BC, IDM), then the latent action
models (LAPO, LAOM, LAOM+supervision).
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Method:
    name: str            # the config / CLI / store name
    label: str           # what a reader sees: "LAOM+supervision"
    stages: tuple[str, ...]  # the pipeline a run executes, in order
    uses_labels: bool    # reads the labeled subset (the stage-3 decoder, or the IDM itself)
    budget_shapes_model: bool  # the labeled subset trains its first stage (so it needs one, and its
    #                            budget is swept): the IDM, and LAOM's supervised action head
    is_lam: bool         # a latent action model: stage 1 learns latent actions (probe, latents.npz)
    color: str           # its colour in every figure
    help: str            # one line for the Train page


REGISTRY: tuple[Method, ...] = (
    Method("bc", "BC", ("bc", "eval"), uses_labels=False, budget_shapes_model=False, is_lam=False,
           color="#7f7f7f", help="BC: behaviour cloning on the true actions (the normalization reference)"),
    Method("idm", "IDM", ("idm", "bc", "eval"), uses_labels=True, budget_shapes_model=True, is_lam=False,
           color="#ff7f0e",
           help="IDM baseline: supervised inverse dynamics on the labeled subset, then BC on pseudo-labels"),
    Method("lapo", "LAPO", ("lam", "bc", "decoder", "eval"), uses_labels=True, budget_shapes_model=False,
           is_lam=True, color="#d62728",
           help="LAPO: pixel-space forward model, one-step IDM (no labels during LAM training)"),
    Method("laom", "LAOM", ("lam", "bc", "decoder", "eval"), uses_labels=True, budget_shapes_model=False,
           is_lam=True, color="#1f77b4",
           help="LAOM: latent forward model, multi-step IDM, large latent, augmentations"),
    Method("laom-labels", "LAOM+supervision", ("lam", "bc", "decoder", "eval"), uses_labels=True,
           budget_shapes_model=True, is_lam=True, color="#2ca02c",
           help="LAOM + supervision: LAOM plus a linear action head on a small labeled batch"),
)

BY_NAME: dict[str, Method] = {m.name: m for m in REGISTRY}

# Derived views, for the places that want a plain collection.
METHODS: tuple[str, ...] = tuple(m.name for m in REGISTRY)
LABELS: dict[str, str] = {m.name: m.label for m in REGISTRY}
COLORS: dict[str, str] = {m.name: m.color for m in REGISTRY}
PIPELINES: dict[str, list[str]] = {m.name: list(m.stages) for m in REGISTRY}
LAM_METHODS: tuple[str, ...] = tuple(m.name for m in REGISTRY if m.is_lam)
USES_LABELED: frozenset[str] = frozenset(m.name for m in REGISTRY if m.uses_labels)
BUDGET_METHODS: tuple[str, ...] = tuple(m.name for m in REGISTRY if m.budget_shapes_model)


def get(name: str) -> Method:
    """The method called ``name``; KeyError names the known ones."""
    try:
        return BY_NAME[name]
    except KeyError:
        raise KeyError(f"unknown method {name!r} (choose from {', '.join(METHODS)})") from None


def label(name: str | None) -> str:
    """A method's label, or the name itself when it is not a known method ("?" for none)."""
    return LABELS.get(name or "", name or "?")
