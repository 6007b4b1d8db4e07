"""Distractor leakage: how much of a latent action is the agent's action, how much distractor.

The paper's thesis is that, without supervision, latent actions learn to explain whatever
changes between two frames, the distractors included (background video, camera shake,
agent colour). This module measures it with held-out linear probes on the latents of
transitions (o_t, o_{t+1}) whose distractor state was recorded at collection time
(``distractor/*`` datasets, LAOM Studio collections and toy datasets only).

Targets of the latent action z = IDM(o_t, o_{t+1}) (what changed between the two frames):

* ``action``           the true action a_t (the agent's part);
* ``camera_delta``     camera pose at t+1 minus at t: the offsets (vertical, horizontal,
                       roll, zoom) of the 8-value camera record (offsets, then the
                       camera's cartesian velocity and the roll velocity),
                       or the whole record when it holds offsets only (toy: dx, dy pixels);
* ``background_step``  frame_index(t+1) - frame_index(t), signed: the clip's motion;
* ``color_delta``      agent colour delta at t+1 minus at t;
* ``clip``             the clip id, as a classification.

Targets of the observation embedding e(o_t) (what the frame shows): ``state`` (the
agent's part: the proprioceptive state), ``camera`` (pose offsets at t),
``background_frame`` (frame_index at t), ``color`` (colour delta at t) and ``clip``.

Probes (all closed form, deterministic): trajectories are split into K folds
(``folds``, at most the number of trajectories); each fold is scored by a ridge
regression fitted on the other folds' trajectories, on inputs standardised with
training statistics. The ridge strength is chosen per target from a fixed grid by an
inner split of the training trajectories. Every target dimension is standardised, so a
multi-dimensional R^2 is the mean of its dimensions' R^2; dimensions that are constant
over the samples (e.g. the camera of a vanilla dataset) are dropped, and a signal with no
varying dimension scores 0 (nothing to explain). R^2 is that of the pooled out-of-fold
predictions against the mean of all samples (chance = 0; conservative: a training fold's
own mean would do worse on held-out trajectories). The clip classifier is the same ridge on one-hot
targets with an argmax; its chance level is the share of the most frequent clip (the
accuracy of always answering it; held-out folds make a training-fold majority a biased,
too-low baseline).

**Leakage** (one figure per run, in [0, 1])::

    x+          = x if x >= 0.02 else 0        (0.02: the noise floor of a probe; so x+ >= 0)
    clip_score  = max(0, (clip_accuracy - clip_chance) / (1 - clip_chance))   (0 if chance is 1)
    distractor  = R2(camera_delta)+ + R2(background_step)+ + R2(color_delta)+ + clip_score+
    explained   = R2(action)+ + distractor
    leakage     = distractor / explained                                      (0 if explained is 0)

i.e. the share of what the latent action linearly explains that is distractor rather than
agent action. Signals a dataset does not record are left out of the sum. 0: the latent
carries the action and nothing of the distractors; 1: it carries only distractors. The
terms are probe R^2s, not a variance decomposition: correlated signals can both score.
``obs_leakage`` is the same ratio for the observation embedding, with ``state`` in place
of ``action`` and the per-frame signals (camera, background_frame, color, clip).

Training computes the figures at the end of stage 1 (:func:`record_run_leakage`) on the
transitions of the held-out trajectories, pooled with sampled training transitions when
fewer than 6 trajectories are held out; ``artifacts/leakage.json`` records which.
"""
from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any, Iterable, Mapping

import numpy as np

from laom_core.data.hdf5 import open_dataset
from laom_core.errors import LaomError
from laom_core.rundir import LEAKAGE
from laom_core.training.probes import r2_per_dim, ridge_model
from laom_core.workspace import atomic_write_json

MIN_VERSION = "0.1"  # first LAOM Studio release whose collections record distractor/*
CAMERA_OFFSETS = 4   # the environment's camera record: 4 offsets then 4 velocity columns
ALPHAS = tuple(10.0 ** k for k in range(-3, 5))  # ridge strength grid, times the number of samples
MAX_SAMPLES = 2048  # transitions probed per run (seeded subset): bounds the cost of the solves
MIN_HELD_OUT_TRAJECTORIES = 6  # fewer: training trajectories are pooled in (see record_run_leakage)
NOISE_FLOOR = 0.02  # R^2 and clip scores below this count as 0 in the leakage ratio
DISTRACTOR_TARGETS = ("camera_delta", "background_step", "color_delta")
OBS_DISTRACTOR_TARGETS = ("camera", "background_frame", "color")


