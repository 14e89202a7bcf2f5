"""Hydra plugin: the ``seed_batch`` sweeper (``hydra/sweeper=seed_batch``, see oneclass.launch.sweep)."""
