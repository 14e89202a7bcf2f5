"""A job's set-up and what each of its runs is made of: where it runs (:class:`JobInfo`), its
set-up (:func:`prepare`: tracker, run name, tags, resume fingerprint, data, trainer), the run params,
the checks that depend on the data, the score check and the test metrics.

The job's own values are checked once, at job start, by :class:`oneclass.run.spec.RunSpec`;
:mod:`oneclass.run.engine` runs the job on this set-up, and a vectorised group's extras are in
:mod:`oneclass.run.seed_group`. Artifacts are written by :mod:`oneclass.run.artifacts`.
"""

from __future__ import annotations

import hashlib
import logging
import os
import subprocess
import time
import warnings
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import lightning.pytorch as L
import numpy as np
import torch
from omegaconf import DictConfig

from oneclass import __version__
from oneclass.config import build, flatten
from oneclass.data.base import DataBundle, Dataset, kind_of
from oneclass.errors import ConfigError, TrainingError
from oneclass.metrics import Evaluation, evaluate
from oneclass.physics import physics_metrics
from oneclass.run import jobenv, resume
from oneclass.run.spec import EvalSpec, RunSpec
from oneclass.tracking import Tracker


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
    # a vectorised seed group (oneclass.run.seed_group): each member's name, seed, status, run id, error
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


def set_name(cfg: DictConfig, job: JobInfo) -> str:
    """The set itself: ``dataset.name`` (``cardio`` of ``dataset=adbench``; a file's stem), else the config name."""
    name = cfg.dataset.get("name")
    return Path(str(name)).stem if name not in (None, "") else dataset_name(cfg, job)


def _default(target: str, key: str) -> Any:
    """The default of constructor argument ``key`` of the class ``target`` (None when unknown)."""
    import importlib
    import inspect

    try:
        module, cls = str(target).rsplit(".", 1)
        param = inspect.signature(getattr(importlib.import_module(module), cls)).parameters.get(key)
    except (ImportError, AttributeError, ValueError, TypeError):
        return None
    return None if param is None or param.default is inspect.Parameter.empty else param.default


def run_name(cfg: DictConfig, job: JobInfo) -> str:
    """What identifies the run: ``<model>-<set>[-class<c>][-mu<m>][-split<k>]-seed<s>[-trial<n>]``,
    e.g. ``ae-cardio-split3-seed0``, ``ocdn-gaussian-mu-4-seed0``: the normal class of image sets, the
    toy's signal mean where it is not the default, the split seed where the command sets it, the
    Optuna trial. ``name=TEXT`` sets it outright."""
    from oneclass.config import canonical

    if cfg.get("name") not in (None, ""):
        return str(cfg.name)
    ds = cfg.dataset
    parts = [detector_name(cfg, job), set_name(cfg, job)]
    if ds.get("normal_class") is not None:
        parts.append(f"class{ds.normal_class}")
    target = str(ds.get("_target_", ""))
    if "signal_mean" in ds and _default(target, "signal_mean") is not None \
            and canonical(ds.signal_mean) != canonical(_default(target, "signal_mean")):
        parts.append(f"mu{canonical(ds.signal_mean)}")
    if ds.get("split_seed") is not None and any(o.split("=", 1)[0].lstrip("+~") == "dataset.split_seed" for o in job.overrides):
        parts.append(f"split{ds.split_seed}")
    parts.append(f"seed{cfg.seed}")
    trial = (cfg.get("hpo") or {}).get("trial")
    if trial is not None:
        parts.append(f"trial{trial}")
    return "-".join(parts)


# always params (besides model.* and dataset.*): what a report groups by and a reader compares
_PARAM_KEYS = ("seed", "trainer.max_epochs", "trainer.max_steps")
_NOT_PARAMS = ("model._target_", "dataset._target_")  # the detector and dataset classes: tags model_class, dataset_class


