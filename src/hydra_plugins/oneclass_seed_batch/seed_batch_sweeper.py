"""``hydra/sweeper=seed_batch``: Hydra's basic sweeper, with sweep points that differ only in
``seed`` grouped into one vectorised job each (``vectorised.seeds=[...]``).

Hydra finds sweepers only under the ``hydra_plugins`` package; the grouping itself lives in
:func:`oneclass.launch.seed_batch.seed_groups`. Any launcher runs the jobs (basic, joblib, submitit/SLURM: one
array task per group).
"""

from __future__ import annotations

import logging
from typing import Any

from hydra._internal.core_plugins.basic_sweeper import BasicSweeper
from hydra.core.override_parser.types import Override

from oneclass.launch.sweep import one_line_exit

log = logging.getLogger(__name__)


class SeedBatchSweeper(BasicSweeper):
    """Parameters: ``max_batch`` seeds per group (null = all seeds of a sweep point in one job);
    ``max_batch_size`` and ``params`` as Hydra's basic sweeper."""

    @one_line_exit
    def __init__(self, max_batch: int | None = 10, max_batch_size: int | None = None,
                 params: dict[str, str] | None = None) -> None:
        from oneclass.launch.seed_batch import check_max_batch

        super().__init__(max_batch_size=max_batch_size, params=params)
        self.max_batch = check_max_batch(max_batch)

    def split_arguments(self, overrides: list[Override], max_batch_size: int | None) -> list[list[list[str]]]:
        """The basic sweeper's points, grouped by :func:`oneclass.launch.seed_batch.seed_groups`, in launch batches."""
        from oneclass.launch.seed_batch import seed_groups

        points = BasicSweeper.split_arguments(overrides, None)[0]
        jobs, summary = seed_groups(points, self.max_batch, self._unsupported)
        print(summary, flush=True)
        size = len(jobs) if max_batch_size in (None, -1) else max_batch_size
        return [jobs[i : i + size] for i in range(0, len(jobs), size)] if jobs else [[]]

    def _unsupported(self, point: list[str]) -> str | None:
        """Why the model of this sweep point cannot be vectorised (None: it can)."""
        from hydra.utils import get_class

        from oneclass.vectorised import config_reason

        try:
            cfg: Any = self.hydra_context.config_loader.load_sweep_config(master_config=self.config,
                                                                          sweep_overrides=list(point))
            get_class(str(cfg.model._target_))  # a model that cannot be found: its note says so
            return config_reason(cfg.model)
        except Exception as exc:  # the job itself will report a config that does not compose
            from oneclass.errors import first_line

            return first_line(exc)
