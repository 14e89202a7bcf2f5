"""The experiment pipeline: one job = build data and detector from config, fit, score, evaluate,
write artifacts, track.

``run(cfg)`` is the whole job; ``run.py`` / the ``oneclass`` command only wrap it with Hydra, and
tests call it directly with a composed config. ``run`` picks the strategy: one detector
(:func:`run_detector`) or, with ``vectorised.seeds``, a vectorised seed group
(:mod:`oneclass.seed_group`). What both share (job info, set-up, checks, metrics, artifacts) is in
:mod:`oneclass.job`.
"""

from __future__ import annotations

import logging
import time
import warnings
from contextlib import ExitStack
from dataclasses import replace
from pathlib import Path
from typing import Any

import lightning.pytorch as L
import numpy as np
from omegaconf import DictConfig

from oneclass import jobenv, logs, resume
from oneclass.config import build
from oneclass.data.base import DataBundle
from oneclass.errors import ConfigError
from oneclass.job import (JobInfo, PreparedJob, check_data_values, check_values, checked_scores, detector_name, prepare,
                          quiet_libraries, report_degenerate, run_params, sculpting_efficiencies, test_metrics, write_artifacts)
from oneclass.metrics import Evaluation, evaluate
from oneclass.models.base import Detector, SupervisedDetector, degeneracy
from oneclass.seed_group import group_seeds, run_group
from oneclass.snapshots import snapshot_callbacks
from oneclass.tracking import Tracker
from oneclass.training import EpochProgress, EpochTracking

log = logging.getLogger(__name__)

__all__ = ["JobInfo", "run", "run_detector", "save_detector", "validation_view"]


def save_detector(detector: Any, trainer: L.Trainer | None, directory: Path) -> Path:
    """Checkpoint a fitted detector: Lightning checkpoint, or a joblib pickle for adapters."""
    if isinstance(detector, L.LightningModule) and trainer is not None:
        path = directory / "model.ckpt"
        trainer.save_checkpoint(path)
        return path
    import joblib

    path = directory / "model.joblib"
    joblib.dump(detector, path)
    return path


def _fit(prep: PreparedJob, detector: Any, data: DataBundle, held: ExitStack) -> L.Trainer | None:
    """Train ``detector`` on the job's training data; Lightning detectors get the pipeline's
    callbacks (epoch tracking, snapshots, progress, resume checkpoint). Returns the trainer used."""
    labels = {"y": data.y_train} if isinstance(detector, SupervisedDetector) else {}  # the supervised ceiling only
    if not isinstance(detector, L.LightningModule):
        detector.fit(data.x_train, **labels)
        return None
    cfg, job = prep.cfg, prep.job
    callbacks: list[L.Callback] = [EpochTracking(prep.tracker)]
    callbacks += snapshot_callbacks(cfg, data.x_test, data.y_test, job.output_dir)
    if not job.multirun:
        callbacks.append(EpochProgress(desc=prep.name))
    ckpt_path = None
    if prep.ckpt_dir is not None:
        callbacks.append(resume.LastCheckpoint(prep.ckpt_dir))
        ckpt_path, epochs_done = resume.usable_checkpoint(prep.ckpt_dir / resume.LAST, detector)
        if ckpt_path is not None:
            log.info("resuming %s from %s (%d epochs done)", prep.name, ckpt_path, epochs_done)
            prep.tracker.set_tags({"resumed_from": str(ckpt_path), "resumed_after_epochs": str(epochs_done)})
    trainer = prep.trainer(callbacks, held)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", ".*does not have many workers.*")
        warnings.filterwarnings("ignore", ".*smaller than the logging interval.*")
        warnings.filterwarnings("ignore", ".*module\\(s\\) in eval mode at the start of training.*")  # frozen encoders
        detector.fit(data.x_train, trainer=trainer, ckpt_path=str(ckpt_path) if ckpt_path else None, **labels)
    return trainer


def _score(detector: Any, data: DataBundle, label: str, trainer: L.Trainer | None) -> np.ndarray:
    """Test scores as float64 (n,), checked: the right shape and all finite."""
    return checked_scores(detector.score(data.x_test), len(data.x_test), type(detector).__name__, label,
                          trainer.current_epoch if trainer is not None else None)


def validation_view(data: DataBundle) -> DataBundle:
    """``data`` with the validation split (``dataset.n_val``) in the test arrays' place, for scoring:
    its events, labels and per-event arrays (``mjj``), the test ones dropped."""
    return replace(data, x_test=data.x_val, y_test=data.y_val, test_index=None, test_aux=dict(data.val_aux),
                   x_val=None, y_val=None, val_aux={})


