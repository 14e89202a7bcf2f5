"""``hydra/launcher=slurm``: Hydra's submitit SLURM launcher with a quiet console and every job
accounted for. Hydra finds launchers only under the ``hydra_plugins`` package; the parts live in
:mod:`oneclass.slurm`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from hydra_plugins.hydra_submitit_launcher.submitit_launcher import SlurmLauncher as _SubmititSlurmLauncher


class SlurmLauncher(_SubmititSlurmLauncher):
    """Hydra's submitit SLURM launcher with a quiet console and every job accounted for (see the module)."""

    def launch(self, job_overrides: Sequence[Sequence[str]], initial_job_idx: int) -> Sequence[Any]:
        from hydra.core.utils import JobReturn, JobStatus
        from submitit.core.utils import UncompletedJobError

        from oneclass.slurm import LOG_FILE, close_runs_left_running, quiet_submitit, record_ended_by_slurm

        sweep_dir = Path(str(self.config.hydra.sweep.dir))
        with quiet_submitit(sweep_dir / LOG_FILE) as watcher:
            try:
                return super().launch(job_overrides, initial_job_idx)
            except UncompletedJobError as exc:  # a job SLURM ended (scancel, memory, time limit): wait for the rest
                logging.getLogger("submitit").warning("%s", exc)
                while watcher.unfinished():
                    time.sleep(1)
                    watcher.update_if_long_enough("standard")
                record_ended_by_slurm(sweep_dir, watcher, [list(o) for o in job_overrides], initial_job_idx)
                close_runs_left_running(self.config, sweep_dir)
        returns = []
        for overrides in job_overrides:
            ret = JobReturn(overrides=list(overrides), status=JobStatus.COMPLETED)
            ret.return_value = None
            returns.append(ret)
        return returns
