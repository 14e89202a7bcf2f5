"""Sweeps that account for every job: per-job status records, the end-of-sweep summary, the store
prepared once.

In a multirun each job runs through :func:`run_job`: an exception is caught *inside the job*
(the MLflow run is already marked FAILED with the message by the tracker), recorded in
``<job dir>/status.json`` and the job returns normally, so no launcher stops the sweep (Hydra's
basic launcher would skip later batches and ``on_multirun_end``; SLURM reports a failed submitit
job as COMPLETED anyway). Ctrl-C and preemption (KeyboardInterrupt / SystemExit) are recorded as
``killed`` and still propagate: submitit needs them to requeue.

:class:`SweepCallback` (registered in ``conf/config.yaml`` under ``hydra.callbacks``) creates the
tracking store and experiment in the launching process before any job starts, and at the end
reads the status records, prints ``N finished, K failed`` with the failed jobs' overrides and
exits with status 1 if any job failed or left no record.
"""

from __future__ import annotations

import json
import logging
import os
import re
import time
import traceback
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig

STATUS = "status.json"
log = logging.getLogger(__name__)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def write_status(directory: Path, record: dict[str, Any]) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    tmp = directory / (STATUS + ".tmp")
    tmp.write_text(json.dumps(record, indent=2, default=str))
    os.replace(tmp, directory / STATUS)


def run_job(cfg: DictConfig) -> dict[str, float] | None:
    """One multirun job: ``pipeline.run`` with its outcome written to ``status.json``; never raises
    an ``Exception`` (a failed job returns None)."""
    from oneclass.pipeline import JobInfo, run

    job = JobInfo.current()
    record: dict[str, Any] = {"job_num": job.job_num, "overrides": job.overrides, "output_dir": str(job.output_dir),
                              "sweep_id": job.sweep_id, "started": time.time()}
    over = " ".join(job.overrides) or "(no overrides)"
    try:
        metrics = run(cfg, job)
    except Exception as exc:
        record.update(status="failed", error=_first_line(exc), error_type=type(exc).__name__,
                      traceback=traceback.format_exc())
        print(f"[job {job.job_num}] {over}: FAILED: {_first_line(exc)}", flush=True)
        metrics = None
    except BaseException as exc:  # Ctrl-C, preemption: record, then let the launcher see it
        record.update(status="killed", error=_first_line(exc), error_type=type(exc).__name__)
        raise
    else:
        record.update(status=job.status or "finished", metrics=metrics)
    finally:
        record.update(run_id=job.run_id, process=job.process, ended=time.time())
        if job.members:  # a vectorised seed group: one run per member
            record["members"] = job.members
        try:
            write_status(job.output_dir, record)
        except OSError as exc:  # never hide the job's own outcome behind a status-file problem
            log.warning("could not write %s: %s", job.output_dir / STATUS, exc)
    return metrics


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


def summarize(sweep_dir: Path) -> tuple[str, int]:
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
    bad = [r for r in records if r["status"] not in ("finished", "skipped")]
    line = f"sweep: {len(records)} jobs: {finished} finished, {len(bad)} failed"
    members = [m for r in records for m in r.get("members") or []]
    if members:  # vectorised seed groups (hydra/sweeper=seed_batch): one run per seed
        status = [m.get("status") for m in members]
        skipped_members = f", {status.count('skipped')} skipped" if "skipped" in status else ""
        line += (f" ({len(members)} seeds in vectorised groups: {status.count('finished')} finished{skipped_members}, "
                 f"{len(status) - status.count('finished') - status.count('skipped')} failed)")
    if skipped:
        line += f", {skipped} skipped (already FINISHED, resume=true)"
    lines = [line]
    for r in bad:
        over = " ".join(r.get("overrides") or []) or "(no overrides)"
        lines.append(f"  FAILED job {r.get('job_num', '?')} [{over}]: {r.get('error', r['status'])}  ({r.get('output_dir')})")
    lines.append(f"  job folders (logs, status.json): {sweep_dir}")
    return "\n".join(lines), len(bad)


# --------------------------------------------------------------------------- seed groups
def check_max_batch(value: Any) -> int | None:
    """``hydra.sweeper.max_batch``: a positive integer or null (no limit)."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        from oneclass.errors import ConfigError

        raise ConfigError(f"hydra.sweeper.max_batch must be a positive integer or null, got {value!r}")
    return value


def _seed_position(point: list[str]) -> int | None:
    for i, override in enumerate(point):
        if override.split("=", 1)[0] == "seed":
            return i
    return None


def seed_groups(points: list[list[str]], max_batch: int | None,
                unsupported: Any = lambda point: None) -> tuple[list[list[str]], str]:
    """Jobs for ``hydra/sweeper=seed_batch``: sweep points that differ only in their ``seed=s``
    override become one job per ``max_batch`` seeds, with ``vectorised.seeds=[s1,s2,...]`` in the
    seed's place; a group of one seed stays a plain job, and so do the points of a model for which
    ``unsupported(point)`` gives a reason. Returns the jobs (in the order their first point came)
    and a one-line summary (with the reasons)."""
    groups: dict[tuple, list[tuple[int, list[str]]]] = {}
    for n, point in enumerate(points):
        i = _seed_position(point)
        value = point[i].split("=", 1)[1] if i is not None else None
        if i is None or not re.fullmatch(r"[+-]?\d+", value or ""):
            groups[("single", n)] = [(0, point)]
            continue
        key = (i, tuple(point[:i]), tuple(point[i + 1 :]))
        groups.setdefault(key, []).append((int(value), point))
    jobs: list[list[str]] = []
    notes: list[str] = []
    n_groups = 0
    for key, items in groups.items():
        seeds = [s for s, _ in items]
        why = unsupported(items[0][1]) if len(items) > 1 else None
        if len(items) == 1 or len(set(seeds)) != len(seeds) or why:
            if why:
                model = next((o for o in items[0][1] if o.split("=", 1)[0] == "model"), "the configured model")
                notes.append(f"[{model}] runs one job per seed: {why}")
            jobs.extend(point for _, point in items)
            continue
        i = key[0]
        size = max_batch or len(items)
        for start in range(0, len(items), size):
            chunk = items[start : start + size]
            point = list(chunk[0][1])
            if len(chunk) > 1:
                point[i] = "vectorised.seeds=[" + ",".join(str(s) for s, _ in chunk) + "]"
                n_groups += 1
            jobs.append(point)
    summary = f"seed_batch: {len(points)} sweep points -> {len(jobs)} jobs ({n_groups} vectorised seed groups)"
    return jobs, "\n".join([summary, *("  " + n for n in notes)])


class SweepCallback(Callback):
    """Hydra callback: prepares the store before a multirun; summary and exit status after it."""

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        from omegaconf import OmegaConf

        from oneclass.config import build

        try:
            logger_cfg = OmegaConf.create(OmegaConf.to_container(config.logger, resolve=True))
            tracker = build(logger_cfg, "logger", root_dir=Path.cwd())
            tracker.prepare()
        except Exception as exc:  # jobs report it in their own runs; the sweep must not stop here
            log.warning("could not prepare the tracking store before the sweep: %s", _first_line(exc))

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        sweep_dir = Path(str(config.hydra.sweep.dir))
        text, n_bad = summarize(sweep_dir)
        print(text, flush=True)
        if n_bad:
            raise SystemExit(1)
