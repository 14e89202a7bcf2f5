"""How a job learns SLURM requeued it: which attempt this is (``SLURM_RESTART_COUNT``), whether the
exception ending this attempt is a requeue (submitit's SIGUSR2 handler, ``scontrol requeue``), and
submitit's "timed-out too many times" as one line. Used by the sweep's status records and by the
tracker, which closes an attempt's MLflow run KILLED with the note."""

from __future__ import annotations

import os
import sys


def slurm_attempt() -> int:
    """1 for a SLURM job's first run, k after its (k-1)-th requeue: SLURM sets ``SLURM_RESTART_COUNT``
    in a job it requeued (preemption, the time limit with submitit's ``max_num_timeout``, ``scontrol requeue``)."""
    try:
        return int(os.environ.get("SLURM_RESTART_COUNT") or 0) + 1
    except ValueError:
        return 1


def is_slurm_requeue(exc: BaseException) -> bool:
    """True when ``exc`` ends this attempt of a SLURM job that is being requeued, not killed.

    - submitit's SIGUSR2 handler (preemption, or ``signal_delay_s`` before the time limit) runs
      ``scontrol requeue`` and exits with ``SystemExit(-1)``;
    - ``scontrol requeue`` by hand: SLURM sends SIGTERM, which Lightning turns into its
      SIGTERMException (a SystemExit). So does ``scancel``; SLURM has already counted the restart
      of a requeued job (``Restarts`` in ``scontrol show job`` is above ``SLURM_RESTART_COUNT``).
    """
    job = os.environ.get("SLURM_JOB_ID")
    if not isinstance(exc, SystemExit) or not job:
        return False
    if type(exc) is SystemExit and exc.code == -1 and "submitit" in sys.modules:
        return True
    import re
    import subprocess

    try:
        out = subprocess.run(["scontrol", "-o", "show", "job", job], capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return False
    match = re.search(r"\bRestarts=(\d+)", out)
    return bool(match) and int(match.group(1)) >= slurm_attempt()


def requeued_note(k: int) -> str:
    """What status.json says about attempt ``k`` of a SLURM job that was requeued."""
    return (f"requeued by SLURM (preemption / time limit / requeue), attempt {k}: attempt {k + 1} resumes from the "
            "last epoch's checkpoint, nothing to rerun")


def slurm_time_limit(exc: Exception) -> str | None:
    """submitit's "Job not requeued because: timed-out too many times" as one line naming the limit."""
    # the signal handler raises it wherever the job is: a library (MLflow logging a metric) may wrap it
    seen, chain = 0, exc
    while chain is not None and seen < 8 and not (type(chain).__name__ == "UncompletedJobError" and "timed-out" in str(chain)):
        chain, seen = chain.__cause__ or chain.__context__, seen + 1
    if (chain is None or seen >= 8) and "Job not requeued because: timed-out" not in str(exc):
        return None
    try:
        from hydra.core.hydra_config import HydraConfig

        launcher = HydraConfig.get().launcher
        limits = f" (timeout_min={launcher.timeout_min}, requeued up to max_num_timeout={launcher.max_num_timeout} times)"
    except Exception:
        limits = ""
    return f"hit the SLURM time limit{limits}: not requeued again; raise hydra.launcher.timeout_min or max_num_timeout"
