"""The scoring contract shared by every detector.

``fit(x, trainer=None) -> self``
    Train on background-only events ``x`` of shape ``(n, *input_shape)`` (``(n, d)`` for
    tabular data, ``(n, C, H, W)`` for images). Lightning detectors train with the given
    ``lightning.Trainer`` (built by the pipeline from ``conf/trainer``); scikit-learn adapters
    (:class:`oneclass.models.adapter.Adapter`) ignore it and flatten images to vectors.
``score(x) -> np.ndarray``
    Shape (n,), float64, finite; **higher = more anomalous**. No thresholds, no labels.

The supervised ceiling is not a one-class detector: it trains on labels and has its own small
contract, :class:`SupervisedDetector`, beside this one.

Every detector is built with ``input_shape`` (the pipeline passes the dataset's); ``n_features=d``
still works for flat data.

``degeneracy(x) -> str | None`` (optional)
    After fitting, the failure mode the detector fell into on the training rows ``x`` (a constant
    or near-constant code or score, dead code units, NaN), as a short reason such as
    ``constant_code``; None when healthy. :func:`degeneracy` applies it, or the score check for
    detectors without one (the scikit-learn adapters); the pipeline calls it once after fit.

Models never log, plot or read files. Lightning detectors report their mean training loss once
per epoch as ``train_loss`` (``self.log``); the pipeline forwards it to the tracker.

Size: over 400 lines because :class:`LightningDetector` is one class of ~320 (the one block
training loop, scoring in chunks, the training settings and their checkpointed hyperparameters);
the degeneracy checks live in :mod:`oneclass.models.degeneracy`, the adapters' base in
:mod:`oneclass.models.adapter`.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable, Sequence
from typing import Any, ClassVar, Protocol, runtime_checkable

import lightning.pytorch as L
import numpy as np
import torch

from oneclass.config import from_spec, require_positive, spec_of
from oneclass.errors import ConfigError, TrainingError, first_line
from oneclass.models.batches import TensorBatches
from oneclass.models.degeneracy import code_degeneracy, score_degeneracy
from oneclass.nets.base import shape_of

# Events per Lightning step when batches_per_step is not set: enough mini-batches that Lightning's
# per-step bookkeeping (~0.2 ms on a laptop CPU) is amortised, yet a step is still short.
EVENTS_PER_STEP = 4096


@runtime_checkable
class Detector(Protocol):
    """Anything with ``fit`` and ``score`` as described in this module's docstring."""

    def fit(self, x: np.ndarray, trainer: L.Trainer | None = None) -> "Detector": ...

    def score(self, x: np.ndarray) -> np.ndarray: ...


class SupervisedDetector:
    """Beside the one-class contract, not part of it: a classifier trained on **labelled** rows
    (the supervised ceiling, :class:`oneclass.models.supervised.Supervised`).

    ``fit(x, trainer=None, ckpt_path=None, *, y)`` trains on the rows ``x`` and their labels ``y``
    (n,) (1 = signal, 0 = background; the pipeline passes the dataset's ``y_train`` to exactly the
    detectors that subclass this base, and to no :class:`Detector`); ``score(x)`` is
    :class:`Detector`'s. One-class detectors never see a label.
    """

    def fit(self, x: np.ndarray, trainer: L.Trainer | None = None, ckpt_path: str | None = None, *,
            y: np.ndarray | None = None) -> "SupervisedDetector":  # pragma: no cover - abstract
        raise NotImplementedError


def input_shape_of(input_shape: Any = None, n_features: Any = None) -> tuple[int, ...]:
    """A detector's input shape from ``input_shape`` (e.g. ``(5,)``, ``(1, 28, 28)``) or, for flat
    data, ``n_features``; one line when neither or two different ones are given."""
    if input_shape is None and n_features is None:
        raise ConfigError("a detector needs input_shape (or n_features for flat data); the pipeline passes the dataset's")
    shape = shape_of(input_shape, "input_shape") if input_shape is not None else None
    if n_features is not None:
        d = require_positive(n_features, "n_features", integer=True)
        if shape is not None and shape != (d,):
            raise ConfigError(f"n_features={d} contradicts input_shape={shape}; give only input_shape")
        shape = (d,)
    return shape


