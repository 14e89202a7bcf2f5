"""Per-job process state: torch threads, global RNGs, Lightning's seed variables, SLURM requeueing.

Hydra's joblib launcher runs several jobs one after the other in the same (loky) worker process,
so whatever a job sets process-wide must be put back when it ends, or the next job inherits it.
:func:`isolated` sets the job's torch thread count and restores threads, the python / numpy /
torch random states and ``PL_GLOBAL_SEED`` afterwards. (MLflow needs nothing here: the tracker
uses an explicit ``MlflowClient``, never the fluent API's active run or global tracking URI.)
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import random
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import torch

from oneclass.config import require_positive

# environment variables lightning.seed_everything sets
_SEED_VARS = ("PL_GLOBAL_SEED", "PL_SEED_WORKERS")


def available_cores() -> int:
    """CPU cores this process may run on (the affinity mask / SLURM allocation, else cpu_count)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def concurrent_jobs(n_jobs: Any) -> int | None:
    """joblib's ``n_jobs`` as a number of concurrent jobs on this machine (-1 = one per core)."""
    if n_jobs is None or isinstance(n_jobs, bool) or not isinstance(n_jobs, int) or n_jobs == 0:
        return None
    cores = available_cores()
    return n_jobs if n_jobs > 0 else max(1, cores + 1 + n_jobs)


def job_threads(threads: Any, parallel_jobs: int | None = None, cpus_per_task: int | None = None) -> int | None:
    """torch CPU threads for one job; None = leave torch's default.

    ``threads`` (the config key) wins when set; else a SLURM/submitit job uses its
    ``cpus_per_task``; else jobs sharing this machine (joblib's ``n_jobs``) split the cores evenly.
    """
    if threads is not None:
        return int(require_positive(threads, "threads", integer=True))
    if cpus_per_task:
        return int(cpus_per_task)
    if parallel_jobs:
        return max(1, available_cores() // parallel_jobs)
    return None


# networks below this many weights run fastest on one CPU thread: torch's intra-op threads cost more
# in synchronisation than they save on small matrices, and much more on a loaded machine
SMALL_NETWORK_PARAMS = 100_000


def small_network(model: Any) -> bool:
    """Whether ``model`` (a torch module) is small enough that one CPU thread is the fastest."""
    params = getattr(model, "parameters", None)
    if not callable(params):
        return False
    try:
        return sum(p.numel() for p in params()) < SMALL_NETWORK_PARAMS
    except TypeError:
        return False


def _rng_digest() -> str:
    """Short fingerprint of the global python, numpy and torch random states."""
    h = hashlib.sha1()
    h.update(repr(random.getstate()).encode())
    kind, keys, pos, has_gauss, gauss = np.random.get_state()
    h.update(keys.tobytes() + repr((kind, pos, has_gauss, gauss)).encode())
    h.update(torch.get_rng_state().numpy().tobytes())
    return h.hexdigest()[:12]


def process_state() -> dict[str, Any]:
    """What a job finds when it starts: proof that nothing leaked from an earlier job in this process."""
    # Only look at MLflow if something already imported it: a process that never did can hold no
    # active run, and importing it here would cost every job (logger=none too) a second or more.
    mlflow = sys.modules.get("mlflow")
    active = mlflow.active_run() if mlflow else None
    return {
        "pid": os.getpid(),
        "torch_threads": torch.get_num_threads(),
        "rng": _rng_digest(),
        "pl_global_seed": os.environ.get("PL_GLOBAL_SEED"),
        "mlflow_active_run": active.info.run_id if active else None,
        "mlflow_tracking_uri": mlflow.get_tracking_uri() if mlflow else None,
    }


def set_threads(threads: int | None) -> int:
    """Set torch's intra-op threads (None: unchanged); returns the number now in use."""
    if threads is not None:
        torch.set_num_threads(threads)
    return torch.get_num_threads()


@contextmanager
def isolated() -> Iterator[dict[str, Any]]:
    """Restore torch threads, global random states and seed variables when the job ends.

    Yields the state the job found (see :func:`process_state`), for the job's status record.
    """
    found = process_state()
    saved_threads = torch.get_num_threads()
    saved_py = random.getstate()
    saved_np = np.random.get_state()
    saved_torch = torch.get_rng_state()
    saved_cuda = torch.cuda.get_rng_state_all() if torch.cuda.is_available() and torch.cuda.is_initialized() else None
    saved_env = {k: os.environ.get(k) for k in _SEED_VARS}
    try:
        yield found
    finally:
        torch.set_num_threads(saved_threads)
        random.setstate(saved_py)
        np.random.set_state(saved_np)
        torch.set_rng_state(saved_torch)
        if saved_cuda is not None:
            torch.cuda.set_rng_state_all(saved_cuda)
        for key, value in saved_env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def cluster_plugins() -> list[Any]:
    """Trainer plugins for the cluster we run on: under SLURM, Lightning must not requeue.

    Requeueing has one owner, submitit (``hydra/launcher=slurm``): on preemption or timeout it
    requeues the same Hydra job, which resumes from its last checkpoint. Lightning's
    SLURMEnvironment would otherwise install its own SIGUSR1 handler and call ``scontrol requeue``
    a second time.
    """
    from lightning.pytorch.plugins.environments import SLURMEnvironment

    if SLURMEnvironment.detect():
        return [SLURMEnvironment(auto_requeue=False)]
    return []


@contextmanager
def gpu_slot(n_gpus: int, lock_dir: str | os.PathLike | None = None, poll_s: float = 1.0) -> Iterator[int]:
    """Hold one of this machine's ``n_gpus`` GPUs for the duration of a job (one job per GPU).

    Parallel jobs (joblib workers) each take the first GPU nobody holds, through an exclusive
    ``flock`` on ``<lock_dir>/gpu<i>.lock`` (a local folder: locks are per machine), and wait if
    all are held. The lock goes with the process, so a crashed job frees its GPU.
    """
    directory = Path(lock_dir or Path(tempfile.gettempdir()) / f"oneclass-gpu-locks-{os.getuid()}")
    directory.mkdir(parents=True, exist_ok=True)
    while True:
        for index in range(n_gpus):
            handle = open(directory / f"gpu{index}.lock", "w")
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                handle.close()
                continue
            try:
                yield index
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)
                handle.close()
            return
        time.sleep(poll_s)
