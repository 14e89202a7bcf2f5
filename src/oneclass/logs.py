"""What a job's console shows (used by ``conf/hydra/job_logging/oneclass.yaml``)."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

OURS = ("oneclass", "__main__")
# loggers whose records never reach the console, warnings included (they stay in the job log file):
# matplotlib's "building the font cache" on a first run is a warning about nothing the user can act on
FILE_ONLY = ("matplotlib.font_manager",)


def _under(name: str, prefixes: tuple[str, ...]) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


class ConsoleFilter(logging.Filter):
    """Our records at any level; other libraries' records from WARNING up, except ``FILE_ONLY``."""

    def filter(self, record: logging.LogRecord) -> bool:
        if _under(record.name, OURS):
            return True
        return record.levelno >= logging.WARNING and not _under(record.name, FILE_ONLY)


# --------------------------------------------------------------------------- job lines
def dataset_kind(dataset_target: str) -> str:
    """``physics`` (the dataset class declares ``kind = "physics"``: LHCO, the Gaussian toy; AUC and
    max SIC) or ``benchmark`` (tabular sets and images: AUC, AUPR, F1), from the dataset's ``_target_``."""
    from oneclass.data.base import kind_of

    return "physics" if kind_of(dataset_target) == "physics" else "benchmark"


MAIN_METRICS = {"physics": (("auc", "AUC", 4), ("max_sic", "max SIC", 3)),
                "benchmark": (("auc", "AUC", 4), ("aupr", "AUPR", 4), ("f1", "F1", 4))}


def main_metrics(kind: str, metrics: dict[str, float], prefix: str = "test", sep: str = " ") -> str:
    """``AUC 0.8827, max SIC 2.345`` (physics) or ``AUC 0.91, AUPR 0.55, F1 0.52`` from a run's metrics."""
    word = "" if prefix == "test" else f"{prefix} "
    return ", ".join(f"{word}{label}{sep}{metrics[f'{prefix}_{name}']:.{digits}f}"
                     for name, label, digits in MAIN_METRICS[kind] if f"{prefix}_{name}" in metrics)


def _key(override: str) -> str:
    return override.split("=", 1)[0].lstrip("+~")


def sweep_plan(sweep_dir: str | os.PathLike | None) -> tuple[set[str], int | None]:
    """What a sweep varies and how many jobs it has, from its ``multirun.yaml``: the keys of its
    sweep overrides (``seed=0,1,2``, ``model=ae,ocsvm``, an Optuna search space) and the number of
    jobs (None where it cannot be known in advance, e.g. ``glob(...)``). ``(set(), None)`` when unread."""
    try:
        from hydra.core.override_parser.overrides_parser import OverridesParser
        from omegaconf import OmegaConf

        config = OmegaConf.load(Path(str(sweep_dir)) / "multirun.yaml")
        lines = list(config.hydra.overrides.task)
        sweeper = config.hydra.get("sweeper") or {}
        lines += [f"{k}={v}" for k, v in (sweeper.get("params") or {}).items()]
        varying: set[str] = set()
        n: int | None = 1
        for override in OverridesParser.create().parse_overrides(lines):
            if not override.is_sweep_override():
                continue
            varying.add(override.get_key_element().lstrip("+~"))
            try:
                size = len(list(override.sweep_string_iterator()))
            except Exception:  # interval(...) of a search, glob(...): not countable here
                size = None
            n = None if n is None or size is None else n * size
        target = str(sweeper.get("_target_", ""))
        if "OptunaSweeper" in target:
            n = int(sweeper.get("n_trials") or 0) or None
        elif "SeedBatch" in target:
            n = None  # seeds are grouped into jobs by the sweeper
        return varying, n
    except Exception:
        return set(), None


def varying_overrides(overrides: list[str], varying: set[str]) -> str:
    """The job's overrides that the sweep varies (all of them when nothing is known to vary)."""
    keep = [o for o in overrides if _key(o) in varying or _key(o) == "vectorised.seeds"] if varying else \
        [o for o in overrides if not _key(o).startswith("hpo.")]
    return " ".join(keep) or "(no overrides)"


def job_position(job_num: int | None, n_jobs: int | None) -> str:
    """``3/12`` (the third of twelve jobs; Hydra numbers jobs from 0), or ``job 2`` when N is unknown."""
    return f"{(job_num or 0) + 1}/{n_jobs}" if n_jobs else f"job {job_num}"


def job_prefix(job: Any) -> str:
    """``[3/12] <varying overrides>`` for a job of a sweep (a :class:`oneclass.run.engine.JobInfo`)."""
    varying, n_jobs = sweep_plan(job.sweep_dir)
    return f"[{job_position(job.job_num, n_jobs)}] {varying_overrides(job.overrides, varying)}"


def job_line(job_num: int | None, n_jobs: int | None, shown: str, metrics: dict[str, float], kind: str,
             elapsed: float, trial: Any = None, objective: str | None = None) -> str:
    """One job's console line: ``[k/N] <varying overrides>: <main metrics> (time)``; an Optuna
    trial shows its validation metrics only (the objective first), never a test metric."""
    where = job_position(job_num, n_jobs)
    if trial is not None:
        where = f"trial {trial}" + (f", {where}" if n_jobs else "")
        text = main_metrics(kind, metrics, "val")
        if objective and objective in metrics and objective.removeprefix("val_") not in {m for m, _, _ in MAIN_METRICS[kind]}:
            text = f"{objective} {metrics[objective]:.4f}, {text}"
    else:
        text = main_metrics(kind, metrics)
    return f"[{where}] {shown}: {text} ({elapsed:.1f} s)"
