"""One job, several seeds: a vectorised seed group and its MLflow runs.

``vectorised.seeds=[s0, s1, ...]`` (set by ``hydra/sweeper=seed_batch`` for sweep points that differ
only in ``seed``, or given directly) makes the job train one member per seed as one batched
computation (:mod:`oneclass.vectorised`) and record:

* one MLflow run per member, as its single-seed job would: the same name, params (the member's
  config, i.e. ``seed=s`` and ``vectorised.seeds=null``), tags (``overrides`` as the single job's),
  metrics and artifacts (``config.yaml``, ``scores.npz``, ``roc.png``, ``sic.png``, ``model.ckpt``,
  snapshots), in ``<job dir>/<model>-seed<s>/``, plus the tags ``vectorised=true``,
  ``seed_group`` (the group id) and ``group_seeds``. ``fit_time_s`` / ``score_time_s`` are the
  group's times divided by the number of members (``group_fit_time_s`` is the whole);
* one ``<model>-<dataset>-ensemble<N>`` run (``model`` tag ``<model>-ensemble<N>``): score = mean over the N members of their normalised scores
  (``vectorised.ensemble``: ``standardize`` = z-score against the member's scores of the
  training set; ``rank`` = fraction of the member's training scores below the event's; the
  training scores are those of a fixed subset of ``vectorised.calibration_events`` events), with
  ``members_auc_mean`` / ``members_auc_std`` beside its own AUC, and ``ensemble.json`` (members'
  run ids and normalisation constants).

A member whose training loss becomes NaN fails only its own run (FAILED, with the single-seed
job's message); the others and the ensemble (of the healthy members) finish, and the job is
reported failed. ``resume=true`` skips members whose config already has a FINISHED run (their
fingerprint is a single job's); a killed group resumes from one checkpoint holding all members.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import time
import warnings
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import lightning.pytorch as L
import numpy as np
import torch
from omegaconf import DictConfig, OmegaConf, open_dict

from oneclass import vectorised
from oneclass.run import jobenv, resume
from oneclass.config import build
from oneclass.errors import ConfigError, TrainingError, first_line
from oneclass.run.job import (check_data_values, check_values, checked_scores, dataset_name, detector_name, prepare, run_params, set_name,
                          quiet_libraries, report_degenerate, sculpting_efficiencies, test_metrics, write_artifacts)
from oneclass.metrics import Evaluation, evaluate
from oneclass.models.base import Detector, degeneracy
from oneclass.run.snapshots import ScoreSnapshots, snapshot_callbacks
from oneclass.training import EpochProgress

log = logging.getLogger(__name__)

ENSEMBLES = ("standardize", "rank", "none")
SEEDS_KEY = "vectorised.seeds"


# --------------------------------------------------------------------------- config
def group_seeds(cfg: DictConfig) -> list[int] | None:
    """``vectorised.seeds`` as a list of distinct integers, None when not set (a single-seed job)."""
    node = cfg.get("vectorised")
    seeds = node.get("seeds") if node is not None else None
    if seeds is None:
        return None
    values = list(seeds) if not isinstance(seeds, (str, int)) else None
    if not values or any(isinstance(s, bool) or not isinstance(s, int) for s in values) or len(set(values)) != len(values):
        raise ConfigError(f"vectorised.seeds must be a list of distinct integer seeds (e.g. [0,1,2]), got {seeds!r}")
    return values


def ensemble_mode(cfg: DictConfig) -> str:
    how = (cfg.get("vectorised") or {}).get("ensemble", "standardize")
    if how not in ENSEMBLES:
        raise ConfigError(f"vectorised.ensemble must be one of {list(ENSEMBLES)}, got {how!r}")
    return how


def calibration_events(cfg: DictConfig) -> int | None:
    """``vectorised.calibration_events``: training events whose member scores give the ensemble's
    normalisation constants (None = all). Means and quantiles from 20,000 background events are
    exact to about 1 % of a score's spread, at a fraction of the time of scoring every event."""
    value = (cfg.get("vectorised") or {}).get("calibration_events", None)
    if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 2):
        raise ConfigError(f"vectorised.calibration_events must be an integer >= 2 or null (all training events), got {value!r}")
    return value


