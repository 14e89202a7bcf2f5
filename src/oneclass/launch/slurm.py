"""SLURM sweeps (``hydra/launcher=slurm``): Hydra's submitit launcher with a quiet login node and an
account of jobs SLURM ended.

``hydra_plugins.oneclass_slurm.slurm_launcher.SlurmLauncher`` (the preset's ``_target_``: Hydra finds
launchers only under ``hydra_plugins``) uses what is here. Around the submitit launcher it

- sends submitit's own log lines (its "Bypassing sacct error ..." warnings on a cluster without
  accounting storage, three per poll) to ``<sweep dir>/slurm.log`` instead of the terminal;
- reads job states with ``squeue`` when ``sacct`` does not answer (no accounting storage), so a job
  that SLURM cancelled, killed for memory or stopped at its time limit is seen as over instead of
  being waited for forever;
- prints one status line per poll, only when it changed (``slurm: 3 running, 4 pending, 1 done``);
- records a job that ended without its own ``status.json`` (``scancel``, out of memory, the time
  limit) with SLURM's state and reason, so the sweep summary names the cause, and returns normally
  so Hydra runs ``on_multirun_end`` (the summary) instead of stopping with a traceback.

Inside a job, :func:`oneclass.requeue.slurm_attempt` tells which attempt this is: SLURM sets
``SLURM_RESTART_COUNT`` in a job it requeued (preemption, time limit, ``scontrol requeue``).
"""

from __future__ import annotations

import json
import logging
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

LOG_FILE = "slurm.log"
# SLURM job states after which no attempt of the job will run again
OVER = {"COMPLETED", "CANCELLED", "FAILED", "TIMEOUT", "OUT_OF_MEMORY", "NODE_FAIL", "BOOT_FAIL", "DEADLINE",
        "SPECIAL_EXIT", "REVOKED"}
CAUSES = {
    "CANCELLED": "cancelled (scancel)",
    "OUT_OF_MEMORY": "out of memory: SLURM killed it for using more than its mem_gb (OUT_OF_MEMORY)",
    "TIMEOUT": "hit the SLURM time limit (timeout_min) and was not requeued",
    "NODE_FAIL": "its node failed (NODE_FAIL)",
    "FAILED": "its process failed",
}
log = logging.getLogger(__name__)


def _squeue_states(job_ids: set[str]) -> dict[str, dict[str, str]]:
    """``{"<id>_<task>" or "<id>": {"State": ..., "Reason": ...}}`` from squeue (jobs SLURM still knows:
    running, pending and those ended within MinJobAge)."""
    cmd = ["squeue", "-h", "-r", "-t", "all", "-o", "%i|%T|%r", "-j", ",".join(sorted(job_ids))]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    states = {}
    for line in proc.stdout.splitlines():
        parts = line.strip().split("|")
        if len(parts) == 3:
            states[parts[0]] = {"State": parts[1], "Reason": parts[2]}
    return states


def _watcher_class() -> type:
    from submitit.slurm.slurm import SlurmInfoWatcher

    class QuietWatcher(SlurmInfoWatcher):
        """submitit's watcher: sacct when it answers, else squeue; a state line per poll when it changes."""

        def __init__(self, delay_s: int = 15) -> None:
            super().__init__(delay_s=delay_s)
            self.use_sacct = True
            self.last_line = ""
            self.seen: set[str] = set()

        def update(self) -> None:
            to_check = {x.split("_")[0] for x in self._registered - self._finished}
            if not to_check:
                return
            self._num_calls += 1
            info: dict[str, dict[str, str]] = {}
            if self.use_sacct:
                command = self._make_command()
                proc = subprocess.run(command, capture_output=True, timeout=60)
                if proc.returncode == 0:
                    info = self.read_info(proc.stdout)
                else:  # e.g. "Slurm accounting storage is disabled": squeue from now on
                    self.use_sacct = False
                    logging.getLogger("submitit").warning(
                        "sacct does not answer (%s); job states from squeue from now on",
                        proc.stderr.decode(errors="replace").strip()[:200])
            if not self.use_sacct:
                try:
                    info = _squeue_states(to_check)
                except (OSError, subprocess.SubprocessError) as exc:
                    logging.getLogger("submitit").warning("squeue failed: %s", exc)
                    info = {}
                self.seen |= set(info)
                for job_id in self._registered - self._finished - set(info):
                    if job_id in self.seen:  # SLURM forgot it (older than MinJobAge): it is over
                        info[job_id] = {"State": "COMPLETED", "Reason": "gone"}
            self._info_dict.update(info)
            self._last_status_check = time.time()
            for job_id in self._registered - self._finished:
                if self.is_done(job_id, mode="cache"):
                    self._finished.add(job_id)
            self.status_line()

        def update_if_long_enough(self, mode: str) -> None:
            if mode == "cache":
                return
            delay = 0.001 if mode == "force" else min(self._delay_s, max(2.0, (time.time() - self._start_time) / 2))
            if time.time() - self._last_status_check > delay:
                self.update()

        def status_line(self) -> None:
            counts: dict[str, int] = {}
            tasks = [j for j in self._registered if "_" in j] or list(self._registered)  # an array's tasks, not the array
            for job_id in tasks:
                state = (self._info_dict.get(job_id) or {}).get("State", "UNKNOWN").split(" ")[0].upper()
                word = ("running" if state in ("RUNNING", "COMPLETING") else "pending" if state in ("PENDING", "REQUEUED",
                        "REQUEUE_HOLD", "REQUEUE_FED", "CONFIGURING", "PREEMPTED", "SUSPENDED", "RESIZING")
                        else "done" if state in OVER else "unknown")
                counts[word] = counts.get(word, 0) + 1
            line = "slurm: " + ", ".join(f"{counts[w]} {w}" for w in ("running", "pending", "done", "unknown") if counts.get(w))
            if line != self.last_line:
                self.last_line = line
                print(line, flush=True)

    return QuietWatcher


