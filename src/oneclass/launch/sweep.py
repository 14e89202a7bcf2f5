"""Sweeps that account for every job: per-job status records, the end-of-sweep summary, the store
prepared once.

In a multirun each job runs through :func:`run_job`: an exception is caught *inside the job*
(the MLflow run is already marked FAILED with the message by the tracker), recorded in
``<job dir>/status.json`` and the job returns normally, so no launcher stops the sweep (Hydra's
basic launcher would skip later batches and ``on_multirun_end``; SLURM reports a failed submitit
job as COMPLETED anyway). Ctrl-C and preemption (KeyboardInterrupt / SystemExit) are recorded as
``killed`` and still propagate: submitit needs them to requeue.

:class:`SweepCallback` (registered in ``conf/config.yaml`` under ``hydra.callbacks``) checks the
launcher settings and creates the tracking store and experiment in the launching process before
any job starts (a store that cannot be reached stops the sweep there, in one line), and at the end
reads the status records, prints ``N finished, K failed`` with the failed jobs' overrides and
exits with status 1 if any job failed or left no record.

Ctrl-C in the launching process (:func:`interruptible`, wrapped around every multirun by the
command line) ends the sweep the same way: jobs without a record are marked ``killed``, their
MLflow runs still RUNNING are closed as KILLED, the summary is printed and the exit status is 130,
without a traceback. ``resume=true`` then reruns exactly the jobs that did not finish.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import signal
import sys
import time
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig

from oneclass.errors import first_line, interrupted

STATUS = "status.json"
INTERRUPTED_EXIT = 130  # the shell's code for "ended by SIGINT"
log = logging.getLogger(__name__)
# the sweep this process launched (set by SweepCallback.on_multirun_start), for Ctrl-C
_active: dict[str, Any] | None = None


def _first_line(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror and exc.filename:  # never a 5000-character path in a message
        from oneclass.tracking import redact

        return f"{exc.strerror}: {redact(str(exc.filename))}"
    return first_line(exc)


def one_line_exit(fn):
    """For a sweeper's methods: Hydra prints a traceback (or its own 4-line message) for errors raised
    while it builds or runs a sweeper; ours end the command with one line and exit status 2."""
    import functools

    from oneclass.errors import OneClassError

    @functools.wraps(fn)
    def wrapped(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except OneClassError as exc:
            print(f"error: {exc}", file=sys.stderr, flush=True)
            raise SystemExit(2) from None

    return wrapped


def sweep_id(sweep_dir: str | os.PathLike) -> str:
    """The ``sweep_id`` tag of a sweep's runs: folder name + hash of its absolute path."""
    sweep_dir = str(Path(sweep_dir).resolve())
    return f"{Path(sweep_dir).name}-{hashlib.sha1(sweep_dir.encode()).hexdigest()[:8]}"


def kept_checkpoint(cfg: DictConfig, job: Any) -> Path | None:
    """The resume checkpoint folder a failed job left behind (kept so a rerun resumes), if any."""
    from oneclass.run import resume
    from oneclass.run.job import run_name

    try:
        fp = resume.fingerprint(cfg)
        directory = resume.checkpoint_dir(job.launch_dir, run_name(cfg, job), fp) if fp else None
    except Exception:
        return None
    return directory if directory is not None and directory.is_dir() else None


def write_status(directory: Path, record: dict[str, Any]) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    tmp = directory / (STATUS + ".tmp")
    tmp.write_text(json.dumps(record, indent=2, default=str))
    os.replace(tmp, directory / STATUS)