def calibration_rows(n_train: int, events: int | None) -> np.ndarray | None:
    """The fixed subset of ``events`` training rows (sorted, from a generator seeded 0: the same
    for every member and run), or None = all rows."""
    if events is None or events >= n_train:
        return None
    return np.sort(np.random.default_rng(0).choice(n_train, size=events, replace=False))


def member_cfg(cfg: DictConfig, seed: int) -> DictConfig:
    """The config of the single-seed job this member stands for: ``seed`` set, ``vectorised.seeds`` null."""
    out = cfg.copy()
    with open_dict(out):
        out.seed = seed
        out.vectorised.seeds = None
    return out


def member_overrides(overrides: list[str], seed: int) -> list[str]:
    """The single-seed job's command-line overrides: ``vectorised.seeds=[...]`` becomes ``seed=s``."""
    out, placed = [], False
    for o in overrides:
        key = o.split("=", 1)[0].lstrip("+~")
        if key == SEEDS_KEY:
            out.append(f"seed={seed}")
            placed = True
        elif key != "seed":
            out.append(o)
    return out if placed else [*out, f"seed={seed}"]


def group_fingerprint(cfg: DictConfig, seeds: list[int], how: str) -> str | None:
    """The group's (and its ensemble run's) fingerprint: the config's, the seeds and the ensemble."""
    base = resume.fingerprint(cfg)
    if base is None:
        return None
    return hashlib.sha256(json.dumps([base, seeds, how]).encode()).hexdigest()[:16]


def _seeds_label(seeds: list[int]) -> str:
    if seeds == list(range(seeds[0], seeds[0] + len(seeds))):
        return f"{seeds[0]}-{seeds[-1]}"
    return hashlib.sha1(",".join(map(str, seeds)).encode()).hexdigest()[:8]


# --------------------------------------------------------------------------- runs held open
class _OpenRun:
    """A member's MLflow run, entered now and closed individually (finished or failed)."""

    def __init__(self, prep: Any) -> None:
        self.prep = prep
        self.tracker = prep.tracker
        self._cm = prep.tracker.start_run(prep.name, tags=prep.tags)
        self._cm.__enter__()
        self.run_id = self.tracker.run_id
        self.open = True
        self.error: str | None = None

    def finish(self) -> None:
        if self.open:
            self.open = False
            self._cm.__exit__(None, None, None)

    def fail(self, exc: BaseException) -> None:
        """Mark the run FAILED (KILLED for Ctrl-C / preemption) with ``exc``'s message, without raising it."""
        if self.open:
            self.open = False
            self.error = first_line(exc)
            self._cm.__exit__(type(exc), exc, exc.__traceback__)


class MemberEpochTracking(L.Callback):
    """Each member's per-epoch ``train_loss`` into its own run (as ``EpochTracking`` for one run)."""

    def __init__(self, trackers: list[Any]) -> None:
        self.trackers = trackers

    def on_train_epoch_end(self, trainer: L.Trainer, group: Any) -> None:
        losses = group.member_epoch_losses()
        if losses is None:
            return
        alive = group.alive.tolist()
        for tracker, loss, ok in zip(self.trackers, losses, alive):
            if ok:  # the epoch a member fails in is logged (NaN), later ones are not
                tracker.log_metrics({"train_loss": loss}, step=trainer.current_epoch)


class _MemberScorer:
    """Member ``k`` of a vectorised group as the model a :class:`ScoreSnapshots` reads."""

    def __init__(self, group: Any, k: int, cache: dict[int, np.ndarray]) -> None:
        self.group, self.k, self.cache = group, k, cache
        self.score_name = getattr(group, "score_name", "score")

    def score(self, x: np.ndarray) -> np.ndarray:
        if id(x) not in self.cache:  # one batched pass for all members on a shared array
            self.cache[id(x)] = self.group.score(x)
        return self.cache[id(x)][self.k]


