"""Studies: plans that build datasets, queue runs and report on them (the top floor under the CLI).

- ``demo.py``: the one-command demo (``python -m laom_core demo``, the Home page's button)
- ``reproduction.py``: the paper's claims on our suite (``bench/reproduce.py``)
- ``fidelity.py``: the fidelity study (distractor settings against the paper's ordering)
"""
