"""``hydra/launcher=slurm``: Hydra's submitit SLURM launcher with a quiet console and every job
accounted for. Hydra finds launchers only under the ``hydra_plugins`` package; the parts live in
:mod:`oneclass.launch.slurm`.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from hydra_plugins.hydra_submitit_launcher.submitit_launcher import SlurmLauncher as _SubmititSlurmLauncher


class SlurmLauncher(_SubmititSlurmLauncher):
    """Hydra's submitit SLURM launcher with a quiet console and every job accounted for (see the module)."""

    def launch(self, job_overrides: Sequence[Sequence[str]], initial_job_idx: int) -> Sequence[Any]:
        from hydra.core.utils import JobReturn, JobStatus
        from submitit.core.utils import UncompletedJobError
        from submitit.slurm.slurm import SlurmJob

        from oneclass.launch.slurm import LOG_FILE, close_runs_left_running, quiet_submitit, record_ended_by_slurm

        sweep_dir = Path(str(self.config.hydra.sweep.dir))
        ended: list[str] = []
        own = "results" in SlurmJob.__dict__
        original = SlurmJob.results

        def results(job: Any) -> list[Any]:
            """A job SLURM ended (scancel, memory, time limit) has no result: None, recorded below,
            and the launcher goes on waiting for the other jobs (their results are kept, e.g. for optuna)."""
            try:
                return original(job)
            except UncompletedJobError as exc:
                logging.getLogger("submitit").warning("%s", exc)
                ended.append(job.job_id)
                ret = JobReturn(overrides=[], status=JobStatus.COMPLETED)
                ret.return_value = None
                return [ret]

        with quiet_submitit(sweep_dir / LOG_FILE) as watcher:
            SlurmJob.results = results
            try:
                returns = super().launch(job_overrides, initial_job_idx)
            finally:
                if own:
                    SlurmJob.results = original
                else:
                    del SlurmJob.results
            if ended:
                record_ended_by_slurm(sweep_dir, watcher, [list(o) for o in job_overrides], initial_job_idx)
                close_runs_left_running(self.config, sweep_dir)
        return returns
