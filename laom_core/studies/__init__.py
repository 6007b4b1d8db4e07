"""Studies: multi-run experiments that build datasets, queue runs and check claims."""