class NoDistractorSignals(LaomError):
    """The latents' dataset does not record what the distractors did."""


def no_signals_error(where: str = "this dataset") -> NoDistractorSignals:
    return NoDistractorSignals(
        f"{where} has no distractor signals: collect it with LAOM Studio >= {MIN_VERSION} "
        "(`collect`), which records distractor/clip_id, frame_index, camera and color per step; "
        "the released datasets do not record them, so leakage cannot be measured on them")


# ----------------------------------------------------------------------------- targets
def _camera_offsets(camera: np.ndarray) -> np.ndarray:
    camera = np.asarray(camera, dtype=np.float64).reshape(len(camera), -1)
    return camera[:, :CAMERA_OFFSETS] if camera.shape[1] == 2 * CAMERA_OFFSETS else camera


def signal_targets(now: Mapping[str, np.ndarray], nxt: Mapping[str, np.ndarray] | None = None) -> dict[str, np.ndarray]:
    """Probe targets from distractor signals at t (``now``) and, for transitions, at t+1 (``nxt``).

    Keys of the inputs: ``clip_id``, ``frame_index``, ``camera``, ``color`` (any subset).
    Returns per-frame targets (``clip``, ``camera``, ``background_frame``, ``color``) and,
    with ``nxt``, transition targets (``camera_delta``, ``background_step``, ``color_delta``).
    """
    out: dict[str, np.ndarray] = {}
    if "clip_id" in now:
        out["clip"] = np.asarray(now["clip_id"]).reshape(-1).astype(np.int64)
    if "camera" in now:
        out["camera"] = _camera_offsets(now["camera"])
    if "frame_index" in now:
        out["background_frame"] = np.asarray(now["frame_index"], dtype=np.float64).reshape(-1, 1)
    if "color" in now:
        out["color"] = np.asarray(now["color"], dtype=np.float64).reshape(len(now["color"]), -1)
    if nxt is not None:
        if "camera" in now and "camera" in nxt:
            out["camera_delta"] = _camera_offsets(nxt["camera"]) - out["camera"]
        if "frame_index" in now and "frame_index" in nxt:
            out["background_step"] = (np.asarray(nxt["frame_index"], dtype=np.float64).reshape(-1, 1)
                                      - out["background_frame"])
        if "color" in now and "color" in nxt:
            color_next = np.asarray(nxt["color"], dtype=np.float64).reshape(len(nxt["color"]), -1)
            out["color_delta"] = color_next - out["color"]
    return out


def read_transition_signals(dataset: Any, traj: np.ndarray, step: np.ndarray) -> dict[str, np.ndarray]:
    """Distractor signals of transitions (traj, step -> step + 1) from a dataset file.

    ``dataset``: an open :class:`laom_core.data.hdf5.Dataset` or a path. Returns the
    targets of :func:`signal_targets`; raises :class:`NoDistractorSignals` when the file
    records none.
    """
    if isinstance(dataset, (str, Path)):
        with open_dataset(dataset) as ds:
            return read_transition_signals(ds, traj, step)
    keys = [k for k in dataset.distractor_signals if k in ("clip_id", "frame_index", "camera", "color")]
    if not keys:
        raise no_signals_error(f"dataset {Path(dataset.path).name}")
    traj = np.asarray(traj, dtype=np.int64).reshape(-1)
    step = np.asarray(step, dtype=np.int64).reshape(-1)
    if traj.shape != step.shape:
        raise LaomError(f"traj and step differ in length ({len(traj)} vs {len(step)})")
    now: dict[str, np.ndarray] = {}
    nxt: dict[str, np.ndarray] = {}
    for key in keys:
        for tr in np.unique(traj):
            rows = np.nonzero(traj == tr)[0]
            last = int(dataset.lengths[tr]) - 1
            both = np.concatenate([step[rows], np.minimum(step[rows] + 1, last)])
            values = np.asarray(dataset.read_steps(int(tr), f"distractor/{key}", both))
            if key not in now:
                shape = (len(traj), *values.shape[1:])
                now[key], nxt[key] = np.zeros(shape, values.dtype), np.zeros(shape, values.dtype)
            now[key][rows], nxt[key][rows] = values[: len(rows)], values[len(rows):]
    return signal_targets(now, nxt)