def optimizer_class(optimizer: Any) -> Any:
    """The ``torch.optim.Optimizer`` subclass behind a config partial (``model.optimizer``)."""
    target = getattr(optimizer, "func", optimizer)
    if not (isinstance(target, type) and issubclass(target, torch.optim.Optimizer)):
        raise ConfigError(f"model.optimizer._target_ must be a torch.optim.Optimizer class with _partial_: true "
                          f"(e.g. torch.optim.Adam), got {getattr(target, '__name__', target)!r}")
    for key in ("foreach", "fused"):  # the implementation switches: torch takes any truthy value
        value = (getattr(optimizer, "keywords", None) or {}).get(key)
        if value is not None and not isinstance(value, bool):
            raise ConfigError(f"model.optimizer.{key} must be true, false or null, got {value!r}")
    return target


def milestones(values: Any, name: str = "model.lr_milestones") -> list[int]:
    """Sorted positive-integer epochs (learning-rate milestones)."""
    if isinstance(values, (str, int)):
        raise ConfigError(f"{name} must be a list of positive integers (epochs), got {values!r}")
    out = []
    for m in values or []:
        if isinstance(m, bool) or not isinstance(m, int) or m <= 0:
            raise ConfigError(f"{name} must be a list of positive integers (epochs), got {list(values)!r}")
        out.append(m)
    return sorted(out)


