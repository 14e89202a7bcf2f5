"""How jobs are started: the ``oneclass`` command and its subcommands (:mod:`~oneclass.launch.cli`,
``runs``, ``score``), sweeps that account for every job (:mod:`~oneclass.launch.sweep`), the Optuna
sweeper (:mod:`~oneclass.launch.hpo`) and SLURM (:mod:`~oneclass.launch.slurm`). Hydra finds the
sweeper and launcher classes through the thin plugins in ``src/hydra_plugins/``; the job itself is
:mod:`oneclass.run`'s (:mod:`oneclass.run.engine`).
"""
