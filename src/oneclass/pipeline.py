"""The experiment pipeline: one job = build data and detector from config, fit, score, evaluate,
write artifacts, track.

``run(cfg)`` is the whole job; ``run.py`` / the ``oneclass`` command only wrap it with Hydra, and
tests call it directly with a composed config.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import subprocess
import time
import warnings
from contextlib import ExitStack
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import lightning.pytorch as L
import numpy as np
from omegaconf import DictConfig, OmegaConf

from oneclass import jobenv, plots, resume
from oneclass.config import build, flatten, require_int
from oneclass.data.base import DataBundle, Dataset
from oneclass.errors import ConfigError, TrainingError
from oneclass.models.base import Detector
from oneclass.metrics import Evaluation, evaluate
from oneclass.physics import check_efficiency, physics_metrics
from oneclass.snapshots import snapshot_callbacks
from oneclass.tracking import Tracker
from oneclass.training import EpochProgress, EpochTracking

log = logging.getLogger(__name__)


@dataclass
class JobInfo:
    """Where and as what this job runs (from Hydra when present)."""

    output_dir: Path
    launch_dir: Path
    multirun: bool = False
    job_num: int | None = None
    sweep_id: str | None = None
    sweep_dir: str | None = None
    overrides: list[str] = field(default_factory=list)
    choices: dict[str, str] = field(default_factory=dict)
    # jobs sharing this machine at once (joblib's n_jobs) and a cluster job's cores: sizes torch threads
    parallel_jobs: int | None = None
    cpus_per_task: int | None = None
    # filled in by run(): "finished" / "skipped", the MLflow run id, the process state found at start
    status: str | None = None
    run_id: str | None = None
    process: dict[str, Any] = field(default_factory=dict)
    # a vectorised seed group (oneclass.seed_group): each member's name, seed, status, run id, error
    members: list[dict[str, Any]] = field(default_factory=list)

    @classmethod
    def current(cls, default_output: str | os.PathLike | None = None) -> "JobInfo":
        from hydra.core.hydra_config import HydraConfig
        from hydra.types import RunMode

        if not HydraConfig.initialized():
            out = Path(default_output or Path.cwd() / "outputs" / time.strftime("%Y-%m-%d/%H-%M-%S"))
            return cls(output_dir=out, launch_dir=Path.cwd())
        hc = HydraConfig.get()
        multirun = hc.mode == RunMode.MULTIRUN
        info = cls(
            output_dir=Path(hc.runtime.output_dir),
            launch_dir=Path(hc.runtime.cwd),
            multirun=multirun,
            overrides=list(hc.overrides.task),
            choices={k: str(v) for k, v in hc.runtime.choices.items() if v is not None and not k.startswith("hydra/")},
        )
        if multirun:
            info.job_num = int(hc.job.num)
            sweep_dir = str(Path(hc.runtime.cwd, hc.sweep.dir).resolve())
            info.sweep_dir = sweep_dir
            digest = hashlib.sha1(sweep_dir.encode()).hexdigest()[:8]
            info.sweep_id = f"{Path(sweep_dir).name}-{digest}"
            launcher = hc.launcher
            if "JoblibLauncher" in str(launcher.get("_target_", "")):
                info.parallel_jobs = jobenv.concurrent_jobs(launcher.get("n_jobs"))
            cpus = launcher.get("cpus_per_task")
            info.cpus_per_task = int(cpus) if isinstance(cpus, int) and cpus > 0 else None
        return info


def _git_commit(path: Path) -> str | None:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=path, capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() if out.returncode == 0 else None


def detector_name(cfg: DictConfig, job: JobInfo) -> str:
    """The model's config name (``logreg``, ``ocsvm_iad``...), else its class name in lower case."""
    return job.choices.get("model") or str(cfg.model._target_).rsplit(".", 1)[-1].lower()


