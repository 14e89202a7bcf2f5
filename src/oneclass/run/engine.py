"""The job engine: one job = build data and detector(s) from config, fit, score, evaluate, write
artifacts, track.

``run(cfg)`` is the whole job; ``run.py`` / the ``oneclass`` command only wrap it with Hydra, and
tests call it directly with a composed config. There is one path from a composed config to finished
MLflow runs, whether the job trains one seed or ten:

1. the job's settings are read and checked once (:class:`oneclass.run.spec.RunSpec`);
2. the set-up: one :class:`~oneclass.run.job.PreparedJob` per member (a single-seed job has one;
   a vectorised group's come from :func:`oneclass.run.seed_group.plan_group`); ``resume=true``
   skips members whose config already FINISHED;
3. per member: seed, data, data checks, build; the strategy (:mod:`oneclass.run.members`: one
   detector, or the vectorised stack) turns the detectors into its members; only then do the
   members' MLflow runs open, so a bad value or file leaves no FAILED run;
4. fit all members, score them, then record each member's run (metrics, artifacts, checkpoint);
5. a group's ensemble run, the console lines.

What differs for a single seed (run name and output folder without a member subfolder, no group
tags, no ensemble run, the console lines, ``model.ckpt`` written by the trainer, the resume
checkpoint's name) are parameters of this path (``strategy.grouped``), not a second driver.
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

from oneclass import logs
from oneclass.config import build
from oneclass.data.base import DataBundle
from oneclass.errors import ConfigError, TrainingError, first_line
from oneclass.metrics import Evaluation, evaluate
from oneclass.models.base import Detector
from oneclass.models.degeneracy import degeneracy
from oneclass.run import jobenv, resume, seed_group
from oneclass.run.artifacts import save_detector, write_artifacts
from oneclass.run.job import (JobInfo, PreparedJob, check_data_values, checked_scores, detector_name, prepare,
                              quiet_libraries, report_degenerate, run_params, test_metrics)
from oneclass.run.members import OneSeed, OpenRun, Vectorised, strategy_for
from oneclass.run.progress import EpochProgress
from oneclass.run.snapshots import snapshot_callbacks
from oneclass.run.spec import RunSpec
from oneclass.tracking import Tracker

log = logging.getLogger(__name__)

__all__ = ["JobInfo", "RunSpec", "evaluate", "prepare", "run", "save_detector", "strategy_for", "validation_view"]


def validation_view(data: DataBundle) -> DataBundle:
    """``data`` with the validation split (``dataset.n_val``) in the test arrays' place, for scoring:
    its events, labels and per-event arrays (``mjj``), the test ones dropped."""
    return replace(data, x_test=data.x_val, y_test=data.y_val, test_index=None, test_aux=dict(data.val_aux),
                   x_val=None, y_val=None, val_aux={})


def run(cfg: DictConfig, job: JobInfo | None = None, spec: RunSpec | None = None,
        strategy: OneSeed | Vectorised | None = None) -> dict[str, Any]:
    """Run one experiment job. A single-seed job returns its test metrics (``test_auc``,
    ``test_max_sic``, ...); a vectorised group ``{run name: metrics}`` of its members and ensemble
    (and raises, after recording everything, when a member failed). ``spec`` (the checked settings)
    and ``strategy`` (:func:`oneclass.run.members.strategy_for`) are read from ``cfg`` when not
    given; the launch layer passes them."""
    job = job or JobInfo.current()
    spec = spec if spec is not None else RunSpec.from_config(cfg)
    strategy = strategy if strategy is not None else strategy_for(spec)
    strategy.check(cfg, spec)
    quiet_libraries()
    grouped = strategy.grouped
    if grouped:
        lead, preps, group_tags = seed_group.plan_group(cfg, job, spec)
    else:
        lead = prepare(cfg, job, spec)
        preps, group_tags = [lead], {}
    started = time.perf_counter()
    seeds = list(spec.seeds)
    prefix = f"[job {job.job_num}] " if job.multirun else ""
    todo = [k for k, p in enumerate(preps) if not p.finished_run]
    if not grouped and not todo:
        return _skip(job, lead.finished_run)
    for k, p in enumerate(preps):
        if p.finished_run:
            job.members.append({"name": p.name, "seed": seeds[k], "status": "skipped", "run_id": p.finished_run})
            print(f"{prefix}{' '.join(p.job.overrides)}: skipped, identical config already FINISHED in MLflow run "
                  f"{p.finished_run} (resume=true)", flush=True)
    if not todo:
        job.status, job.run_id = "skipped", lead.finished_run
        return {}

    trained = [seeds[k] for k in todo]
    detector = detector_name(cfg, job)
    ckpt_dir = seed_group.checkpoint_dir(job, detector, lead.fingerprint, trained) if grouped else lead.ckpt_dir
    make_ensemble = (grouped and spec.ensemble != "none" and len(seeds) >= 2 and len(todo) == len(seeds)
                     and not lead.finished_run)
    results: dict[str, dict[str, float]] = {}
    with jobenv.isolated() as found, ExitStack() as held:
        # isolated(): the process state (threads, RNGs, seed variables) is restored when the job ends
        job.process = found
        runs: dict[int, OpenRun] = {}
        try:
            # the data read and checked and the detectors built before any MLflow run exists
            datas, members = _inputs(strategy, [preps[k] for k in todo], trained, f"model ({detector})")
            # one CPU thread for a small network (for a group: the stack, its layers' sizes)
            job.process["threads_used"] = jobenv.set_threads(lead.threads(members.model))
            for k in todo:
                runs[k] = OpenRun(preps[k])
                runs[k].tracker.log_params(run_params(preps[k].cfg, preps[k].job))
            if not grouped:
                job.run_id = runs[todo[0]].run_id
            trainer, ckpt_path = _trainer(lead, members, [preps[k] for k in todo], [runs[k] for k in todo], datas, ckpt_dir,
                               f"{detector} seeds {','.join(map(str, trained))}" if grouped else lead.name, held)
            t0 = time.perf_counter()
            shared = all(d is datas[0] for d in datas)
            _fit(members, datas[0].x_train if shared else np.stack([d.x_train for d in datas]), datas[0].y_train,
                 trainer, ckpt_path)
            fit_time = time.perf_counter() - t0
            t0 = time.perf_counter()
            test_scores = members.score(datas[0].x_test if shared else np.stack([d.x_test for d in datas]))
            score_time = time.perf_counter() - t0
            # the validation split (dataset.n_val, read by model selection: val_* metrics)
            val_scores = (members.score(datas[0].x_val if shared else np.stack([d.x_val for d in datas]))
                          if datas[0].x_val is not None else None)
            epochs = trainer.current_epoch if trainer is not None else None
            n = len(todo)
            evals: dict[int, Evaluation] = {}
            for i, k in enumerate(todo):
                run, prep, data = runs[k], preps[k], datas[i]
                try:
                    if not members.alive(i):
                        raise TrainingError(members.failure(i))
                    report_degenerate(spec.eval.on_degenerate, run.tracker, prep.name,
                                      degeneracy(members.member(i), data.x_train))
                    label = prep.name if grouped else detector  # names the run in a bad-scores message
                    scores = checked_scores(test_scores[i], len(data.x_test), members.model_name, label, epochs)
                    ev, test = test_metrics(prep.spec.eval, data, scores)
                    val = {}
                    if val_scores is not None:
                        checked = checked_scores(val_scores[i], len(data.x_val), members.model_name, prep.name, epochs)
                        val = evaluate(checked, data.y_val, min_background=1).metrics("val")
                    write_artifacts(prep.cfg, data, scores, ev, prep.name, prep.job.output_dir)
                    members.save(i, prep.job.output_dir, trainer)
                    metrics = {**test, **val, "fit_time_s": fit_time / n, "score_time_s": score_time / n}
                    if grouped:
                        metrics.update(group_fit_time_s=fit_time, group_score_time_s=score_time)
                    run.tracker.log_metrics(metrics)
                    run.tracker.log_artifacts(prep.job.output_dir)
                except Exception as exc:
                    if not grouped:  # a single seed's failure is the job's
                        raise
                    if members.alive(i):
                        members.fail_member(i, first_line(exc))
                    run.fail(exc)
                    print(f"{prefix}{' '.join(prep.job.overrides)}: FAILED: {run.error}", flush=True)
                else:
                    run.finish()
                    evals[i] = ev
                    results[prep.name] = metrics
                    if grouped:
                        line = (f"test AUC {ev.auc:.4f}, max SIC {ev.max_sic:.3f} (vectorised, seed {seeds[k]} of "
                                f"{trained})")
                        print(f"{prefix}{' '.join(prep.job.overrides)}: {line}" if job.multirun
                              else f"{prep.name}: {line}", flush=True)
                if grouped:
                    job.members.append({"name": prep.name, "seed": seeds[k], "run_id": run.run_id,
                                        "status": "failed" if run.error else "finished",
                                        **({"error": run.error} if run.error else {})})

            healthy = sorted(evals)
            if make_ensemble and len(healthy) >= 2:
                t0 = time.perf_counter()
                rows = seed_group.calibration_rows(len(datas[0].x_train), spec.calibration_events)
                train_scores = members.score(datas[0].x_train if rows is None else datas[0].x_train[rows])
                member_test = test_scores if shared else members.score(datas[0].x_test)
                member_val = val_scores if shared or val_scores is None else members.score(datas[0].x_val)
                results.update(seed_group.ensemble_run(
                    cfg, job, lead, group_tags, datas[0], healthy, [seeds[todo[i]] for i in healthy],
                    [runs[todo[i]].run_id for i in healthy], member_test, member_val, train_scores, evals, fit_time,
                    score_time + time.perf_counter() - t0, prefix))
            elif make_ensemble:
                print(f"{prefix}no ensemble run: fewer than 2 members finished", flush=True)
        except BaseException as exc:
            for open_run in runs.values():
                open_run.fail(exc)
            raise
    resume.discard(ckpt_dir)
    elapsed = time.perf_counter() - started
    if grouped:
        return _group_done(job, lead.tracker, trained, results, elapsed, fit_time, prefix)
    job.status = "finished"
    metrics = results[lead.name]
    _single_done(cfg, job, lead, metrics, elapsed)
    return metrics


def _inputs(strategy: OneSeed | Vectorised, preps: list[PreparedJob], seeds: list[int],
            where: str) -> tuple[list[DataBundle], Any]:
    """Everything a job can refuse before training, per member in the single-seed job's order
    (seed, data, data checks, build: the RNG draws of a single seed's job, for each member).
    Returns (the members' data, the strategy's members); members with equal data share one bundle."""
    strategy.check_members([p.cfg for p in preps])
    datas: list[DataBundle] = []
    detectors = []
    for prep, seed in zip(preps, seeds):
        L.seed_everything(seed, workers=False, verbose=False)
        data = prep.data()
        if datas and _same_data(datas[0], data):
            data = datas[0]
        elif datas and (data.x_train.shape != datas[0].x_train.shape or data.x_test.shape != datas[0].x_test.shape):
            raise ConfigError("vectorised members' datasets differ in size; the dataset must give every seed "
                              "the same numbers of events")
        else:
            check_data_values(data, prep.spec.eval)
        datas.append(data)
        detector = build(prep.cfg.model, "model", input_shape=data.input_shape)
        if not isinstance(detector, Detector):
            raise ConfigError(f"model._target_ must build a detector with fit() and score(), got {type(detector).__name__}")
        strategy.built(detector, where)
        detectors.append(detector)
    return datas, strategy.members(detectors, seeds)


def _same_data(first: DataBundle, data: DataBundle) -> bool:
    return data is first or (np.array_equal(data.x_train, first.x_train) and np.array_equal(data.x_test, first.x_test)
                             and np.array_equal(data.y_test, first.y_test))


def _trainer(lead: PreparedJob, members: Any, preps: list[PreparedJob], runs: list[OpenRun], datas: list[DataBundle],
             ckpt_dir: Path | None, desc: str, held: ExitStack) -> tuple[L.Trainer | None, str | None]:
    """The Lightning Trainer of a job's members with the engine's callbacks (per-member epoch
    losses and snapshots, progress, the resume checkpoint), and the checkpoint to resume from;
    ``(None, None)`` for detectors trained without one."""
    if not members.lightning:
        return None, None
    snaps = [next(iter(snapshot_callbacks(p.spec.eval.snapshot_epochs, p.cfg.dataset, d.x_test, d.y_test,
                                          p.job.output_dir)), None) for p, d in zip(preps, datas)]
    callbacks: list[L.Callback] = members.callbacks([r.tracker for r in runs], snaps)
    if not lead.job.multirun:
        callbacks.append(EpochProgress(desc=desc))
    resume_from = None
    if ckpt_dir is not None:
        callbacks.append(resume.LastCheckpoint(ckpt_dir))
        ckpt_path, epochs_done = resume.usable_checkpoint(ckpt_dir / resume.LAST, members.model)
        if ckpt_path is not None:
            log.info("resuming %s from %s (%d epochs done)", desc, ckpt_path, epochs_done)
            for r in runs:
                r.tracker.set_tags({"resumed_from": str(ckpt_path), "resumed_after_epochs": str(epochs_done)})
            resume_from = str(ckpt_path)
    return lead.trainer(callbacks, held), resume_from


def _fit(members: Any, x_train: np.ndarray, y_train: np.ndarray | None, trainer: L.Trainer | None,
         ckpt_path: str | None) -> None:
    """Train the members (from the resume checkpoint when there is one)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", ".*does not have many workers.*")
        warnings.filterwarnings("ignore", ".*smaller than the logging interval.*")
        warnings.filterwarnings("ignore", ".*module\\(s\\) in eval mode at the start of training.*")  # frozen encoders
        members.fit(x_train, y=y_train, trainer=trainer, ckpt_path=ckpt_path)


def _single_done(cfg: DictConfig, job: JobInfo, prep: PreparedJob, metrics: dict[str, float], elapsed: float) -> None:
    """A single-seed job's console lines: its sweep line, or its result, folder and MLflow link."""
    spec = prep.spec
    kind = logs.dataset_kind(cfg.dataset.get("_target_", ""))
    if job.multirun or spec.trial is not None:
        varying, n_jobs = logs.sweep_plan(job.sweep_dir)
        print(logs.job_line(job.job_num, n_jobs, logs.varying_overrides(job.overrides, varying), metrics, kind,
                            elapsed, trial=spec.trial, objective=spec.objective), flush=True)
    else:
        extra = f" (>= {spec.eval.min_background} background events)" if kind == "physics" else ""
        print(f"{prep.name}: test {logs.main_metrics(kind, metrics, sep=' = ')}{extra}, {elapsed:.1f} s",
              flush=True)
        print(f"results: {job.output_dir}", flush=True)
        print(prep.tracker.describe(), flush=True)


def _group_done(job: JobInfo, tracker: Tracker, trained: list[int], results: dict[str, dict[str, float]],
                elapsed: float, fit_time: float, prefix: str) -> dict[str, dict[str, float]]:
    """A vectorised group's closing lines; raises when a member failed (after everything is recorded)."""
    failed = [m for m in job.members if m["status"] == "failed"]
    print(f"{prefix}{len(trained)} seeds trained vectorised in {elapsed:.1f} s ({fit_time:.1f} s training)"
          + (f"; results: {job.output_dir}" if not job.multirun else ""), flush=True)
    if not job.multirun:
        print(tracker.describe(), flush=True)
    if failed:
        job.status = "failed"
        raise TrainingError(f"{len(failed)} of {len(trained)} vectorised members failed: {failed[0]['name']}: {failed[0]['error']}")
    job.status = "finished"
    return results


def _skip(job: JobInfo, run_id: str) -> dict[str, float]:
    """``resume=true`` and this exact config already has a FINISHED run: do nothing, say so."""
    job.status, job.run_id = "skipped", run_id
    prefix = logs.job_prefix(job) if job.multirun else "this config"
    print(f"{prefix}: skipped, identical config already FINISHED in MLflow run {run_id} (resume=true)", flush=True)
    return {}
