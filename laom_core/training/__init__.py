"""Training: one module per stage, composed into methods.

- ``lam.py``: stage 1, the latent action model (LAPO, LAOM, LAOM + supervision)
- ``idm.py``: stage 1 of the IDM baseline (supervised inverse dynamics on labeled data)
- ``bc.py``: stage 2, behaviour cloning of latent labels, pseudo-labels or true actions
- ``decoder.py``: stage 3, latent -> action decoder on labeled data
- ``evaluate.py``: rollouts in the eval environment, videos, normalized return
- ``probes.py`` / ``artifacts.py``: online and held-out probes, probe.json, latents.npz
- ``common.py``: run context, schedule, resumable step loop, checkpoints, metrics
- ``methods.py``: the pipelines (``PIPELINES``) and the :class:`Runner` that executes them
- ``augment.py``: batched image augmentations
- ``leakage.py``: the distractor-leakage probe of a run's latent (artifacts/leakage.json)
"""