class MemberSnapshots(L.Callback):
    """``eval.snapshot_epochs`` for every member: one :class:`ScoreSnapshots` per member."""

    def __init__(self, snapshots: list[ScoreSnapshots | None]) -> None:
        self.snapshots = snapshots

    def on_train_epoch_end(self, trainer: L.Trainer, group: Any) -> None:
        cache: dict[int, np.ndarray] = {}
        for k, snap in enumerate(self.snapshots):
            if snap is not None:
                snap.on_train_epoch_end(trainer, _MemberScorer(group, k, cache))

    def on_train_end(self, trainer: L.Trainer, group: Any) -> None:
        for snap in self.snapshots:
            if snap is not None:
                snap.on_train_end(trainer, group)


# --------------------------------------------------------------------------- ensemble
def normalise(test: np.ndarray, train: np.ndarray, how: str) -> tuple[np.ndarray, dict[str, float]]:
    """One member's test scores made comparable across members, from its training-set scores
    (background only: no test information): ``standardize`` = (s - mean) / std, ``rank`` = the
    fraction of training scores <= s (events beyond every training score tie at 1)."""
    if how == "standardize":
        mean, std = float(np.mean(train)), float(np.std(train))
        std = std if std > 0 else 1.0
        return (test - mean) / std, {"mean": mean, "std": std}
    ordered = np.sort(train)
    return np.searchsorted(ordered, test, side="right") / len(ordered), {"n_train": int(len(ordered))}


def ensemble_scores(test: np.ndarray, train: np.ndarray, how: str) -> tuple[np.ndarray, list[dict[str, float]]]:
    """Mean over members (rows) of the normalised test scores, and each member's constants."""
    parts = [normalise(t, r, how) for t, r in zip(test, train)]
    return np.mean([p[0] for p in parts], axis=0), [p[1] for p in parts]


# --------------------------------------------------------------------------- artifacts
def save_member_checkpoint(model: L.LightningModule, path: Path, epoch: int, global_step: int) -> Path:
    """A Lightning checkpoint of one member (``Model.load_from_checkpoint(path, weights_only=True)``
    rebuilds it), as a single-seed job's ``model.ckpt``."""
    import lightning

    ckpt = {"epoch": epoch, "global_step": global_step, "pytorch-lightning_version": lightning.__version__,
            "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
            "hyper_parameters": dict(model.hparams)}
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(ckpt, path)
    return path


def _same_data(datas: list[Any]) -> bool:
    first = datas[0]
    return all(d is first or (np.array_equal(d.x_train, first.x_train) and np.array_equal(d.x_test, first.x_test)
                              and np.array_equal(d.y_test, first.y_test)) for d in datas[1:])


# --------------------------------------------------------------------------- the job
def _check_model(cfg: DictConfig) -> None:
    """One line, before any run is opened, when the configured model cannot be vectorised."""
    # a bad _target_ is reported by build(), inside the members' runs
    if cfg.get("model") is not None and (reason := vectorised.config_reason(cfg.model)):
        raise ConfigError(f"model: {reason}; run its seeds as separate jobs (without hydra/sweeper=seed_batch)")