def run_params(cfg: DictConfig, job: JobInfo) -> dict[str, Any]:
    """The MLflow params of a run: the hyperparameters that matter (``model.*``, ``dataset.*``, the
    seed and the epoch budget) plus every key the command line overrides, so the runs table shows its
    metrics without "show more columns". The full config is the run's artifact ``config.yaml``."""
    flat = flatten(cfg)
    params = {k: v for k, v in flat.items()
              if (k in _PARAM_KEYS or k.startswith(("model.", "dataset."))) and k not in _NOT_PARAMS
              and not k.rsplit(".", 1)[-1] in ("_partial_", "_convert_", "_recursive_")}
    for override in job.overrides:
        key = override.split("=", 1)[0].lstrip("+~")
        if key in flat and not key.startswith(("hpo.", "vectorised.")):
            params[key] = flat[key]
        elif key == "experiment" and "experiment" in job.choices:
            params["experiment"] = job.choices["experiment"]
    snapshots = (cfg.get("eval") or {}).get("snapshot_epochs")
    if snapshots:  # the toy report selects runs with score snapshots by this param
        params["eval.snapshot_epochs"] = flat["eval.snapshot_epochs"]
    return params


def quiet_libraries() -> None:
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


@dataclass
class PreparedJob:
    """One run's set-up: config, checked settings (``spec``), where it runs, the tracker, the run
    name and tags, the data (loaded once, on first use) and the trainer factory.

    Built by :func:`prepare`: one per member of a job (a single-seed job has one), and a vectorised
    group's own (its ensemble run, its trainer).
    """

    cfg: DictConfig
    spec: RunSpec
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
            self._data = dataset.load(self.spec.seed)
        return self._data

    def threads(self, detector: Any = None) -> int | None:
        """torch CPU threads: ``threads``, a cluster job's cores, the cores shared by parallel jobs;
        else 1 for a small network on the CPU (``jobenv.small_network``), else torch's default."""
        n = jobenv.job_threads(self.spec.threads, self.job.parallel_jobs, self.job.cpus_per_task)
        on_cpu = str(self.cfg.trainer.get("accelerator", "cpu")) in ("cpu", "auto") and not torch.cuda.is_available()
        if n is None and detector is not None and on_cpu and jobenv.small_network(detector):
            return 1
        return n

    def trainer(self, callbacks: list[L.Callback], held: ExitStack) -> L.Trainer:
        """A Lightning Trainer from ``cfg.trainer`` with ``callbacks``; on a multi-GPU machine shared
        by parallel jobs it claims one free GPU for as long as ``held`` is open."""
        gpu = held.enter_context(jobenv.gpu_slot(n_gpus)) if (n_gpus := gpus_to_share(self.cfg, self.job)) else None
        return make_trainer(self.cfg, callbacks, devices=None if gpu is None else [gpu])


def _code_commit() -> str | None:
    """The git commit of the oneclass code that runs (not of the launch directory), if it is a checkout."""
    return _git_commit(Path(__file__).resolve().parent)


def prepare(cfg: DictConfig, job: JobInfo, spec: RunSpec | None = None) -> PreparedJob:
    """Set up a run: the tracker, its run name and tags, the resume fingerprint (and whether an
    identical config already FINISHED), the checkpoint folder. Reads no data. ``spec``: the job's
    checked settings (read from ``cfg`` when not given)."""
    spec = spec if spec is not None else RunSpec.from_config(cfg)
    tracker: Tracker = build(cfg.logger, "logger", root_dir=job.launch_dir)
    tags = {
        "mlflow.source.name": "oneclass",
        "model": detector_name(cfg, job),
        "dataset": dataset_name(cfg, job),
        "model_class": str(cfg.model.get("_target_", "")),
        "dataset_class": str(cfg.dataset.get("_target_", "")),
        "seed": str(cfg.seed),
        "overrides": " ".join(job.overrides),
        "output_dir": str(job.output_dir),
        "oneclass_version": __version__,
    }
    if kind := kind_of((cfg.get("dataset") or {}).get("_target_")):
        tags["dataset_kind"] = kind
    if commit := _code_commit():
        tags["git_commit"] = commit
    if job.multirun:
        tags.update(sweep_id=str(job.sweep_id), sweep_dir=str(job.sweep_dir), job_num=str(job.job_num))
    if spec.parent_run_id:  # a trial of hydra/sweeper=optuna: nested under the study's run
        tags.update({"mlflow.parentRunId": spec.parent_run_id, "hpo_trial": str(spec.trial)})
    name = run_name(cfg, job)
    fingerprint = resume.fingerprint(cfg)
    finished = None
    if fingerprint:
        tags["config_fingerprint"] = fingerprint
        if spec.resume:
            finished = tracker.find_finished(fingerprint)
    ckpt_dir = resume.checkpoint_dir(job.launch_dir, name, fingerprint) if fingerprint else None
    return PreparedJob(cfg=cfg, spec=spec, job=job, tracker=tracker, name=name, tags=tags, fingerprint=fingerprint,
                       ckpt_dir=ckpt_dir, finished_run=finished)