def run_job(cfg: DictConfig) -> dict[str, float] | None:
    """One multirun job: ``oneclass.run.engine.run`` with its outcome written to ``status.json``; never raises
    an ``Exception`` (a failed job returns None)."""
    from oneclass.run.engine import JobInfo, RunSpec, run, strategy_for
    from oneclass.tracking import call_stats, patient_store, reset_call_stats

    reset_call_stats()
    job = JobInfo.current()
    record: dict[str, Any] = {"job_num": job.job_num, "overrides": job.overrides, "output_dir": str(job.output_dir),
                              "sweep_id": job.sweep_id, "started": time.time()}
    hpo = cfg.get("hpo") or {}
    if hpo.get("trial") is not None and hpo.get("objective"):  # an Optuna trial: its summary shows the objective
        record["objective"] = str(hpo.get("objective"))
    if os.environ.get("SLURM_JOB_ID"):  # which attempt: SLURM counts its requeues in SLURM_RESTART_COUNT
        from oneclass.requeue import requeued_note, slurm_attempt

        record.update(slurm_job_id=_slurm_job_id(), attempt=slurm_attempt())
        if record["attempt"] > 1:  # until this attempt ends, its status.json says what is going on
            try:
                write_status(job.output_dir, {**record, "status": "running", "note": requeued_note(record["attempt"] - 1)})
            except OSError:
                pass
    try:
        with patient_store():  # the sweep reached the store: a job starting during an outage waits for it
            spec = RunSpec.from_config(cfg)  # the job's own values, checked once; then one detector or a seed group
            metrics = run(cfg, job, spec, strategy_for(spec))
    except Exception as exc:
        from oneclass.requeue import slurm_time_limit

        record.update(status="failed", error=slurm_time_limit(exc) or _first_line(exc), error_type=type(exc).__name__,
                      traceback=traceback.format_exc())
        if ckpt := kept_checkpoint(cfg, job):
            record["checkpoint_dir"] = str(ckpt)
        from oneclass.logs import job_prefix

        print(f"{job_prefix(job)}: FAILED: {_first_line(exc)}", flush=True)
        metrics = None
    except BaseException as exc:  # Ctrl-C, preemption: record, then let the launcher see it
        from oneclass.requeue import is_slurm_requeue, requeued_note, slurm_attempt

        if is_slurm_requeue(exc):  # submitit has asked SLURM to requeue this job: the next attempt resumes
            record.update(status="requeued", error=requeued_note(slurm_attempt()), error_type=type(exc).__name__)
        else:
            record.update(status="killed", error=interrupted(exc, "rerun the sweep with resume=true"), error_type=type(exc).__name__)
        raise
    else:
        record.update(status=job.status or "finished", metrics=metrics)
    finally:
        record.update(run_id=job.run_id, process=job.process, ended=time.time(), tracking_calls=call_stats())
        if job.members:  # a vectorised seed group: one run per member
            record["members"] = job.members
        try:
            write_status(job.output_dir, record)
        except OSError as exc:  # never hide the job's own outcome behind a status-file problem
            log.warning("could not write %s: %s", job.output_dir / STATUS, exc)
    return metrics


def _slurm_job_id() -> str:
    array = os.environ.get("SLURM_ARRAY_JOB_ID")
    return f"{array}_{os.environ.get('SLURM_ARRAY_TASK_ID')}" if array else os.environ.get("SLURM_JOB_ID", "")


def read_statuses(sweep_dir: Path) -> list[dict[str, Any]]:
    records = []
    for path in sorted(Path(sweep_dir).rglob(STATUS)):
        if ".submitit" in path.parts:
            continue
        try:
            records.append(json.loads(path.read_text()))
        except (OSError, ValueError) as exc:
            records.append({"status": "unknown", "error": f"unreadable {path}: {exc}", "output_dir": str(path.parent)})
    return sorted(records, key=lambda r: (r.get("job_num") is None, r.get("job_num") or 0))


def job_dirs(sweep_dir: Path) -> list[Path]:
    """Job folders Hydra created (each has .hydra/), whether or not the job wrote a status."""
    return sorted(p.parent.parent for p in Path(sweep_dir).rglob(".hydra/overrides.yaml") if ".submitit" not in p.parts)


def summarize(sweep_dir: Path, interrupted: bool = False) -> tuple[str, int]:
    """The end-of-sweep report and the number of jobs that did not finish."""
    records = read_statuses(sweep_dir)
    seen = {str(Path(r.get("output_dir", "")).resolve()) for r in records}
    for d in job_dirs(sweep_dir):  # a job that died without a word (killed by the OS, OOM)
        if str(d.resolve()) not in seen:
            records.append({"status": "no status", "output_dir": str(d), "error": "the job left no status.json (killed? out of memory?)"})
    counts: dict[str, int] = {}
    for r in records:
        counts[r["status"]] = counts.get(r["status"], 0) + 1
    finished = counts.get("finished", 0)
    skipped = counts.get("skipped", 0)
    killed = counts.get("killed", 0) + counts.get("requeued", 0)  # requeued: an attempt that never came back
    bad = [r for r in records if r["status"] not in ("finished", "skipped")]
    line = f"sweep: {len(records)} jobs: {finished} finished, {len(bad) - killed} failed"
    if killed:
        line += f", {killed} killed"
    members = [m for r in records for m in r.get("members") or []]
    if members:  # vectorised seed groups (hydra/sweeper=seed_batch): one run per seed
        status = [m.get("status") for m in members]
        skipped_members = f", {status.count('skipped')} skipped" if "skipped" in status else ""
        line += (f" ({len(members)} seeds in vectorised groups: {status.count('finished')} finished{skipped_members}, "
                 f"{len(status) - status.count('finished') - status.count('skipped')} failed)")
    if skipped:
        line += f", {skipped} skipped (already FINISHED, resume=true)"
    if interrupted:
        line += " (interrupted: jobs not started yet are not counted)"
    lines = [line]
    for r in bad:
        over = " ".join(r.get("overrides") or []) or "(no overrides)"
        word = "KILLED" if r["status"] in ("killed", "requeued") else "FAILED"
        lines.append(f"  {word} job {r.get('job_num', '?')} [{over}]: {r.get('error', r['status'])}  ({r.get('output_dir')})")
    kept = sorted({r["checkpoint_dir"] for r in bad if r.get("checkpoint_dir") and Path(r["checkpoint_dir"]).is_dir()})
    if kept:
        lines.append(f"  training checkpoints kept for a rerun (delete them if you change the config): {' '.join(kept)}")
    if bad:
        lines.append("  to run only the jobs that did not finish: the same command with resume=true")
    # an Optuna study's trials are compared on their validation objective, never on a test metric
    objective = next((r["objective"] for r in records if r.get("objective")), None)
    lines.extend(result_table(records, objective or "test_auc"))
    lines.append(f"  job folders (logs, status.json): {sweep_dir}")
    return "\n".join(lines), len(bad)