def dataset_name(cfg: DictConfig, job: JobInfo) -> str:
    """The dataset's config name (``lhco``, ``mnist``...), else its ``name``."""
    return job.choices.get("dataset") or str(cfg.dataset.get("name", ""))


def run_name(cfg: DictConfig, job: JobInfo) -> str:
    """``<model>-<dataset>-seed<seed>``, e.g. ``ocsvm_oad-lhco-seed3``."""
    return f"{detector_name(cfg, job)}-{dataset_name(cfg, job)}-seed{cfg.seed}"


def _quiet_libraries() -> None:
    """Keep a job's console to its own lines: libraries' INFO chatter and known-harmless warnings off,
    and MLflow's own "View run / View experiment" lines (we print one link, see Tracker.describe)."""
    os.environ.setdefault("MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT", "true")
    for name in ("lightning.pytorch", "lightning.fabric", "lightning", "numexpr", "matplotlib", "alembic"):
        logging.getLogger(name).setLevel(logging.WARNING)
    warnings.filterwarnings("ignore", message=".*LeafSpec.*is deprecated.*")
    warnings.filterwarnings("ignore", message=".*litlogger.*")
    # Lightning's SLURMEnvironment.detect() says this on any machine with SLURM installed, login nodes and
    # every job outside `srun` included; our jobs are one process each: inside an allocation (sbatch sets
    # SLURM_NTASKS) Lightning uses its SLURM environment without the hint (see jobenv.cluster_plugins)
    warnings.filterwarnings("ignore", message=".*The `srun` command is available on your system but is not used.*")


def make_trainer(cfg: DictConfig, callbacks: list[L.Callback], devices: list[int] | None = None) -> L.Trainer:
    """The Lightning Trainer from ``cfg.trainer`` with the pipeline's callbacks added.

    Under SLURM, Lightning's own auto-requeue is switched off (submitit owns requeueing, see
    ``jobenv.cluster_plugins``); the pipeline's resume checkpoint needs ``enable_checkpointing``.
    """
    from lightning.pytorch.callbacks import Checkpoint

    extra = list(cfg.trainer.get("callbacks") or [])
    kwargs: dict[str, Any] = {}
    if any(isinstance(c, Checkpoint) for c in callbacks):
        kwargs["enable_checkpointing"] = True
    if cfg.trainer.get("plugins") is None and (plugins := jobenv.cluster_plugins()):
        kwargs["plugins"] = plugins
    if devices is not None:
        kwargs["devices"] = devices
    trainer = build(cfg.trainer, "trainer", callbacks=extra + callbacks, **kwargs)
    if not isinstance(trainer, L.Trainer):
        raise ConfigError(f"trainer._target_ must build a lightning Trainer, got {type(trainer).__name__}")
    return trainer


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


def write_artifacts(cfg: DictConfig, data: DataBundle, scores: np.ndarray, ev: Evaluation, label: str, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / "config.yaml").write_text(OmegaConf.to_yaml(cfg, resolve=True))
    # index: each test row's position in its source (file row, image number), to trace a score back
    np.savez_compressed(out / "scores.npz", scores=scores, labels=data.y_test, index=data.test_index, **data.test_aux)
    # the data facts (selection, counts, preprocessing statistics) that re-scoring needs (oneclass score)
    (out / "data_info.json").write_text(json.dumps(data.info, indent=1, default=_json_default))
    plots.roc_figure(ev, out / "roc.png", label)
    plots.sic_figure(ev, out / "sic.png", label)


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    return str(value)