def latents_signals(latents: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Per-frame targets stored in a latents.npz (``clip_id``, ``distractor_*``); no deltas.

    Raises :class:`NoDistractorSignals` when the file holds none (clip ids all -1 and no
    ``distractor_*`` arrays).
    """
    now = {k[len("distractor_"):]: np.asarray(latents[k]) for k in latents if k.startswith("distractor_")}
    if "clip_id" in latents and (np.asarray(latents["clip_id"]) >= 0).any():
        now["clip_id"] = np.asarray(latents["clip_id"])
    if not now:
        raise no_signals_error("these latents' dataset")
    return signal_targets(now)


# ----------------------------------------------------------------------------- probes
def _folds(groups: np.ndarray, k: int, seed: int) -> list[np.ndarray]:
    """Trajectory ids shuffled (seeded) and dealt into ``k`` folds; returns held-out masks."""
    unique = np.unique(groups)
    order = np.random.default_rng(seed).permutation(unique)
    return [np.isin(groups, order[i::k]) for i in range(k)]


def _standardise(train: np.ndarray, *others: np.ndarray) -> list[np.ndarray]:
    mu = train.mean(0)
    sd = train.std(0)
    sd = np.where(sd > 1e-8, sd, 1.0)
    return [(x - mu) / sd for x in (train, *others)]


def _ridge_predictions(x_fit: np.ndarray, y_fit: np.ndarray, x_new: np.ndarray,
                       alphas: Iterable[float]) -> dict[float, np.ndarray]:
    """Predictions on ``x_new`` of the one ridge (:func:`laom_core.training.probes.ridge_model`)
    fitted on standardised ``x_fit`` -> every target column, for each strength ``alpha * n``."""
    # sklearn returns a single target column as a 1-D array: keep (N, columns)
    return {a: ridge_model(x_fit, y_fit, a * len(x_fit)).predict(x_new).reshape(len(x_new), -1) for a in alphas}


class _Target:
    """One probe target: a block of columns of the stacked target matrix."""

    def __init__(self, name: str, y: np.ndarray, classify: bool) -> None:
        self.name, self.y, self.classify = name, y, classify
        self.cols = slice(0, 0)

    def score(self, pred: np.ndarray, rows: np.ndarray, seen: np.ndarray) -> float:
        y = self.y[rows]
        if self.classify:
            return float((_argmax(pred, seen) == y.argmax(1)).mean())
        return -float(((pred - y) ** 2).sum())


def _argmax(pred: np.ndarray, seen: np.ndarray) -> np.ndarray:
    """Class guesses among the classes seen in training."""
    return np.where(seen[None, :], pred, -np.inf).argmax(1)


def _cross_fit(x: np.ndarray, groups: np.ndarray, targets: list[_Target], folds: int,
               seed: int) -> dict[str, np.ndarray]:
    """Out-of-fold predictions of every target, trajectories split into ``folds`` folds.

    In each fold the ridge strength is chosen per target on an inner split of the training
    trajectories. The decompositions are shared by all targets. Returns name -> (N, cols)
    predictions plus ``"_train_mean:<name>"`` -> (N, cols) each row's training-fold means
    (for the classifier: which classes that fold's training part saw).
    """
    start = 0
    for t in targets:
        t.cols = slice(start, start + t.y.shape[1])
        start += t.y.shape[1]
    y = np.concatenate([t.y for t in targets], axis=1)
    pred = np.zeros_like(y)
    mean = np.zeros_like(y)
    for held in _folds(groups, folds, seed):
        tr = np.nonzero(~held)[0]
        te = np.nonzero(held)[0]
        seen = y[tr].sum(0) > 0
        alphas = {t.name: ALPHAS[len(ALPHAS) // 2] for t in targets}
        inner_groups = np.unique(groups[tr])
        if len(inner_groups) >= 3:
            val_mask = _folds(groups[tr], min(4, len(inner_groups)), seed + 7)[0]
            fit_rows, val_rows = tr[~val_mask], tr[val_mask]
            xi, xv = _standardise(x[fit_rows], x[val_rows])
            val = _ridge_predictions(xi, y[fit_rows], xv, ALPHAS)
            for t in targets:
                scores = [t.score(val[a][:, t.cols], val_rows, seen[t.cols]) for a in ALPHAS]
                alphas[t.name] = ALPHAS[int(np.argmax(scores))]
        xs, xt = _standardise(x[tr], x[te])
        final = _ridge_predictions(xs, y[tr], xt, sorted(set(alphas.values())))
        for t in targets:
            pred[np.ix_(te, np.arange(y.shape[1])[t.cols])] = final[alphas[t.name]][:, t.cols]
        mean[te] = y[tr].mean(0)
    out = {}
    for t in targets:
        out[t.name] = pred[:, t.cols]
        out[f"_train_mean:{t.name}"] = mean[:, t.cols]
    return out


def _check(x: np.ndarray, name: str, n: int | None = None) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    x = x.reshape(len(x), -1)
    if n is not None and len(x) != n:
        raise LaomError(f"{name} has {len(x)} rows, the latents have {n}")
    if not np.isfinite(x).all():
        raise LaomError(f"{name} contains NaN or inf")
    return x


def _regression_target(name: str, y: np.ndarray) -> _Target | None:
    """Standardised varying dimensions of ``y``; None when nothing varies."""
    varying = y.std(0) > 1e-8 * (1.0 + np.abs(y).max(0))
    if not varying.any():
        return None
    ys = y[:, varying]
    return _Target(name, (ys - ys.mean(0)) / ys.std(0), classify=False)


def _mean_r2(pred: np.ndarray, y: np.ndarray) -> float:
    """Mean over dims of R^2 of the out-of-fold probe (:func:`laom_core.training.probes.r2_per_dim`,
    sklearn's ``r2_score``), 0 for a dimension that does not vary.

    The baseline is the mean over *all* samples, not each training fold's: with held-out
    trajectories a training-fold mean is biased away from the held-out values (a signal
    constant within a trajectory would score R^2 > 0 for predicting nothing at all).
    """
    return float(np.nan_to_num(r2_per_dim(y, pred), nan=0.0).mean())


def probe_scores(x: np.ndarray, groups: np.ndarray, regressions: Mapping[str, np.ndarray],
                 labels: np.ndarray | None = None, folds: int = 5, seed: int = 0) -> dict[str, float]:
    """Held-out probes of one representation ``x`` (N, D), split by trajectory (``groups``).

    ``regressions``: name -> (N, k) targets, each scored as ``r2_<name>`` (0 for a
    target that does not vary); ``labels`` (N,): classes, scored as ``clip_accuracy``,
    ``clip_chance`` (the share of the most frequent class: what always answering it
    scores; no guess that ignores ``x`` does better on average) and ``clip_score``
    = max(0, (accuracy - chance) / (1 - chance)).
    """
    x = _check(x, "inputs")
    n = len(x)
    groups = np.asarray(groups).reshape(-1)
    k = min(folds, len(np.unique(groups)))
    out: dict[str, float] = {}
    targets: list[_Target] = []
    for name, y in regressions.items():
        target = _regression_target(name, _check(y, name, n))
        if target is None:
            out[f"r2_{name}"] = 0.0
        else:
            targets.append(target)
    idx = None
    if labels is not None:
        labels = np.asarray(labels).reshape(-1)
        if len(labels) != n:
            raise LaomError(f"clip labels have {len(labels)} rows, the latents have {n}")
        classes, idx = np.unique(labels, return_inverse=True)
        if len(classes) < 2:
            out.update(clip_accuracy=1.0, clip_chance=1.0, clip_score=0.0)
        else:
            targets.append(_Target("_clip", np.eye(len(classes))[idx], classify=True))
    if not targets:
        return out
    pred = _cross_fit(x, groups, targets, k, seed)
    for t in targets:
        if t.classify:
            # each fold guesses among the classes its training folds saw (training mean > 0)
            mean = pred[f"_train_mean:{t.name}"]
            guess = np.where(mean > 0, pred[t.name], -np.inf).argmax(1)
            acc = float((guess == idx).mean())
            chance = float(np.bincount(idx).max() / n)
            score = max(0.0, (acc - chance) / (1.0 - chance)) if chance < 1.0 else 0.0
            out.update(clip_accuracy=acc, clip_chance=chance, clip_score=score)
        else:
            out[f"r2_{t.name}"] = _mean_r2(pred[t.name], t.y)
    return out


# ----------------------------------------------------------------------------- the figures
def _plus(value: float) -> float:
    return value if value >= NOISE_FLOOR else 0.0


def _leakage(agent: float, distractor_terms: list[float]) -> tuple[float, float]:
    """(leakage, explained): the distractor share of the explained total, and that total."""
    a = _plus(agent)
    d = float(sum(_plus(v) for v in distractor_terms))
    return (d / (a + d) if a + d > 0 else 0.0), a + d


def _blas_threads():
    """BLAS threads as many as torch's (LAOM_TORCH_THREADS / tests: 1): no oversubscription."""
    try:
        import torch
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - both come with the project's requirements
        return contextlib.nullcontext()
    return threadpool_limits(limits=max(1, torch.get_num_threads()), user_api="blas")


def leakage_figures(latents: np.ndarray, actions: np.ndarray, groups: np.ndarray,
                    signals: Mapping[str, np.ndarray], *, embeddings: np.ndarray | None = None,
                    states: np.ndarray | None = None, folds: int = 5, seed: int = 0,
                    max_samples: int = MAX_SAMPLES) -> dict[str, float]:
    """All leakage figures of one run as a plain dict of floats (see the module docstring).

    ``latents`` (N, D): latent actions of transitions; ``actions`` (N, A) their true
    actions; ``groups`` (N,) the trajectory of each transition (the probe split);
    ``signals``: targets from :func:`read_transition_signals` / :func:`signal_targets`.
    With ``embeddings`` (N, E) (and ``states`` (N, S)) the ``obs_*`` figures are added.
    At most ``max_samples`` transitions are used (a seeded random subset).

    Keys: ``leakage``, ``explained``, ``r2_action``, ``r2_camera_delta``,
    ``r2_background_step``, ``r2_color_delta``, ``clip_accuracy``, ``clip_chance``,
    ``clip_score``; ``obs_leakage``, ``obs_explained``, ``obs_r2_state``,
    ``obs_r2_camera``, ``obs_r2_background_frame``, ``obs_r2_color``,
    ``obs_clip_accuracy``, ``obs_clip_chance``, ``obs_clip_score``; ``samples``,
    ``trajectories``. A signal the data lacks has no key. ``explained`` near 0 means the
    representation explains nothing linearly, and its leakage figure says little.
    """
    z = _check(latents, "latents")
    n = len(z)
    act = _check(actions, "actions", n)
    groups = np.asarray(groups).reshape(-1)
    if len(groups) != n:
        raise LaomError(f"groups has {len(groups)} entries, the latents have {n}")
    if not any(k in signals for k in (*DISTRACTOR_TARGETS, "clip")):
        raise no_signals_error("these latents' dataset")
    n_traj = len(np.unique(groups))
    if n_traj < 2:
        raise LaomError(f"leakage probes are split by trajectory and need at least 2 trajectories; got {n_traj}")
    rows = np.arange(n)
    if n > max_samples:
        rows = np.sort(np.random.default_rng(seed).choice(n, size=max_samples, replace=False))
    sig = {k: np.asarray(v)[rows] for k, v in signals.items()}
    g = groups[rows]
    out: dict[str, float] = {"samples": float(len(rows)), "trajectories": float(len(np.unique(g)))}
    clip = sig.get("clip")

    def probe(x: np.ndarray, prefix: str, agent_key: str, agent: np.ndarray | None, names: tuple[str, ...]) -> None:
        regressions = {name: sig[name] for name in names if name in sig}
        if agent is not None:
            regressions = {agent_key: agent, **regressions}
        scores = probe_scores(x, g, regressions, clip, folds, seed)
        out.update({f"{prefix}{k}": v for k, v in scores.items()})
        if agent is not None:
            terms = [scores[f"r2_{name}"] for name in names if name in sig]
            if "clip_score" in scores:
                terms.append(scores["clip_score"])
            out[f"{prefix}leakage"], out[f"{prefix}explained"] = _leakage(scores[f"r2_{agent_key}"], terms)

    with _blas_threads():
        probe(z[rows], "", "action", act[rows], DISTRACTOR_TARGETS)
        if embeddings is not None:
            emb = _check(embeddings, "embeddings", n)[rows]
            state = None if states is None else _check(states, "states", n)[rows]
            probe(emb, "obs_", "state", state, OBS_DISTRACTOR_TARGETS)
    return out


def leakage_from_features(held: Mapping[str, np.ndarray], dataset: Any, *, folds: int = 5,
                          seed: int = 0) -> dict[str, float]:
    """Figures from held-out features (``z``, ``emb``, ``actions``, ``states``, ``traj``, ``step``)
    as stage 1 collects them, reading the distractor signals of each transition from ``dataset``."""
    signals = read_transition_signals(dataset, held["traj"], held["step"])
    return leakage_figures(held["z"], held["actions"], held["traj"], signals, embeddings=held.get("emb"),
                           states=held.get("states"), folds=folds, seed=seed)


def _pool(held: Mapping[str, np.ndarray], train: Mapping[str, np.ndarray] | None) -> tuple[dict, str]:
    """The features to probe: the held-out ones, pooled with the training ones when the
    held-out part has fewer than ``MIN_HELD_OUT_TRAJECTORIES`` trajectories (a probe split
    over 2 trajectories says little). Trajectory ids are the file's, so they never clash."""
    held = dict(held or {})
    n_held = len(np.unique(held["traj"])) if len(held.get("z", ())) else 0
    if n_held >= MIN_HELD_OUT_TRAJECTORIES or not train or len(train.get("z", ())) == 0:
        return held, "held_out"
    if n_held == 0:
        return dict(train), "train"
    keys = [k for k in ("z", "emb", "actions", "states", "traj", "step") if k in held and k in train]
    return {k: np.concatenate([np.asarray(held[k]), np.asarray(train[k])]) for k in keys}, "held_out+train"


def record_run_leakage(ctx: Any, held: Mapping[str, np.ndarray], stage: str, step: int,
                       train: Mapping[str, np.ndarray] | None = None) -> dict[str, Any]:
    """End of stage 1: figures of the held-out features -> ``artifacts/leakage.json`` and metrics.

    ``ctx`` is the training run's context (``data_path``, ``artifacts_dir``, ``metrics``,
    ``config.seed``). ``train``: features of training transitions, pooled in when the
    held-out trajectories are too few (the JSON's ``pool`` says which were probed). The
    figures are logged under ``stage`` at ``step``, so ``runs show --json`` and the
    dashboard find them with the run's other metrics. A dataset without distractor signals
    (the released files) is not an error for training: the JSON then says why there are no
    figures and nothing is logged (likewise, with a warning on stderr, if the analysis
    itself fails: it must not cost the run its stage 1).
    """
    path = Path(ctx.artifacts_dir) / LEAKAGE
    result: dict[str, Any] = {"definition": "leakage = distractor / (R2(action)+ + distractor); see "
                                            "laom_core/training/leakage.py"}
    try:
        if (not held or len(held.get("z", ())) == 0) and (not train or len(train.get("z", ())) == 0):
            raise LaomError("no transitions to probe (dataset too small)")
        features, result["pool"] = _pool(held, train)
        figures = leakage_from_features(features, ctx.data_path, seed=int(ctx.config.seed))
    except LaomError as exc:
        result.update(available=False, reason=str(exc))
    except Exception as exc:  # an analysis bug must not cost the run its finished stage 1
        import sys

        print(f"warning: leakage analysis failed: {type(exc).__name__}: {exc}", file=sys.stderr)
        result.update(available=False, reason=f"leakage analysis failed: {type(exc).__name__}: {exc}")
    else:
        result.update(available=True, figures=figures)
        ctx.metrics.log(stage, step, {k: v for k, v in figures.items() if k not in ("samples", "trajectories")})
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_json(path, result)
    return result