_SEED_KEYS = ("seed", "dataset.split_seed", "vectorised.seeds")


def result_table(records: list[dict[str, Any]], metric: str = "test_auc") -> list[str]:
    """The end of a sweep's results: ``metric`` mean ± std over seeds per setting (the overrides
    that vary between jobs, seeds excepted), as indented lines; [] when fewer than 2 jobs finished."""
    import numpy as np

    def key(override: str) -> str:
        return override.split("=", 1)[0].lstrip("+~")

    done = [r for r in records if r.get("status") == "finished" and isinstance(r.get("metrics"), dict)
            and isinstance(r["metrics"].get(metric), (int, float))]
    if len(done) < 2:
        return []
    settings = [[o for o in r.get("overrides") or [] if key(o) not in _SEED_KEYS and not key(o).startswith("hpo.")]
                for r in done]
    constant = set.intersection(*(set(s) for s in settings))
    groups: dict[str, list[float]] = {}
    for r, setting in zip(done, settings):
        label = " ".join(o for o in setting if o not in constant) or "(all jobs)"
        groups.setdefault(label, []).append(float(r["metrics"][metric]))
    width = max(len(label) for label in groups)
    lines = [f"  {metric} per setting (mean ± std over seeds, runs):"]
    for label, values in sorted(groups.items(), key=lambda kv: -float(np.mean(kv[1]))):
        spread = f" ± {np.std(values, ddof=1):.4f}" if len(values) > 1 else " " * 9
        lines.append(f"    {label.ljust(width)}  {np.mean(values):.4f}{spread}  ({len(values)})")
    return lines


def _job_record(directory: Path) -> dict[str, Any]:
    """What a job folder says about itself without a status.json (its overrides and number)."""
    record: dict[str, Any] = {"output_dir": str(directory)}
    try:
        from omegaconf import OmegaConf

        record["overrides"] = list(OmegaConf.load(directory / ".hydra" / "overrides.yaml"))
        record["job_num"] = int(OmegaConf.load(directory / ".hydra" / "hydra.yaml").hydra.job.num)
    except Exception:
        pass
    return record


def close_interrupted(sweep_dir: Path, logger_cfg: Any, timeout_s: float = 10.0,
                      why: str = "interrupted (Ctrl-C) while the job ran; rerun with resume=true",
                      error_type: str = "KeyboardInterrupt") -> int:
    """After Ctrl-C (or once SLURM has ended the sweep's last jobs): jobs without a record become
    ``killed``; runs of this sweep still RUNNING in the store become KILLED with ``why``. Returns the
    number of runs closed."""
    for d in job_dirs(sweep_dir):
        if not (d / STATUS).is_file():
            write_status(d, {**_job_record(d), "status": "killed", "error": "interrupted (Ctrl-C) before the job recorded its outcome",
                             "error_type": "KeyboardInterrupt", "ended": time.time()})
    if logger_cfg is None or "MlflowTracker" not in str(logger_cfg.get("_target_", "")):
        return 0
    from mlflow.entities import RunTag

    from oneclass.config import build
    from oneclass.tracking import open_client, retry

    tracker = build(logger_cfg, "logger", root_dir=Path.cwd())
    client = open_client(tracker.tracking_uri)
    with tracker._http_bounds(timeout_s):
        ids = [e.experiment_id for e in retry(client.search_experiments, timeout_s=timeout_s)]
        runs = retry(client.search_runs, ids, filter_string=f"tags.sweep_id = '{sweep_id(sweep_dir)}' and attributes.status = 'RUNNING'",
                     max_results=5000, timeout_s=timeout_s) if ids else []
        for run in runs:
            tags = [RunTag("error", why), RunTag("error_type", error_type)]
            retry(client.log_batch, run.info.run_id, tags=tags, timeout_s=timeout_s)
            retry(client.set_terminated, run.info.run_id, status="KILLED", timeout_s=timeout_s)
    return len(runs)