@dataclass
class PreparedJob:
    """One job's set-up, shared by every detector it runs: config, where it runs, the tracker,
    the run tags, the data (loaded once, on first use) and the trainer factory.

    Built by :func:`prepare`; :func:`run_detector` runs one detector on it and records one MLflow run.
    """

    cfg: DictConfig
    job: JobInfo
    tracker: Tracker
    name: str
    tags: dict[str, str]
    fingerprint: str | None
    ckpt_dir: Path | None
    finished_run: str | None = None
    _data: DataBundle | None = None

    def data(self) -> DataBundle:
        """The dataset's arrays for this job's seed, loaded on first use."""
        if self._data is None:
            dataset: Dataset = build(self.cfg.dataset, "dataset")
            self._data = dataset.load(require_int(self.cfg.seed, "seed"))
        return self._data

    def threads(self) -> int | None:
        return jobenv.job_threads(self.cfg.get("threads"), self.job.parallel_jobs, self.job.cpus_per_task)

    def trainer(self, callbacks: list[L.Callback], held: ExitStack) -> L.Trainer:
        """A Lightning Trainer from ``cfg.trainer`` with ``callbacks``; on a multi-GPU machine shared
        by parallel jobs it claims one free GPU for as long as ``held`` is open."""
        gpu = held.enter_context(jobenv.gpu_slot(n_gpus)) if (n_gpus := _gpus_to_share(self.cfg, self.job)) else None
        return make_trainer(self.cfg, callbacks, devices=None if gpu is None else [gpu])


def _code_commit() -> str | None:
    """The git commit of the oneclass code that runs (not of the launch directory), if it is a checkout."""
    return _git_commit(Path(__file__).resolve().parent)


def prepare(cfg: DictConfig, job: JobInfo) -> PreparedJob:
    """Set up a job: the tracker, its run name and tags, the resume fingerprint (and whether an
    identical config already FINISHED), the checkpoint folder. Reads no data."""
    from oneclass import __version__

    tracker: Tracker = build(cfg.logger, "logger", root_dir=job.launch_dir)
    tags = {
        "mlflow.source.name": "oneclass",
        "model": detector_name(cfg, job),
        "dataset": dataset_name(cfg, job),
        "seed": str(cfg.seed),
        "overrides": " ".join(job.overrides),
        "output_dir": str(job.output_dir),
        "oneclass_version": __version__,
    }
    if commit := _code_commit():
        tags["git_commit"] = commit
    if job.multirun:
        tags.update(sweep_id=str(job.sweep_id), sweep_dir=str(job.sweep_dir), job_num=str(job.job_num))
    hpo = cfg.get("hpo") or {}
    if hpo.get("parent_run_id"):  # a trial of hydra/sweeper=optuna: nested under the study's run
        tags.update({"mlflow.parentRunId": str(hpo.parent_run_id), "hpo_trial": str(hpo.get("trial"))})
    name = run_name(cfg, job)
    fingerprint = resume.fingerprint(cfg)
    finished = None
    if fingerprint:
        tags["config_fingerprint"] = fingerprint
        if cfg.get("resume") is True:
            finished = tracker.find_finished(fingerprint)
    ckpt_dir = resume.checkpoint_dir(job.launch_dir, name, fingerprint) if fingerprint else None
    return PreparedJob(cfg=cfg, job=job, tracker=tracker, name=name, tags=tags, fingerprint=fingerprint,
                       ckpt_dir=ckpt_dir, finished_run=finished)


SEED_MAX = 2**32 - 1  # numpy's and Lightning's seeds are unsigned 32-bit


def check_values(cfg: DictConfig) -> tuple[int, int]:
    """The job's own values, checked before anything is read or trained: seed, resume,
    eval.min_background, the trainer's epoch budget. Returns (seed, min_background)."""
    if cfg.get("resume") not in (None, True, False):
        raise ConfigError(f"resume must be true or false, got {cfg.resume!r}")
    seed = require_int(cfg.seed, "seed")
    if not 0 <= seed <= SEED_MAX:
        raise ConfigError(f"seed must be an integer in [0, {SEED_MAX}], got {seed}")
    min_background = require_int(cfg.eval.min_background, "eval.min_background")
    signal_efficiencies(cfg)
    sculpting_efficiencies(cfg)
    if min_background < 1:
        raise ConfigError(f"eval.min_background must be a positive integer (the fewest test background events a "
                          f"max-SIC cut may keep; default 10), got {min_background}")
    trainer = cfg.get("trainer") or {}
    max_steps = trainer.get("max_steps", -1)
    if max_steps not in (None, -1):
        if isinstance(max_steps, bool) or not isinstance(max_steps, int) or max_steps <= 0:
            raise ConfigError(f"trainer.max_steps must be a positive integer (optimizer steps) or -1 (no limit), got {max_steps!r}")
    epochs = trainer.get("max_epochs")
    if max_steps in (None, -1) or epochs not in (None, -1):
        if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs <= 0:
            raise ConfigError(f"trainer.max_epochs must be a positive integer (epochs to train), got {epochs!r}; "
                              "or set trainer.max_steps=N with trainer.max_epochs=-1")
    return seed, min_background


