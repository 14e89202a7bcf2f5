"""The job engine: one job from a composed config to finished MLflow runs.

* :mod:`oneclass.run.engine`: ``run(cfg)``, the one job path (one seed or a vectorised seed group).
* :mod:`oneclass.run.seed_group`: a vectorised seed group's members, callbacks and ensemble run.
* :mod:`oneclass.run.job`: what every job shares (where it runs, set-up, checks, metrics, artifacts).
* :mod:`oneclass.run.jobenv` (threads, GPUs, SLURM), :mod:`oneclass.run.resume` (fingerprints,
  checkpoints), :mod:`oneclass.run.snapshots` (score snapshots during training).

This ``__init__`` imports nothing, so infrastructure below the engine (``tracking`` reads
``jobenv``) can import a submodule without loading the engine.
"""