class LightningDetector(L.LightningModule):
    """Base for neural detectors trained by a Lightning ``Trainer`` on in-memory tensors.

    Subclasses implement :meth:`forward` (raw anomaly score per event, shape (n,)) and
    :meth:`training_loss` (scalar loss of a batch), and may override :meth:`on_fit_start` for
    set-up that needs the training data (e.g. a Deep SVDD centre).

    The training settings below are this base's alone: a subclass's ``__init__`` lists only its
    own parameters and passes ``**training`` on, so the optimiser (``model.optimizer``, from
    ``conf/model/optimizer/``) and scheduler (``model.scheduler``, ``conf/model/scheduler/``) are
    configured in one place for every Lightning detector. A subclass whose defaults differ (a lower
    lr, another batch size) says so in :attr:`training_defaults`; ``conf/model/<name>.yaml`` sets
    them all anyway.

    Parameters
    ----------
    input_shape : shape of one event or image (given by the pipeline from the dataset);
        ``n_features=d`` is the same as ``input_shape=(d,)``.
    lr : learning rate. weight_decay : the optimizer's weight decay (L2 on all parameters). None
        (or not given) = the class's :attr:`training_defaults`, else 1e-3 and 0.
    optimizer : a ``torch.optim.Optimizer`` class or config partial (``conf/model/optimizer/``),
        called with the parameters, ``lr`` and ``weight_decay``; None = Adam.
    scheduler : an epoch-interval ``torch.optim.lr_scheduler`` partial, called with the optimizer
        (``conf/model/scheduler/``); None = constant lr, or the ``lr_milestones`` shorthand.
    lr_milestones : epochs at which lr is multiplied by 0.1 (MultiStepLR, Ruff's schedule).
    batch_size : training batch size (one optimizer step per mini-batch); None = the class's
        default (:attr:`training_defaults`, else 256).
    batches_per_step : mini-batches per Lightning step; None = enough for ~4096 events. A
        performance setting only: results do not depend on it.
    """

    # Vectorised seed training (oneclass.vectorised) stacks the detector's nets and runs its own
    # forward / training_loss on them with a leading member axis. A detector whose training cannot
    # run that way (parameters outside its nets, state kept for one model, its own optimise_batch)
    # says why here; None = it can.
    cannot_vectorise: ClassVar[str | None] = None

    # A subclass's defaults of the training settings where they differ from these (e.g. {"lr": 1e-4,
    # "batch_size": 128}); the settings themselves are this base's parameters only.
    TRAINING_DEFAULTS: ClassVar[dict[str, Any]] = {"lr": 1e-3, "weight_decay": 0.0, "batch_size": 256}
    training_defaults: ClassVar[dict[str, Any]] = {}

    def __init__(
        self,
        input_shape: Any = None,
        *,
        lr: float | None = None,
        weight_decay: float | None = None,
        batch_size: int | None = None,
        batches_per_step: int | None = None,
        optimizer: Any = None,
        scheduler: Any = None,
        lr_milestones: Sequence[int] = (),
        n_features: int | None = None,
    ) -> None:
        super().__init__()
        defaults = {**self.TRAINING_DEFAULTS, **self.training_defaults}
        lr = defaults["lr"] if lr is None else lr
        weight_decay = defaults["weight_decay"] if weight_decay is None else weight_decay
        batch_size = defaults["batch_size"] if batch_size is None else batch_size
        # Manual optimization: one Lightning step runs a block of mini-batches (see training_step).
        self.automatic_optimization = False
        self.input_shape = input_shape_of(input_shape, n_features)
        self.lr = require_positive(lr, "model.lr")
        if isinstance(weight_decay, bool) or not (isinstance(weight_decay, (int, float)) and weight_decay >= 0):
            raise ConfigError(f"model.weight_decay must be a number >= 0, got {weight_decay!r}")
        self.weight_decay = float(weight_decay)
        self.batch_size = require_positive(batch_size, "model.batch_size", integer=True)
        if batches_per_step is None:
            batches_per_step = max(1, -(-EVENTS_PER_STEP // self.batch_size))
        self.batches_per_step = require_positive(batches_per_step, "model.batches_per_step", integer=True)
        optimizer, scheduler = from_spec(optimizer, "model.optimizer"), from_spec(scheduler, "model.scheduler")
        if optimizer is not None:
            optimizer_class(optimizer)
        self.optimizer_factory = torch.optim.Adam if optimizer is None else optimizer
        self.lr_milestones = milestones(lr_milestones)
        if scheduler is not None:
            if self.lr_milestones:
                raise ConfigError("give either model.lr_milestones or model.scheduler, not both")
            target = getattr(scheduler, "func", scheduler)
            if not (isinstance(target, type) and issubclass(target, torch.optim.lr_scheduler.LRScheduler)):
                raise ConfigError(f"model.scheduler._target_ must be a torch.optim.lr_scheduler class with _partial_: true "
                                  f"(e.g. torch.optim.lr_scheduler.MultiStepLR), got {getattr(target, '__name__', target)!r}")
        self.scheduler_factory = scheduler
        self._loss_sum: torch.Tensor | None = None
        self._loss_count = 0
        self._train_x: torch.Tensor | None = None
        self._train_batches: TensorBatches | None = None
        self._batch_norm: bool | None = None  # whether the module has BatchNorm layers (first training step)

    # Injected objects (net, optimizer and scheduler partials) are saved in the checkpoint's
    # hyperparameters as plain ``{"_target_": ..., **arguments}`` specs, so a checkpoint loads with
    # weights_only=True and ``load_from_checkpoint`` rebuilds the same network.
    INJECTED = ("net", "optimizer", "scheduler")

    def save_hyperparameters(self, *args: Any, **kwargs: Any) -> None:
        """Lightning's, with the injected objects stored as specs (the caller's frame is inspected)."""
        frame = kwargs.setdefault("frame", inspect.currentframe().f_back)
        kwargs.setdefault("ignore", list(self.INJECTED))
        super().save_hyperparameters(*args, **kwargs)
        # the caller's arguments, its ``**training`` (passed on to this base) included
        given = dict(frame.f_locals)
        var_keyword = inspect.getargvalues(frame).keywords
        if var_keyword and isinstance(given.get(var_keyword), dict):
            given.update(given[var_keyword])
        for key in self.INJECTED:
            if key in given:
                self.hparams[key] = spec_of(given[key])

    @property
    def n_features(self) -> int:
        """Input size of one event (the product of ``input_shape`` for images)."""
        return int(np.prod(self.input_shape))

    # what ``score`` returns, for figures (the OCDN: ``logit``)
    score_name = "score"

    @property
    def eval_chunk(self) -> int:
        """Events per forward pass when a whole set is evaluated (scoring, Deep SVDD's centre): :func:`score_chunk`."""
        return score_chunk(self.input_shape)

    def for_each_member(self, fn: Callable[["LightningDetector", torch.Tensor], None], x: torch.Tensor) -> None:
        """``fn(model, x)``: set-up written for one model (a data-dependent initialisation that may
        draw random numbers, e.g. Deep SVDD's ``dictionary_init``), run on this model. Stacked seed
        members (:class:`oneclass.vectorised.VectorisedDetector`) run it on each member, with its
        own random state and training data, as its single-seed job does."""
        fn(self, x)

    def event_chunks(self, x: torch.Tensor, size: int | None = None) -> tuple[torch.Tensor, ...]:
        """``x`` split into chunks of at most ``size`` (default ``eval_chunk``) events along its event
        axis: the first axis of ``(n, *input_shape)``, the second of stacked members' ``(members, n, ...)``."""
        return x.split(size or self.eval_chunk, dim=x.dim() - 1 - len(self.input_shape))

    # ------------------------------------------------------------------ to implement
    def forward(self, x: torch.Tensor) -> torch.Tensor:  # pragma: no cover - abstract
        """Anomaly score of each event, shape (n,), higher = more anomalous."""
        raise NotImplementedError

    def training_loss(self, x: torch.Tensor) -> torch.Tensor:  # pragma: no cover - abstract
        """Scalar loss of one training batch."""
        raise NotImplementedError

    # ------------------------------------------------------------------ contract
    def fit(self, x: np.ndarray, trainer: L.Trainer | None = None, ckpt_path: str | None = None) -> "LightningDetector":
        """Train on ``x`` (n, d) with ``trainer``; the data are moved to the trainer's device once."""
        if trainer is None:
            raise ConfigError(f"{type(self).__name__} is a Lightning model and needs a trainer (conf/trainer)")
        x = np.asarray(x)
        self.check_training_input(x)
        return self._train_on(x, trainer, ckpt_path)

    def _train_on(self, x: np.ndarray, trainer: L.Trainer, ckpt_path: str | None) -> "LightningDetector":
        """Train on the rows of ``x`` (moved to the trainer's device once), in :meth:`training_batches`."""
        device = trainer.strategy.root_device
        self._train_x = torch.as_tensor(x, dtype=torch.float32, device=device)
        batches = self.training_batches(self._train_x)
        # subclasses may train on a subset from the next epoch on by setting ``self._train_batches.x`` (DUAD)
        self._train_batches = batches
        try:
            # a resumed checkpoint is loaded safely: tensors and plain containers only
            trainer.fit(self, train_dataloaders=batches, ckpt_path=ckpt_path, weights_only=True if ckpt_path else None)
        finally:
            self._train_x = None
            self._train_batches = None
        return self

    def check_training_input(self, x: np.ndarray) -> None:
        """One line when ``x`` is not ``(n, *input_shape)``."""
        check_input(type(self).__name__, x, self.input_shape)

    def training_batches(self, x: torch.Tensor) -> TensorBatches:
        """The training iterable over ``x`` (on the device): blocks of ``batches_per_step`` shuffled mini-batches."""
        return TensorBatches(x, batch_size=self.batch_size * self.batches_per_step, shuffle=True)

    @torch.no_grad()
    def score(self, x: np.ndarray, batch_size: int | None = None) -> np.ndarray:
        """Scores of ``x`` (n, d) as float64, computed in eval mode in chunks of ``batch_size``
        (default :func:`score_chunk`: fewer events per chunk for larger inputs)."""
        batch_size = batch_size or score_chunk(self.input_shape)
        was_training = self.training
        self.eval()
        try:
            xt = torch.as_tensor(np.asarray(x), dtype=torch.float32, device=self.device)
            out = [self(xt[i : i + batch_size]).double().reshape(-1) for i in range(0, len(xt), batch_size)]
        finally:
            self.train(was_training)
        return torch.cat(out).cpu().numpy() if out else np.zeros(0)

    # ------------------------------------------------------------------ degeneracy
    def codes(self, x: torch.Tensor) -> torch.Tensor | None:
        """The learned representation of ``x`` (an autoencoder's bottleneck, Deep SVDD's output), or
        None for detectors without one; read by :meth:`degeneracy`."""
        return None

    @torch.no_grad()
    def degeneracy(self, x: np.ndarray) -> str | None:
        """After fit: ``nan_code`` / ``constant_code`` / ``dead_code_units=k/n`` of :meth:`codes`, else
        ``nan_score`` / ``constant_score`` of the training rows' scores; None when healthy."""
        was_training = self.training
        self.eval()
        try:
            xt = torch.as_tensor(np.asarray(x), dtype=torch.float32, device=self.device)
            parts = [c for chunk in self.event_chunks(xt) if (c := self.codes(chunk)) is not None]
        finally:
            self.train(was_training)
        if parts:
            found = code_degeneracy(torch.cat(parts).double().cpu().numpy())
            if found:
                return found
        return score_degeneracy(self.score(x))

    # ------------------------------------------------------------------ Lightning hooks
    # the optimizer implementations asked for, in order, where the config chooses none (foreach / fused)
    optimizer_implementations: tuple[dict[str, Any], ...] = ({"foreach": True},)

    def make_optimizer(self, params: Any, lr: float | None = None, weight_decay: float | None = None) -> torch.optim.Optimizer:
        """The configured optimizer (``model.optimizer``) over ``params``.

        Where the config chooses no implementation (``foreach`` / ``fused`` in ``model.optimizer``)
        and the optimizer takes one, the first of :attr:`optimizer_implementations` torch builds:
        for a single network ``foreach=True``, torch's multi-tensor update, which on a CPU (where
        torch's default loops over the parameter tensors in Python) is the same update bit for bit
        in one call per operation: the paper_fc Deep SVDD's step at batch 50 went from 3.0 to 2.0 ms.
        """
        lr = self.lr if lr is None else lr
        weight_decay = self.weight_decay if weight_decay is None else weight_decay
        factory = self.optimizer_factory
        target = getattr(factory, "func", factory)
        params = list(params)
        if not {"foreach", "fused"} & set(getattr(factory, "keywords", None) or {}):
            try:
                accepted = inspect.signature(target).parameters
            except (TypeError, ValueError):
                accepted = {}
            for implementation in self.optimizer_implementations:
                if set(implementation) <= set(accepted):
                    try:
                        return factory(params, lr=lr, weight_decay=weight_decay, **implementation)
                    except (RuntimeError, TypeError, ValueError):  # no such kernel for this device or dtype
                        continue
        try:
            return factory(params, lr=lr, weight_decay=weight_decay)
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"model.optimizer: cannot build {target.__name__}: {first_line(exc)}") from None

    def make_scheduler(self, optimizer: torch.optim.Optimizer, lr_milestones: Sequence[int] = ()) -> Any:
        """The configured epoch-interval scheduler, the MultiStepLR(0.1) of ``lr_milestones``, or None."""
        if self.scheduler_factory is not None:
            try:
                return self.scheduler_factory(optimizer)
            except (TypeError, ValueError) as exc:
                raise ConfigError(f"model.scheduler: {first_line(exc)}") from None
        if lr_milestones:
            return torch.optim.lr_scheduler.MultiStepLR(optimizer, milestones=list(lr_milestones), gamma=0.1)
        return None

    def configure_optimizers(self):
        opt = self.make_optimizer(self.parameters())
        sched = self.make_scheduler(opt, self.lr_milestones)
        if sched is None:
            return opt
        # Stepped at each epoch end (on_train_epoch_end): epoch e runs at the schedule's lr of epoch e.
        return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "epoch"}}

    # the event axis of a training block: 0 for one model's (n, ...); stacked seed members'
    # blocks are (members, n, ...) (oneclass.vectorised.VectorisedDetector)
    block_event_axis: ClassVar[int] = 0

    def training_step(self, block: torch.Tensor, block_idx: int) -> None:
        """Run the optimizer over the consecutive mini-batches of ``block``: the one block loop of
        every Lightning detector (stacked seed members and ALAD's two-player step included, which
        differ only in :meth:`optimise_batch`).

        Lightning's per-step bookkeeping (hooks, profiler contexts, progress counters) costs
        about as much as a small model's whole step at batch 32, so one Lightning step takes
        ``batches_per_step`` mini-batches. The batches, their order and the optimizer steps are
        exactly those of a plain loop; the optimizer is Lightning's wrapper and the backward is
        ``manual_backward``, so precision plugins, callbacks' backward/optimizer hooks and
        ``global_step`` (one per optimizer step) behave as usual.
        """
        optimizers = self.optimizers()
        max_steps = self.trainer.max_steps
        axis = self.block_event_axis
        total = None
        count = 0
        if self._batch_norm is None:
            self._batch_norm = has_batch_norm(self)
        for batch in block.split(self.batch_size, dim=axis):
            rows = batch.shape[axis]
            if rows == 1 and self._batch_norm:
                # BatchNorm cannot normalise a single row in training mode: the epoch's last batch of
                # one row (n = k * batch_size + 1) is skipped, as DataLoader(drop_last=True) would
                continue
            part = self.optimise_batch(batch, optimizers) * rows
            total = part if total is None else total + part
            count += rows
            if 0 < max_steps <= self.global_step:
                break
        if total is not None:
            self._loss_sum = total if self._loss_sum is None else self._loss_sum + total
            self._loss_count += count

    def optimise_batch(self, batch: torch.Tensor, optimizers: Any) -> torch.Tensor:
        """The optimizer step of one mini-batch (``optimizers``: :meth:`optimizers`, Lightning's
        wrappers); returns the batch's detached loss, which the epoch's mean loss averages."""
        loss = self.training_loss(batch)
        optimizers.zero_grad()
        self.manual_backward(loss)
        optimizers.step()
        return loss.detach()

    def on_train_epoch_start(self) -> None:
        self._loss_sum, self._loss_count = None, 0

    def epoch_loss(self) -> float | None:
        """Mean training loss over the current epoch's batches so far (the whole epoch at its end).

        Callbacks read this: Lightning runs callbacks' ``on_train_epoch_end`` before the module's,
        so ``trainer.callback_metrics`` still holds the previous epoch's value there.
        """
        if self._loss_sum is None:
            return None
        return (self._loss_sum / self._loss_count).item()

    def on_train_epoch_end(self) -> None:
        mean = self.epoch_loss()
        if mean is None:
            return
        if not math.isfinite(mean):
            raise TrainingError(
                f"{type(self).__name__}: training loss is {mean} in epoch {self.current_epoch}; "
                "the model diverged (lower model.lr?)"
            )
        self.log("train_loss", mean, on_step=False, on_epoch=True, prog_bar=False, logger=False)
        # manual optimization: epoch-interval LR schedulers are stepped here
        schedulers = self.lr_schedulers()
        for scheduler in schedulers if isinstance(schedulers, list) else [schedulers] if schedulers else []:
            scheduler.step()

    def transfer_batch_to_device(self, batch: Any, device: torch.device, dataloader_idx: int) -> Any:
        # Batches are slices of a tensor already on the device: skip Lightning's generic mover.
        if isinstance(batch, torch.Tensor) and batch.device == device:
            return batch
        return super().transfer_batch_to_device(batch, device, dataloader_idx)

    @property
    def train_data(self) -> torch.Tensor:
        """The full training tensor (on the training device) during ``fit``, for subclasses' set-up."""
        if self._train_x is None:
            raise RuntimeError("train_data is only available during fit()")
        return self._train_x