def signal_efficiencies(cfg: DictConfig) -> list[float]:
    """``eval.signal_efficiencies``: working points for the rejection and SIC metrics."""
    values = cfg.eval.get("signal_efficiencies", [0.2, 0.5]) or []
    return [check_efficiency(v, "eval.signal_efficiencies") for v in values]


def sculpting_efficiencies(cfg: DictConfig, data: DataBundle | None = None) -> list[float]:
    """``eval.sculpting_efficiencies``: null = 10 % and 1 % where the test events have mjj; a list
    asks for sculpting and needs mjj."""
    values = cfg.eval.get("sculpting_efficiencies", None)
    has_mjj = data is None or "mjj" in data.test_aux
    if values is None:
        return [0.1, 0.01] if has_mjj else []
    effs = [check_efficiency(v, "eval.sculpting_efficiencies") for v in values]
    if effs and not has_mjj:
        raise ConfigError(f"eval.sculpting_efficiencies={list(values)} needs the test events' mjj, which dataset "
                          f"'{data.name}' does not have; set eval.sculpting_efficiencies=null (or [])")
    return effs


def check_data_values(data: DataBundle, min_background: int) -> None:
    """Values that depend on the data's sizes, checked before training."""
    n_bkg = int((data.y_test == 0).sum())
    if min_background > n_bkg:
        raise ConfigError(f"eval.min_background={min_background} exceeds the {n_bkg} test background events; "
                          f"lower eval.min_background (or enlarge the test set)")


def _fit(prep: PreparedJob, detector: Any, data: DataBundle, held: ExitStack) -> L.Trainer | None:
    """Train ``detector`` on the job's training data; Lightning detectors get the pipeline's
    callbacks (epoch tracking, snapshots, progress, resume checkpoint). Returns the trainer used."""
    labels = {"y": data.y_train} if getattr(detector, "supervised", False) else {}  # the supervised ceiling only
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
    scores = np.asarray(detector.score(data.x_test), dtype=np.float64)
    if scores.shape != (len(data.x_test),):
        raise TrainingError(f"{type(detector).__name__}.score returned shape {scores.shape} for {len(data.x_test)} events")
    if not np.isfinite(scores).all():
        epochs = f" after {trainer.current_epoch} epochs" if trainer is not None else ""
        raise TrainingError(f"{type(detector).__name__} ({label}): {int((~np.isfinite(scores)).sum())} "
                            f"of {len(scores)} test scores are NaN or infinite{epochs}; the model diverged (lower model.lr?)")
    return scores


def test_metrics(cfg: DictConfig, data: DataBundle, scores: np.ndarray, min_background: int) -> tuple[Evaluation, dict[str, float]]:
    """The evaluation of checked test scores and every test metric of a run (``test_auc``,
    ``test_max_sic``, ..., the physics metrics: rejection, SIC at working points, mjj sculpting)."""
    ev = evaluate(scores, data.y_test, min_background=min_background)
    phys = {f"test_{k}": v for k, v in physics_metrics(scores, data.y_test, signal_efficiencies(cfg),
                                                       mjj=data.test_aux.get("mjj"),
                                                       background_efficiencies=sculpting_efficiencies(cfg, data),
                                                       n_bins=int(cfg.eval.get("mjj_bins", 20))).items()}
    return ev, {**ev.metrics(), **phys}


