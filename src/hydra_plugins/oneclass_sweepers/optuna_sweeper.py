"""``hydra/sweeper=optuna``: see :mod:`oneclass.launch.hpo`."""

from oneclass.launch.hpo import OptunaSweeper as _OptunaSweeper


class OptunaSweeper(_OptunaSweeper):
    __doc__ = _OptunaSweeper.__doc__