@contextmanager
def interruptible() -> Iterator[None]:
    """Around a multirun in the launching process: Ctrl-C ends it with the summary (jobs killed,
    their runs KILLED) and exit status 130 instead of a traceback."""
    interrupted = []

    def on_sigint(signum, frame):
        interrupted.append(signum)
        raise KeyboardInterrupt

    try:
        previous = signal.signal(signal.SIGINT, on_sigint)
    except ValueError:  # not the main thread: leave signals alone
        yield
        return
    try:
        yield
    except (KeyboardInterrupt, SystemExit) as exc:
        # Lightning turns Ctrl-C inside a job of the basic launcher into SystemExit(1)
        if isinstance(exc, SystemExit) and not interrupted:
            raise
        _finish_interrupted()
    finally:
        signal.signal(signal.SIGINT, previous)


def _finish_interrupted() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not cut the clean-up short
    active = _active
    print("\ninterrupted (Ctrl-C): closing the sweep", file=sys.stderr, flush=True)
    if active is None:
        raise SystemExit(INTERRUPTED_EXIT)
    try:
        close_interrupted(active["sweep_dir"], active["logger"], active["timeout_s"])
    except Exception as exc:
        print(f"could not close the sweep's MLflow runs: {_first_line(exc)}", file=sys.stderr, flush=True)
    text, _ = summarize(active["sweep_dir"], interrupted=True)
    print(text, flush=True)
    raise SystemExit(INTERRUPTED_EXIT)


def check_launcher(config: DictConfig) -> None:
    """Launcher settings that would otherwise fail inside the launcher with a traceback."""
    from oneclass.errors import ConfigError

    launcher = config.hydra.get("launcher") or {}
    if "JoblibLauncher" in str(launcher.get("_target_", "")):
        n = launcher.get("n_jobs")
        if isinstance(n, bool) or not isinstance(n, int) or n == 0:
            raise ConfigError(f"hydra.launcher.n_jobs must be a non-zero integer: the number of parallel jobs "
                              f"(-1 = one per core), got {n!r}")


class SweepCallback(Callback):
    """Hydra callback: prepares the store before a multirun; summary, the MLflow UI link to the
    sweep's runs and the exit status after it."""

    tracker = None

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        from omegaconf import OmegaConf

        from oneclass.config import build
        from oneclass.errors import ConfigError, OneClassError

        global _active
        try:
            check_launcher(config)
        except ConfigError as exc:
            print(f"error: {exc}", file=sys.stderr, flush=True)
            raise SystemExit(2) from None
        logger_cfg = None
        try:
            logger_cfg = OmegaConf.create(OmegaConf.to_container(config.logger, resolve=True))
            tracker = build(logger_cfg, "logger", root_dir=Path.cwd())
            tracker.prepare()  # under the store lock, bounded by logger.connect_timeout_s
            self.tracker = tracker
        except OneClassError as exc:  # every job would fail the same way: stop here, in one line
            print(f"error: {exc}", file=sys.stderr, flush=True)
            raise SystemExit(1) from None
        except Exception as exc:  # jobs report it in their own runs; the sweep must not stop here
            log.warning("could not prepare the tracking store before the sweep: %s", _first_line(exc))
        timeout_s = float(logger_cfg.get("connect_timeout_s", 10) if logger_cfg is not None else 10)
        _active = {"sweep_dir": Path(str(config.hydra.sweep.dir)).resolve(), "logger": logger_cfg, "timeout_s": timeout_s}

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        sweep_dir = Path(str(config.hydra.sweep.dir))
        text, n_bad = summarize(sweep_dir)
        print(text, flush=True)
        records = read_statuses(sweep_dir)
        sweep_id = next((r["sweep_id"] for r in records if r.get("sweep_id")), None)
        # jobs refused before their run was created (a typo in every point) leave nothing to link to
        has_runs = any(r.get("run_id") or r.get("members") for r in records)
        if sweep_id and has_runs and getattr(self.tracker, "experiment_id", None) is not None:
            print(self.tracker.describe(sweep_id), flush=True)
        if n_bad:
            raise SystemExit(1)
