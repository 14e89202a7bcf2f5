"""Hydra plugin: the ``slurm`` launcher preset's class (``hydra/launcher=slurm``, see oneclass.launch.slurm)."""