def run_group(cfg: DictConfig, job: Any) -> dict[str, dict[str, float]]:
    """Train the seeds of ``vectorised.seeds`` as one vectorised group; one MLflow run per member
    plus the ensemble run. Returns ``{run name: metrics}``; raises (after recording everything)
    when a member failed."""
    seeds = group_seeds(cfg)
    how = ensemble_mode(cfg)
    calibration = calibration_events(cfg)  # checked before training
    if (cfg.get("hpo") or {}).get("parent_run_id"):  # a trial's objective is one run's val_* metric
        raise ConfigError("hydra/sweeper=optuna tunes single-seed jobs; remove vectorised.seeds from the search")
    _check_model(cfg)
    quiet_libraries()
    started = time.perf_counter()
    detector = detector_name(cfg, job)
    fp = group_fingerprint(cfg, seeds, how)
    gid = (fp or hashlib.sha1(repr((detector, seeds, time.time())).encode()).hexdigest())[:12]
    group_tags = {"vectorised": "true", "seed_group": gid, "group_seeds": ",".join(map(str, seeds))}

    group = prepare(cfg, job)
    group = dataclasses.replace(group, name=f"{detector}-{set_name(cfg, job)}-ensemble{len(seeds)}", fingerprint=fp,
                                finished_run=group.tracker.find_finished(fp) if fp and cfg.get("resume") is True else None)
    preps = []
    for s in seeds:
        mjob = dataclasses.replace(job, output_dir=job.output_dir / f"{detector}-seed{s}",
                                   overrides=member_overrides(job.overrides, s), status=None, run_id=None,
                                   process={}, members=[])
        prep = prepare(member_cfg(cfg, s), mjob)
        prep.tags.update(group_tags)
        preps.append(prep)

    prefix = f"[job {job.job_num}] " if job.multirun else ""
    todo = [k for k, p in enumerate(preps) if not p.finished_run]
    for k, p in enumerate(preps):
        if p.finished_run:
            job.members.append({"name": p.name, "seed": seeds[k], "status": "skipped", "run_id": p.finished_run})
            print(f"{prefix}{' '.join(p.job.overrides)}: skipped, identical config already FINISHED in MLflow run "
                  f"{p.finished_run} (resume=true)", flush=True)
    make_ensemble = how != "none" and len(seeds) >= 2 and len(todo) == len(seeds) and not group.finished_run
    if not todo:
        job.status, job.run_id = "skipped", group.finished_run
        return {}

    trained = [seeds[k] for k in todo]
    ckpt_dir: Path | None = None
    runs: dict[int, _OpenRun] = {}
    results: dict[str, dict[str, float]] = {}
    try:
        with jobenv.isolated() as found, ExitStack() as held:
            job.process = found
            # the single-seed job's checks (seed range, resume, eval and trainer values), for every member
            min_background = [check_values(preps[k].cfg) for k in todo][0][1]
            datas = [preps[k].data() for k in todo]
            shared = _same_data(datas)
            if shared:
                datas = [datas[0]] * len(datas)
            elif len({d.x_train.shape for d in datas}) > 1 or len({d.x_test.shape for d in datas}) > 1:
                raise ConfigError("vectorised members' datasets differ in size; the dataset must give every seed "
                                  "the same numbers of events")
            for data in datas[:1] if shared else datas:
                check_data_values(data, min_background)
                sculpting_efficiencies(cfg, data)
            models = [preps[k].cfg.model for k in todo]
            if any(OmegaConf.to_container(m, resolve=True) != OmegaConf.to_container(models[0], resolve=True) for m in models):
                raise ConfigError("vectorised members must differ only in seed, but their model configs differ "
                                  "(a model setting interpolates ${seed}?)")
            members, generators = [], []
            for k in todo:
                L.seed_everything(seeds[k], workers=False, verbose=False)
                det = build(preps[k].cfg.model, "model", input_shape=datas[0].input_shape)
                if not isinstance(det, Detector):
                    raise ConfigError(f"model._target_ must build a detector with fit() and score(), got {type(det).__name__}")
                vectorised.check_supported(det, f"model ({detector})")
                members.append(det)
                generators.append(vectorised.member_generator())
            model = vectorised.stack(members, generators, trained)
            # as a single job, once the detector is built: one CPU thread for a small network, here
            # the stack (its layers' sizes)
            job.process["threads_used"] = jobenv.set_threads(group.threads(model))
            # the members' runs open only now: a bad value or file above leaves no FAILED run
            for k in todo:
                runs[k] = _OpenRun(preps[k])
                runs[k].tracker.log_params(run_params(preps[k].cfg, preps[k].job))

            callbacks: list[L.Callback] = [MemberEpochTracking([runs[k].tracker for k in todo])]
            snaps = [snapshot_callbacks(preps[k].cfg, d.x_test, d.y_test, preps[k].job.output_dir) for k, d in zip(todo, datas)]
            if any(snaps):
                callbacks.append(MemberSnapshots([s[0] if s else None for s in snaps]))
            if not job.multirun:
                callbacks.append(EpochProgress(desc=f"{detector} seeds {','.join(map(str, trained))}"))
            ckpt_dir = resume.checkpoint_dir(job.launch_dir, f"{detector}-seeds{_seeds_label(trained)}", fp) if fp else None
            ckpt_path = None
            if ckpt_dir is not None:
                callbacks.append(resume.LastCheckpoint(ckpt_dir))
                ckpt_path, epochs_done = resume.usable_checkpoint(ckpt_dir / resume.LAST, model)
                if ckpt_path is not None:
                    log.info("resuming seeds %s from %s (%d epochs done)", trained, ckpt_path, epochs_done)
                    for k in todo:
                        runs[k].tracker.set_tags({"resumed_from": str(ckpt_path), "resumed_after_epochs": str(epochs_done)})
            trainer = group.trainer(callbacks, held)

            t0 = time.perf_counter()
            x_train = datas[0].x_train if shared else np.stack([d.x_train for d in datas])
            with warnings.catch_warnings():
                warnings.filterwarnings("ignore", ".*does not have many workers.*")
                warnings.filterwarnings("ignore", ".*smaller than the logging interval.*")
                model.fit(x_train, trainer=trainer, ckpt_path=str(ckpt_path) if ckpt_path else None)
            fit_time = time.perf_counter() - t0
            t0 = time.perf_counter()
            test_scores = model.score(datas[0].x_test if shared else np.stack([d.x_test for d in datas]))
            score_time = time.perf_counter() - t0
            # the validation split (dataset.n_val, read by model selection) as a single job scores it
            val_scores = (model.score(datas[0].x_val if shared else np.stack([d.x_val for d in datas]))
                          if datas[0].x_val is not None else None)
            n = len(todo)
            evals: dict[int, Evaluation] = {}
            for i, k in enumerate(todo):
                run, prep, data = runs[k], preps[k], datas[i]
                try:
                    if not bool(model.alive[i]):
                        raise TrainingError(model.failures[i])
                    report_degenerate(prep.cfg, run.tracker, prep.name,
                                      degeneracy(model.member(i), data.x_train))
                    scores = checked_scores(test_scores[i], len(data.x_test), model.model_name, prep.name, trainer.current_epoch)
                    ev, test = test_metrics(prep.cfg, data, scores, min_background)
                    val = {}
                    if val_scores is not None:
                        checked = checked_scores(val_scores[i], len(data.x_val), model.model_name, prep.name, trainer.current_epoch)
                        val = evaluate(checked, data.y_val, min_background=1).metrics("val")
                    write_artifacts(prep.cfg, data, scores, ev, prep.name, prep.job.output_dir)
                    save_member_checkpoint(model.member(i), prep.job.output_dir / "model.ckpt", trainer.current_epoch,
                                           trainer.global_step)
                    metrics = {**test, **val, "fit_time_s": fit_time / n, "score_time_s": score_time / n,
                               "group_fit_time_s": fit_time, "group_score_time_s": score_time}
                    run.tracker.log_metrics(metrics)
                    run.tracker.log_artifacts(prep.job.output_dir)
                except Exception as exc:
                    if bool(model.alive[i]):
                        model.fail_member(i, first_line(exc))
                    run.fail(exc)
                    print(f"{prefix}{' '.join(prep.job.overrides)}: FAILED: {run.error}", flush=True)
                else:
                    run.finish()
                    evals[i] = ev
                    results[prep.name] = metrics
                    line = f"test AUC {ev.auc:.4f}, max SIC {ev.max_sic:.3f} (vectorised, seed {seeds[k]} of {trained})"
                    print(f"{prefix}{' '.join(prep.job.overrides)}: {line}" if job.multirun else f"{prep.name}: {line}", flush=True)
                job.members.append({"name": prep.name, "seed": seeds[k], "run_id": run.run_id,
                                    "status": "failed" if run.error else "finished", **({"error": run.error} if run.error else {})})

            healthy = sorted(evals)
            if make_ensemble and len(healthy) >= 2:
                t0 = time.perf_counter()
                rows = calibration_rows(len(datas[0].x_train), calibration)
                train_scores = model.score(datas[0].x_train if rows is None else datas[0].x_train[rows])
                member_test = test_scores if shared else model.score(datas[0].x_test)
                member_val = val_scores if shared or val_scores is None else model.score(datas[0].x_val)
                results.update(_ensemble_run(cfg, job, group, group_tags, how, datas[0], healthy, todo, seeds, runs,
                                             member_test, member_val, train_scores, evals, fit_time,
                                             score_time + time.perf_counter() - t0, min_background, write_artifacts, prefix))
            elif make_ensemble:
                print(f"{prefix}no ensemble run: fewer than 2 members finished", flush=True)
    except BaseException as exc:
        for run in runs.values():
            run.fail(exc)
        raise
    resume.discard(ckpt_dir)
    failed = [m for m in job.members if m["status"] == "failed"]
    elapsed = time.perf_counter() - started
    print(f"{prefix}{len(trained)} seeds trained vectorised in {elapsed:.1f} s ({fit_time:.1f} s training)"
          + (f"; results: {job.output_dir}" if not job.multirun else ""), flush=True)
    if not job.multirun:
        print(group.tracker.describe(), flush=True)
    if failed:
        job.status = "failed"
        raise TrainingError(f"{len(failed)} of {len(trained)} vectorised members failed: {failed[0]['name']}: {failed[0]['error']}")
    job.status = "finished"
    return results


