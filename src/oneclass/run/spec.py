"""The run spec: a job's own settings, read from the composed config once, at job start.

:meth:`RunSpec.from_config` checks every value the job engine reads itself (the seed or the seeds
of a vectorised group, ``resume``, ``threads``, the ``eval`` settings, the trainer's epoch budget,
the ``vectorised`` settings, ``hpo``'s trial) and raises the first bad one as a one-line
:class:`~oneclass.errors.ConfigError` before anything is read, built or trained. The engine, the
snapshots and the metrics then take the frozen :class:`RunSpec`, never the raw config: ``cfg`` is
still what builds the model, the dataset, the trainer and the logger (``oneclass.config.build``),
and what the resume fingerprint and ``config.yaml`` are made of.

A vectorised group's members are the single-seed jobs they stand for: :meth:`RunSpec.member`.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from omegaconf import DictConfig

from oneclass.config import require_int, require_positive
from oneclass.errors import ConfigError
from oneclass.physics import check_efficiency
from oneclass.run.snapshots import snapshot_epochs

SEED_MAX = 2**32 - 1  # numpy's and Lightning's seeds are unsigned 32-bit
ON_DEGENERATE = ("warn", "fail")
ENSEMBLES = ("standardize", "rank", "none")
DEFAULT_SCULPTING = (0.1, 0.01)


@dataclass(frozen=True)
class EvalSpec:
    """``eval.*``: how a run's scores are evaluated."""

    min_background: int = 10
    signal_efficiencies: tuple[float, ...] = (0.2, 0.5)
    # None: 10 % and 1 % where the test events have mjj, none elsewhere; a tuple asks for sculpting
    sculpting: tuple[float, ...] | None = None
    on_degenerate: str = "warn"
    snapshot_epochs: tuple[int, ...] = ()
    mjj_bins: int = 20

    def sculpting_efficiencies(self, data: Any = None) -> list[float]:
        """The background efficiencies of the mjj sculpting metrics for ``data`` (a DataBundle):
        null = 10 % and 1 % where the test events have mjj; a list needs mjj."""
        has_mjj = data is None or "mjj" in data.test_aux
        if self.sculpting is None:
            return list(DEFAULT_SCULPTING) if has_mjj else []
        if self.sculpting and not has_mjj:
            raise ConfigError(f"eval.sculpting_efficiencies={list(self.sculpting)} needs the test events' mjj, which "
                              f"dataset '{data.name}' does not have; set eval.sculpting_efficiencies=null (or [])")
        return list(self.sculpting)