def run_detector(prep: PreparedJob) -> tuple[dict[str, float], Evaluation]:
    """Run the job's detector on its data and record it as one MLflow run. The checks, the data
    (loaded once per job) and the detector's build come first, before the run exists: a bad value or
    file raises without leaving a run. Then fit, score, evaluate, artifacts, metrics; a failure there
    marks the run FAILED (KILLED for Ctrl-C) with the error, and is raised."""
    cfg, job, tracker = prep.cfg, prep.job, prep.tracker
    with jobenv.isolated() as found, ExitStack() as held:
        # isolated(): the process state (threads, RNGs, seed variables) is restored when the job ends
        job.process = found
        # the config checked, the data opened and the detector built before the MLflow run exists:
        # a typo or a bad file leaves no FAILED run (the error reaches the console / status.json)
        data, detector, min_background = checked_inputs(prep)
        job.process["threads_used"] = jobenv.set_threads(prep.threads(detector))
        with tracker.start_run(prep.name, tags=prep.tags):
            job.run_id = tracker.run_id
            tracker.log_params(run_params(cfg, job))
            metrics, ev = _train_and_record(prep, detector, data, min_background, held)
    return metrics, ev


def checked_inputs(prep: PreparedJob) -> tuple[DataBundle, Detector, int]:
    """Everything a job can refuse before training: its values, the data (read and checked) and the
    detector (built on the data's shape, seeded). Returns (data, detector, min_background)."""
    cfg = prep.cfg
    seed, min_background = check_values(cfg)
    L.seed_everything(seed, workers=False, verbose=False)
    data = prep.data()
    check_data_values(data, min_background)
    sculpting_efficiencies(cfg, data)
    detector = build(cfg.model, "model", input_shape=data.input_shape)
    if not isinstance(detector, Detector):
        raise ConfigError(f"model._target_ must build a detector with fit() and score(), got {type(detector).__name__}")
    return data, detector, min_background


def _train_and_record(prep: PreparedJob, detector: Detector, data: DataBundle, min_background: int,
                      held: ExitStack) -> tuple[dict[str, float], Evaluation]:
    """Fit, score, evaluate and record into the run that is open (a failure here marks it FAILED)."""
    cfg, job, tracker = prep.cfg, prep.job, prep.tracker
    t0 = time.perf_counter()
    trainer = _fit(prep, detector, data, held)
    fit_time = time.perf_counter() - t0
    report_degenerate(cfg, tracker, prep.name, degeneracy(detector, data.x_train))
    t0 = time.perf_counter()
    scores = _score(detector, data, detector_name(cfg, job), trainer)
    score_time = time.perf_counter() - t0
    ev, test = test_metrics(cfg, data, scores, min_background)
    val_metrics = {}
    if data.x_val is not None:  # model selection (hydra/sweeper=optuna) reads val_* metrics
        val_scores = _score(detector, validation_view(data), prep.name, trainer)
        val_metrics = evaluate(val_scores, data.y_val, min_background=1).metrics("val")

    write_artifacts(cfg, data, scores, ev, prep.name, job.output_dir)
    save_detector(detector, trainer, job.output_dir)
    metrics = {**test, **val_metrics, "fit_time_s": fit_time, "score_time_s": score_time}
    tracker.log_metrics(metrics)
    tracker.log_artifacts(job.output_dir)
    return metrics, ev


def run(cfg: DictConfig, job: JobInfo | None = None) -> dict[str, float]:
    """Run one experiment job and return its test metrics (``test_auc``, ``test_max_sic``, ...)."""
    job = job or JobInfo.current()
    if group_seeds(cfg) is not None:  # vectorised.seeds: several seeds as one batched job
        return run_group(cfg, job)
    quiet_libraries()
    prep = prepare(cfg, job)
    if prep.finished_run:
        return _skip(job, prep.tracker, prep.finished_run)
    started = time.perf_counter()
    metrics, ev = run_detector(prep)
    job.status = "finished"
    resume.discard(prep.ckpt_dir)

    elapsed = time.perf_counter() - started
    kind = logs.dataset_kind(cfg.dataset.get("_target_", ""))
    hpo = cfg.get("hpo") or {}
    if job.multirun or hpo.get("trial") is not None:
        varying, n_jobs = logs.sweep_plan(job.sweep_dir)
        print(logs.job_line(job.job_num, n_jobs, logs.varying_overrides(job.overrides, varying), metrics, kind,
                            elapsed, trial=hpo.get("trial"), objective=hpo.get("objective")), flush=True)
    else:
        extra = f" (>= {cfg.eval.min_background} background events)" if kind == "physics" else ""
        print(f"{prep.name}: test {logs.main_metrics(kind, metrics, sep=' = ')}{extra}, {elapsed:.1f} s",
              flush=True)
        print(f"results: {job.output_dir}", flush=True)
        print(prep.tracker.describe(), flush=True)
    return metrics


def _skip(job: JobInfo, tracker: Tracker, run_id: str) -> dict[str, float]:
    """``resume=true`` and this exact config already has a FINISHED run: do nothing, say so."""
    job.status, job.run_id = "skipped", run_id
    prefix = logs.job_prefix(job) if job.multirun else "this config"
    print(f"{prefix}: skipped, identical config already FINISHED in MLflow run {run_id} (resume=true)", flush=True)
    return {}
