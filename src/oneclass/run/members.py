"""A job's members: the detectors one job trains together and records, one MLflow run each.

The engine (:mod:`oneclass.run.engine`) runs every job the same way on its members, whichever kind:

* ``fit(x_train, y, trainer, ckpt_path)`` trains them all;
* ``score(x)`` gives one row of scores per member, ``(n_members, n)``;
* ``alive(i)`` / ``failure(i)`` say whether member ``i`` trained (a vectorised member whose loss
  became NaN fails alone), ``fail_member(i, why)`` marks it failed;
* ``member(i)`` is member ``i`` as a detector of its own (for its degeneracy check), ``save(i, ...)``
  its ``model.ckpt``, ``callbacks(...)`` the per-member epoch logging and score snapshots.

Two implementations, one per strategy (:func:`strategy_for` picks it from the run spec):

* :class:`OneDetector`: any detector (Lightning or a scikit-learn adapter, the supervised ceiling
  included), a single-seed job: a group of one;
* :class:`Stacked`: the members of ``vectorised.seeds`` stacked into one batched network
  (:func:`oneclass.vectorised.stack`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import lightning.pytorch as L
import numpy as np
from omegaconf import DictConfig, OmegaConf

from oneclass import vectorised
from oneclass.errors import ConfigError, first_line
from oneclass.models.base import SupervisedDetector
from oneclass.run.artifacts import save_detector, save_member_checkpoint
from oneclass.run.progress import EpochTracking
from oneclass.run.snapshots import ScoreSnapshots
from oneclass.run.spec import RunSpec


# --------------------------------------------------------------------------- members
class OneDetector:
    """One detector as the members of a single-seed job."""

    n_members = 1

    def __init__(self, detector: Any) -> None:
        self.detector = detector
        self.model = detector  # what the trainer fits and what sizes the job's threads
        self.model_name = type(detector).__name__
        self.lightning = isinstance(detector, L.LightningModule)

    def fit(self, x: np.ndarray, y: np.ndarray | None = None, trainer: L.Trainer | None = None,
            ckpt_path: str | None = None) -> None:
        labels = {"y": y} if isinstance(self.detector, SupervisedDetector) else {}  # the supervised ceiling only
        if self.lightning:
            self.detector.fit(x, trainer=trainer, ckpt_path=ckpt_path, **labels)
        else:
            self.detector.fit(x, **labels)

    def score(self, x: np.ndarray) -> list[Any]:
        return [self.detector.score(x)]  # as the detector returns it: checked_scores names a wrong shape

    def alive(self, i: int) -> bool:
        return True  # a single detector's failure raises from fit

    def failure(self, i: int) -> str | None:
        return None

    def fail_member(self, i: int, message: str) -> None:
        pass

    def member(self, i: int) -> Any:
        return self.detector

    def save(self, i: int, directory: Path, trainer: L.Trainer | None) -> Path:
        return save_detector(self.detector, trainer, directory)

    def callbacks(self, trackers: list[Any], snapshots: list[ScoreSnapshots | None]) -> list[L.Callback]:
        return [EpochTracking(trackers[0]), *(s for s in snapshots if s is not None)]


class Stacked:
    """The members of a vectorised seed group: one :class:`oneclass.vectorised.VectorisedDetector`."""

    lightning = True

    def __init__(self, model: Any) -> None:
        self.model = model
        self.model_name = model.model_name
        self.n_members = model.n_members

    def fit(self, x: np.ndarray, y: np.ndarray | None = None, trainer: L.Trainer | None = None,
            ckpt_path: str | None = None) -> None:
        self.model.fit(x, trainer=trainer, ckpt_path=ckpt_path)

    def score(self, x: np.ndarray) -> np.ndarray:
        return self.model.score(x)

    def alive(self, i: int) -> bool:
        return bool(self.model.alive[i])

    def failure(self, i: int) -> str | None:
        return self.model.failures.get(i)

    def fail_member(self, i: int, message: str) -> None:
        self.model.fail_member(i, message)

    def member(self, i: int) -> Any:
        return self.model.member(i)

    def save(self, i: int, directory: Path, trainer: L.Trainer | None) -> Path:
        return save_member_checkpoint(self.model.member(i), directory / "model.ckpt", trainer.current_epoch,
                                      trainer.global_step)

    def callbacks(self, trackers: list[Any], snapshots: list[ScoreSnapshots | None]) -> list[L.Callback]:
        callbacks: list[L.Callback] = [MemberEpochTracking(trackers)]
        if any(snapshots):
            callbacks.append(MemberSnapshots(snapshots))
        return callbacks


# --------------------------------------------------------------------------- strategies
class OneSeed:
    """A single-seed job: its one detector, whatever it is."""

    grouped = False

    def check(self, cfg: DictConfig, spec: RunSpec) -> None:
        pass

    def check_members(self, cfgs: list[DictConfig]) -> None:
        pass

    def built(self, detector: Any, where: str) -> None:
        pass

    def members(self, detectors: list[Any], seeds: list[int]) -> OneDetector:
        return OneDetector(detectors[0])


class Vectorised:
    """``vectorised.seeds``: the members trained as one batched network."""

    grouped = True

    def __init__(self) -> None:
        self.generators: list[Any] = []

    def check(self, cfg: DictConfig, spec: RunSpec) -> None:
        """One line, before any run is opened, when the job cannot be vectorised."""
        if spec.parent_run_id:  # a trial's objective is one run's val_* metric
            raise ConfigError("hydra/sweeper=optuna tunes single-seed jobs; remove vectorised.seeds from the search")
        # a bad _target_ is reported by build(), below
        if cfg.get("model") is not None and (reason := vectorised.config_reason(cfg.model)):
            raise ConfigError(f"model: {reason}; run its seeds as separate jobs (without hydra/sweeper=seed_batch)")

    def check_members(self, cfgs: list[DictConfig]) -> None:
        models = [OmegaConf.to_container(c.model, resolve=True) for c in cfgs]
        if any(m != models[0] for m in models):
            raise ConfigError("vectorised members must differ only in seed, but their model configs differ "
                              "(a model setting interpolates ${seed}?)")

    def built(self, detector: Any, where: str) -> None:
        vectorised.check_supported(detector, where)
        self.generators.append(vectorised.member_generator())  # drawn right after the member's build

    def members(self, detectors: list[Any], seeds: list[int]) -> Stacked:
        return Stacked(vectorised.stack(detectors, self.generators, seeds))


def strategy_for(spec: RunSpec) -> OneSeed | Vectorised:
    """How a job with this spec trains its members: one detector, or the vectorised stack."""
    return Vectorised() if spec.grouped else OneSeed()


# --------------------------------------------------------------------------- runs and callbacks
class OpenRun:
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