def validation_view(data: DataBundle) -> DataBundle:
    """``data`` with the validation split (``dataset.n_val``) in the test arrays' place, for scoring."""
    return replace(data, x_test=data.x_val, y_test=data.y_val, test_index=None, x_val=None, y_val=None)


def run_detector(prep: PreparedJob) -> tuple[dict[str, float], Evaluation]:
    """Run the job's detector on its data and record it as one MLflow run: params, seeding, data
    (loaded once per job), build, fit, score, evaluate, artifacts, metrics. A failure on the way
    marks the run FAILED (KILLED for Ctrl-C) with the error, and is raised."""
    cfg, job, tracker = prep.cfg, prep.job, prep.tracker
    with tracker.start_run(prep.name, tags=prep.tags), jobenv.isolated() as found, ExitStack() as held:
        # isolated(): the process state (threads, RNGs, seed variables) is restored when the run ends
        job.run_id, job.process = tracker.run_id, found
        tracker.log_params(flatten(cfg))
        job.process["threads_used"] = jobenv.set_threads(prep.threads())
        seed, min_background = check_values(cfg)
        L.seed_everything(seed, workers=False, verbose=False)

        data = prep.data()
        check_data_values(data, min_background)
        sculpting_efficiencies(cfg, data)
        detector = build(cfg.model, "model", input_shape=data.input_shape)
        if not isinstance(detector, Detector):
            raise ConfigError(f"model._target_ must build a detector with fit() and score(), got {type(detector).__name__}")

        t0 = time.perf_counter()
        trainer = _fit(prep, detector, data, held)
        fit_time = time.perf_counter() - t0
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
    from oneclass.seed_group import group_seeds, run_group

    if group_seeds(cfg) is not None:  # vectorised.seeds: several seeds as one batched job
        return run_group(cfg, job)
    _quiet_libraries()
    prep = prepare(cfg, job)
    if prep.finished_run:
        return _skip(job, prep.tracker, prep.finished_run)
    started = time.perf_counter()
    metrics, ev = run_detector(prep)
    job.status = "finished"
    resume.discard(prep.ckpt_dir)

    elapsed = time.perf_counter() - started
    if job.multirun:
        over = " ".join(job.overrides) or "(no overrides)"
        print(f"[job {job.job_num}] {over}: test AUC {ev.auc:.4f}, max SIC {ev.max_sic:.3f} ({elapsed:.1f} s)", flush=True)
    else:
        print(f"{prep.name}: test AUC = {ev.auc:.4f}, max SIC = {ev.max_sic:.3f} "
              f"(>= {cfg.eval.min_background} background events), {elapsed:.1f} s", flush=True)
        print(f"results: {job.output_dir}", flush=True)
        print(prep.tracker.describe(), flush=True)
    return metrics


def _gpus_to_share(cfg: DictConfig, job: JobInfo) -> int:
    """Parallel jobs on a multi-GPU machine with one device each: the number of GPUs to share, else 0."""
    import torch

    wants_gpu = str(cfg.trainer.get("accelerator")) in ("gpu", "cuda") and cfg.trainer.get("devices") == 1
    n = torch.cuda.device_count() if wants_gpu and (job.parallel_jobs or 0) > 1 else 0
    return n if n > 1 else 0


def _skip(job: JobInfo, tracker: Tracker, run_id: str) -> dict[str, float]:
    """``resume=true`` and this exact config already has a FINISHED run: do nothing, say so."""
    job.status, job.run_id = "skipped", run_id
    over = " ".join(job.overrides) or "(no overrides)"
    prefix = f"[job {job.job_num}] {over}" if job.multirun else "this config"
    print(f"{prefix}: skipped, identical config already FINISHED in MLflow run {run_id} (resume=true)", flush=True)
    return {}