@contextmanager
def quiet_submitit(log_path: Path) -> Iterator[Any]:
    """submitit's log lines to ``log_path`` only, and our watcher for SLURM jobs, while the sweep runs."""
    from submitit.slurm.slurm import SlurmJob

    logger = logging.getLogger("submitit")
    saved = (list(logger.handlers), logger.propagate, SlurmJob.watcher)
    log_path.parent.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(log_path)
    handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s - %(message)s"))
    logger.handlers = [handler]
    logger.propagate = False
    watcher = _watcher_class()()
    SlurmJob.watcher = watcher
    try:
        yield watcher
    finally:
        logger.handlers, logger.propagate, SlurmJob.watcher = saved
        handler.close()


SLURM_WORDS = re.compile(r"exceeded (job )?memory limit|oom[-_ ]kill|out of memory|DUE TO TIME LIMIT|DUE TO PREEMPTION|CANCELLED AT", re.I)


def slurm_said(sweep_dir: Path, job_id: str) -> str | None:
    """The last line slurmstepd wrote into the job's submitit logs about why it ended, if any."""
    if not job_id:
        return None
    found: tuple[int, str] | None = None
    for path in sorted(Path(sweep_dir).glob(f".submitit/{job_id}/*_log.*")):
        try:
            lines = path.read_text(errors="replace").splitlines()[-200:]
        except OSError:
            continue
        for line in lines:
            if SLURM_WORDS.search(line):
                text = re.sub(r"^slurmstepd[^:]*:\s*(error:\s*)?", "", line.strip())
                # the line with the numbers ("exceeded memory limit (168353792 > 104857600)") says the most
                rank = ("memory" in text.lower()) + (">" in text)
                if found is None or rank >= found[0]:
                    found = (rank, text)
    if found is None:
        return None
    return found[1][:200]


def record_ended_by_slurm(sweep_dir: Path, watcher: Any, job_overrides: list[list[str]], initial_job_idx: int) -> None:
    """Jobs SLURM ended without their own last word in status.json: a record with SLURM's state and
    the cause (a job killed before Hydra made its folder gets ``<sweep dir>/<job num>/status.json``)."""
    from oneclass.launch.sweep import STATUS, _job_record, job_dirs, write_status

    by_num: dict[int, dict[str, str]] = {}
    for job_id, info in watcher._info_dict.items():
        if "_" not in job_id and len(job_overrides) == 1:  # one job: submitit submits it without an array
            by_num[initial_job_idx] = {"job_id": job_id, **info}
        elif "_" in job_id:
            try:
                by_num[initial_job_idx + int(job_id.split("_")[1])] = {"job_id": job_id, **info}
            except ValueError:
                continue
    folders = {}
    for d in job_dirs(sweep_dir):
        record = _job_record(d)
        if "job_num" in record:
            folders[record["job_num"]] = (d, record)
    for i, overrides in enumerate(job_overrides):
        num = initial_job_idx + i
        d, record = folders.get(num) or (Path(sweep_dir) / str(num), {"output_dir": str(Path(sweep_dir) / str(num)),
                                                                        "overrides": list(overrides), "job_num": num})
        if (d / STATUS).is_file():
            try:
                found = json.loads((d / STATUS).read_text())
            except (OSError, ValueError):
                found = {}
            # the job's own last word, unless it only knew it was stopped (SIGTERM): SLURM knows why
            if found.get("status") not in ("running", "requeued", "killed"):
                continue
            record = {**found, **record}
        info = by_num.get(num) or {}
        state = info.get("State", "UNKNOWN").split(" ")[0].upper()
        said = slurm_said(sweep_dir, info.get("job_id", ""))
        if said and ("memory" in said.lower() or "oom" in said.lower()):
            state = "OUT_OF_MEMORY"  # without cgroups SLURM calls it FAILED; slurmstepd's own line says why
        cause = CAUSES.get(state, f"ended by SLURM in state {state}")
        if said:
            cause += f"; slurmstepd: {said}"
        reason = info.get("Reason", "")
        if reason and reason not in ("None", "gone") and not said:
            cause += f" (reason: {reason})"
        status = "killed" if state == "CANCELLED" else "failed"
        write_status(d, {**record, "status": status, "error": f"SLURM job {info.get('job_id', '?')} {cause}",
                         "error_type": f"SLURM:{state}", "slurm_state": state, "ended": time.time()})


def close_runs_left_running(config: Any, sweep_dir: Path) -> None:
    """Once SLURM has ended every job of the sweep: MLflow runs of jobs it killed (scancel, memory, the
    time limit; SIGKILL leaves no chance to close them) still RUNNING become KILLED."""
    from omegaconf import OmegaConf

    from oneclass.errors import first_line
    from oneclass.launch.sweep import close_interrupted

    try:
        logger_cfg = OmegaConf.create(OmegaConf.to_container(config.logger, resolve=True))
        close_interrupted(sweep_dir, logger_cfg, float(logger_cfg.get("connect_timeout_s", 10)),
                          why="ended by SLURM (scancel, out of memory or the time limit) while the job ran; rerun with resume=true",
                          error_type="SLURM")
    except Exception as exc:
        print(f"could not close the sweep's MLflow runs: {first_line(exc)}", file=sys.stderr, flush=True)