def check_data_values(data: DataBundle, spec: EvalSpec) -> None:
    """Values that depend on the data, checked before training: ``eval.min_background`` against
    the test background events, ``eval.sculpting_efficiencies`` against the events' mjj."""
    n_bkg = int((data.y_test == 0).sum())
    min_background = spec.min_background
    if min_background > n_bkg:
        raise ConfigError(f"eval.min_background={min_background} exceeds the {n_bkg} test background events; "
                          f"lower eval.min_background (or enlarge the test set)")
    spec.sculpting_efficiencies(data)


def test_metrics(spec: EvalSpec, data: DataBundle, scores: np.ndarray) -> tuple[Evaluation, dict[str, float]]:
    """The evaluation of checked test scores and every test metric of a run (``test_auc``,
    ``test_max_sic``, ..., the physics metrics: rejection, SIC at working points, mjj sculpting)."""
    ev = evaluate(scores, data.y_test, min_background=spec.min_background)
    phys = {f"test_{k}": v for k, v in physics_metrics(scores, data.y_test, list(spec.signal_efficiencies),
                                                       mjj=data.test_aux.get("mjj"),
                                                       background_efficiencies=spec.sculpting_efficiencies(data),
                                                       n_bins=spec.mjj_bins).items()}
    return ev, {**ev.metrics(), **phys}


def gpus_to_share(cfg: DictConfig, job: JobInfo) -> int:
    """Parallel jobs on a multi-GPU machine with one device each: the number of GPUs to share, else 0."""
    wants_gpu = str(cfg.trainer.get("accelerator")) in ("gpu", "cuda") and cfg.trainer.get("devices") == 1
    n = torch.cuda.device_count() if wants_gpu and (job.parallel_jobs or 0) > 1 else 0
    return n if n > 1 else 0


def checked_scores(scores: Any, n: int, model: str, label: str, epochs: int | None = None) -> np.ndarray:
    """A detector's scores of ``n`` events as float64 ``(n,)``, checked: the right shape and all
    finite, else one line naming the model (``model``, its class name) and the run (``label``)."""
    scores = np.asarray(scores, dtype=np.float64)
    if scores.shape != (n,):
        raise TrainingError(f"{model}.score returned shape {scores.shape} for {n} events")
    if not np.isfinite(scores).all():
        after = f" after {epochs} epochs" if epochs is not None else ""
        raise TrainingError(f"{model} ({label}): {int((~np.isfinite(scores)).sum())} of {len(scores)} test scores are "
                            f"NaN or infinite{after}; the model diverged (lower model.lr?)")
    return scores


def report_degenerate(on_degenerate: str, tracker: Tracker, name: str, reason: str | None) -> None:
    """A fitted detector's failure mode (:func:`oneclass.models.degeneracy.degeneracy`): the tag
    ``degenerate=<reason>`` and one console line; with ``eval.on_degenerate=fail`` that line fails the run."""
    if reason is None:
        return
    tracker.set_tags({"degenerate": reason})
    line = (f"{name}: DEGENERATE: {reason} on the training rows, its scores are not a result; widen the net's "
            f"narrowest layer (model.net.rep_dim / min_width) or change model.lr")
    if on_degenerate == "fail":
        raise TrainingError(f"{line} (eval.on_degenerate=fail)")
    print(line, flush=True)