def has_batch_norm(module: torch.nn.Module) -> bool:
    """Whether ``module`` has BatchNorm layers (which cannot train on a batch of one row), stacked
    members' ones included (:class:`oneclass.vectorised.StackedBatchNorm`)."""
    return any(isinstance(m, torch.nn.modules.batchnorm._BatchNorm) or getattr(m, "batch_norm", False)
               for m in module.modules())


def score_chunk(input_shape: Sequence[int], values: int = 1 << 22, most: int = 8192) -> int:
    """Events per chunk when a whole array is pushed through a network without gradients: about
    ``values`` input values (4M: 5,300 MNIST or 1,400 CIFAR-10 images, whose first convolutions'
    outputs then take ~150 MB), at most ``most`` events: a 512-wide layer's activations of 8,192
    events (16 MB) stay in cache between the matmul, BatchNorm and activation, where 65,536 made
    the paper_fc Deep SVDD's scoring 2x slower."""
    return max(1, min(most, values // max(1, int(np.prod(input_shape)))))


def check_input(model: str, x: np.ndarray, input_shape: tuple[int, ...]) -> None:
    """One line when ``x`` is not ``(n, *input_shape)``, naming flat-vs-image mix-ups."""
    if tuple(x.shape[1:]) == tuple(input_shape) and x.ndim >= 2:
        return
    kind = "images" if x.ndim > 2 else "flat events"
    raise ConfigError(f"{model} was built for inputs of shape (n, {', '.join(map(str, input_shape))}) "
                      f"but got {kind} of shape {x.shape}")


def flatten_input(model: str, x: Any, input_shape: tuple[int, ...]) -> np.ndarray:
    """``x`` of shape ``(n, *input_shape)`` as a float64 ``(n, prod(input_shape))`` array: scikit-learn
    style adapters take images by flattening them."""
    x = np.asarray(x, dtype=np.float64)
    check_input(model, x, input_shape)
    return x.reshape(len(x), -1)


__all__ = ["Detector", "LightningDetector", "SupervisedDetector", "check_input", "flatten_input", "from_spec", "has_batch_norm", "input_shape_of",
           "optimizer_class", "score_chunk", "spec_of"]