def _ensemble_run(cfg, job, group, group_tags, how, data, healthy, todo, seeds, runs, member_test, member_val,
                  train_scores, evals, fit_time, score_time, min_background, write_artifacts, prefix) -> dict[str, dict[str, float]]:
    """The ``<model>-ensemble<N>`` run of the healthy members (indices into the trained members)."""
    used = [seeds[todo[i]] for i in healthy]
    # run name <model>-<dataset>-ensemble<N> (as <model>-<dataset>-seed<s>); the detector (model tag) <model>-ensemble<N>
    name = group.name.rsplit("-ensemble", 1)[0] + f"-ensemble{len(healthy)}"
    model = f"{group.tags['model']}-ensemble{len(healthy)}"
    tags = {**group.tags, **group_tags, "model": model, "seed": ",".join(map(str, used)), "ensemble": "true",
            "ensemble_normalisation": how, "member_runs": ",".join(runs[todo[i]].run_id or "" for i in healthy)}
    if group.fingerprint:
        tags["config_fingerprint"] = group.fingerprint
    out = job.output_dir / model
    with group.tracker.start_run(name, tags=tags):
        job.run_id = group.tracker.run_id
        group.tracker.log_params(run_params(cfg, job))
        # the members nest under their ensemble run in the MLflow UI
        for i in healthy:
            if runs[todo[i]].run_id:
                group.tracker.tag_run(runs[todo[i]].run_id, {"mlflow.parentRunId": group.tracker.run_id})
        scores, constants = ensemble_scores(member_test[healthy], train_scores[healthy], how)
        ev, test = test_metrics(cfg, data, scores, min_background)
        val = {}
        if member_val is not None:
            val_scores, _ = ensemble_scores(member_val[healthy], train_scores[healthy], how)
            val = evaluate(val_scores, data.y_val, min_background=1).metrics("val")
        write_artifacts(cfg, data, scores, ev, name, out)
        aucs = [evals[i].auc for i in healthy]
        sics = [evals[i].max_sic for i in healthy]
        (out / "ensemble.json").write_text(json.dumps({
            "normalisation": how, "calibration_events": int(train_scores.shape[-1]), "seeds": used, "member_runs": [runs[todo[i]].run_id for i in healthy],
            "constants": constants, "member_auc": aucs, "member_max_sic": sics}, indent=2))
        metrics = {**test, **val, "fit_time_s": fit_time, "score_time_s": score_time, "members": float(len(healthy)),
                   "members_auc_mean": float(np.mean(aucs)), "members_auc_std": float(np.std(aucs)),
                   "members_max_sic_mean": float(np.mean(sics))}
        group.tracker.log_metrics(metrics)
        group.tracker.log_artifacts(out)
    print(f"{prefix}{name}: test AUC {ev.auc:.4f}, max SIC {ev.max_sic:.3f} (members: AUC {np.mean(aucs):.4f} "
          f"+- {np.std(aucs):.4f})", flush=True)
    return {name: metrics}