@dataclass(frozen=True)
class RunSpec:
    """A job's checked settings. ``seeds`` are the members' seeds: ``(seed,)`` for a single-seed
    job, ``vectorised.seeds`` for a vectorised group (``grouped``)."""

    seeds: tuple[int, ...]
    grouped: bool = False
    resume: bool = False
    threads: int | None = None
    max_epochs: int | None = None
    eval: EvalSpec = EvalSpec()
    ensemble: str = "standardize"
    calibration_events: int | None = None
    name: str | None = None
    trial: int | None = None
    objective: str | None = None
    parent_run_id: str | None = None

    @property
    def seed(self) -> int:
        """The seed of a single-seed job (a group's first member's)."""
        return self.seeds[0]

    def member(self, seed: int) -> "RunSpec":
        """The spec of the single-seed job a group's member stands for."""
        return replace(self, seeds=(seed,), grouped=False)

    @classmethod
    def from_config(cls, cfg: DictConfig) -> "RunSpec":
        """Read and check the job's settings (first bad value: one-line ConfigError)."""
        group = group_seeds(cfg)
        vec = cfg.get("vectorised") or {}
        ensemble = calibration = None
        if group is not None:  # the vectorised settings matter (and are checked) for a group only
            ensemble = vec.get("ensemble", "standardize")
            if ensemble not in ENSEMBLES:
                raise ConfigError(f"vectorised.ensemble must be one of {list(ENSEMBLES)}, got {ensemble!r}")
            calibration = _calibration_events(vec.get("calibration_events", None))
        if cfg.get("resume") not in (None, True, False):
            raise ConfigError(f"resume must be true or false, got {cfg.resume!r}")
        seeds = tuple(group) if group is not None else (require_int(cfg.seed, "seed"),)
        for seed in seeds:
            if not 0 <= seed <= SEED_MAX:
                raise ConfigError(f"seed must be an integer in [0, {SEED_MAX}], got {seed}")
        ev = cfg.eval
        min_background = require_int(ev.min_background, "eval.min_background")
        signal = tuple(check_efficiency(v, "eval.signal_efficiencies")
                       for v in (ev.get("signal_efficiencies", [0.2, 0.5]) or []))
        sculpting = ev.get("sculpting_efficiencies", None)
        if sculpting is not None:
            sculpting = tuple(check_efficiency(v, "eval.sculpting_efficiencies") for v in sculpting)
        on_degenerate = ev.get("on_degenerate", "warn")
        if on_degenerate not in ON_DEGENERATE:
            raise ConfigError(f"eval.on_degenerate must be warn or fail (what a collapsed model does to its run), "
                              f"got {on_degenerate!r}")
        if min_background < 1:
            raise ConfigError(f"eval.min_background must be a positive integer (the fewest test background events a "
                              f"max-SIC cut may keep; default 10), got {min_background}")
        max_epochs = _budget(cfg.get("trainer") or {})
        hpo = cfg.get("hpo") or {}
        threads = cfg.get("threads")
        threads = None if threads is None else int(require_positive(threads, "threads", integer=True))
        return cls(
            seeds=seeds,
            grouped=group is not None,
            resume=cfg.get("resume") is True,
            threads=threads,
            max_epochs=max_epochs,
            eval=EvalSpec(min_background=min_background, signal_efficiencies=signal, sculpting=sculpting,
                          on_degenerate=str(on_degenerate), snapshot_epochs=tuple(snapshot_epochs(
                              ev.get("snapshot_epochs"), max_epochs)),
                          mjj_bins=int(require_positive(ev.get("mjj_bins", 20), "eval.mjj_bins", integer=True))),
            ensemble=ensemble or "standardize",
            calibration_events=calibration,
            name=None if cfg.get("name") in (None, "") else str(cfg.name),
            trial=hpo.get("trial"),
            objective=hpo.get("objective"),
            parent_run_id=str(hpo.parent_run_id) if hpo.get("parent_run_id") else None,
        )


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


def _calibration_events(value: Any) -> int | None:
    """``vectorised.calibration_events``: training events whose member scores give the ensemble's
    normalisation constants (None = all). Means and quantiles from 20,000 background events are
    exact to about 1 % of a score's spread, at a fraction of the time of scoring every event."""
    if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 2):
        raise ConfigError(f"vectorised.calibration_events must be an integer >= 2 or null (all training events), got {value!r}")
    return value


def _budget(trainer: Any) -> int | None:
    """The trainer's epoch budget, checked: ``max_epochs`` (None or -1 = no limit) or ``max_steps``."""
    max_steps = trainer.get("max_steps", -1)
    if max_steps not in (None, -1):
        if isinstance(max_steps, bool) or not isinstance(max_steps, int) or max_steps <= 0:
            raise ConfigError(f"trainer.max_steps must be a positive integer (optimizer steps) or -1 (no limit), got {max_steps!r}")
    epochs = trainer.get("max_epochs")
    if max_steps in (None, -1) or epochs not in (None, -1):
        if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs <= 0:
            raise ConfigError(f"trainer.max_epochs must be a positive integer (epochs to train), got {epochs!r}; "
                              "or set trainer.max_steps=N with trainer.max_epochs=-1")
    return epochs if isinstance(epochs, int) and not isinstance(epochs, bool) else None
