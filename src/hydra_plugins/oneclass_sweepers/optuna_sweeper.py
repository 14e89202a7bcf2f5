"""``hydra/sweeper=optuna``: see :mod:`oneclass.hpo`."""

from oneclass.hpo import OptunaSweeper as _OptunaSweeper


class OptunaSweeper(_OptunaSweeper):
    __doc__ = _OptunaSweeper.__doc__
