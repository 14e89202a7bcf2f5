"""The scoring contract shared by every detector.

``fit(x, trainer=None) -> self``
    Train on background-only events ``x`` of shape (n, d). Lightning detectors train with the
    given ``lightning.Trainer`` (built by the pipeline from ``conf/trainer``); scikit-learn
    adapters ignore it.
``score(x) -> np.ndarray``
    Shape (n,), float64, finite; **higher = more anomalous**. No thresholds, no labels.

Models never log, plot or read files. Lightning detectors report their mean training loss once
per epoch as ``train_loss`` (``self.log``); the pipeline forwards it to the tracker.
"""

from __future__ import annotations

import math
from typing import Any, Protocol, runtime_checkable

import lightning.pytorch as L
import numpy as np
import torch

from oneclass.config import require_int, require_positive
from oneclass.errors import ConfigError, TrainingError
from oneclass.training import TensorBatches

# Events per Lightning step when batches_per_step is not set: enough mini-batches that Lightning's
# per-step bookkeeping (~0.2 ms on a laptop CPU) is amortised, yet a step is still short.
EVENTS_PER_STEP = 4096


@runtime_checkable
class Detector(Protocol):
    """Anything with ``fit`` and ``score`` as described in this module's docstring."""

    def fit(self, x: np.ndarray, trainer: L.Trainer | None = None) -> "Detector": ...

    def score(self, x: np.ndarray) -> np.ndarray: ...


class LightningDetector(L.LightningModule):
    """Base for neural detectors trained by a Lightning ``Trainer`` on in-memory tensors.

    Subclasses implement :meth:`forward` (raw anomaly score per event, shape (n,)) and
    :meth:`training_loss` (scalar loss of a batch), and may override :meth:`on_fit_start` for
    set-up that needs the training data (e.g. a Deep SVDD centre).

    Parameters
    ----------
    n_features : input dimension (given by the pipeline from the dataset).
    lr : Adam learning rate.
    weight_decay : Adam weight decay (L2 on all parameters).
    batch_size : training batch size (one optimizer step per mini-batch).
    batches_per_step : mini-batches per Lightning step; None = enough for ~4096 events. A
        performance setting only: results do not depend on it.
    """

    def __init__(
        self,
        n_features: int,
        lr: float = 1e-3,
        weight_decay: float = 0.0,
        batch_size: int = 256,
        batches_per_step: int | None = None,
    ) -> None:
        super().__init__()
        # Manual optimization: one Lightning step runs a block of mini-batches (see training_step).
        self.automatic_optimization = False
        self.n_features = require_positive(n_features, "n_features", integer=True)
        self.lr = require_positive(lr, "model.lr")
        if not (isinstance(weight_decay, (int, float)) and weight_decay >= 0):
            raise ConfigError(f"model.weight_decay must be a number >= 0, got {weight_decay!r}")
        self.weight_decay = float(weight_decay)
        self.batch_size = require_positive(batch_size, "model.batch_size", integer=True)
        if batches_per_step is None:
            batches_per_step = max(1, -(-EVENTS_PER_STEP // self.batch_size))
        self.batches_per_step = require_positive(batches_per_step, "model.batches_per_step", integer=True)
        self._loss_sum: torch.Tensor | None = None
        self._loss_count = 0
        self._train_x: torch.Tensor | None = None

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
        if x.ndim != 2 or x.shape[1] != self.n_features:
            raise ConfigError(f"{type(self).__name__} expects (n, {self.n_features}) inputs, got {x.shape}")
        device = trainer.strategy.root_device
        self._train_x = torch.as_tensor(x, dtype=torch.float32, device=device)
        batches = TensorBatches(self._train_x, batch_size=self.batch_size * self.batches_per_step, shuffle=True)
        try:
            # a resumed checkpoint is loaded safely: tensors and plain containers only
            trainer.fit(self, train_dataloaders=batches, ckpt_path=ckpt_path, weights_only=True if ckpt_path else None)
        finally:
            self._train_x = None
        return self

    @torch.no_grad()
    def score(self, x: np.ndarray, batch_size: int = 65536) -> np.ndarray:
        """Scores of ``x`` (n, d) as float64, computed in eval mode in chunks of ``batch_size``."""
        was_training = self.training
        self.eval()
        try:
            xt = torch.as_tensor(np.asarray(x), dtype=torch.float32, device=self.device)
            out = [self(xt[i : i + batch_size]).double().reshape(-1) for i in range(0, len(xt), batch_size)]
        finally:
            self.train(was_training)
        return torch.cat(out).cpu().numpy() if out else np.zeros(0)

    # ------------------------------------------------------------------ Lightning hooks
    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.Adam(self.parameters(), lr=self.lr, weight_decay=self.weight_decay)

    def training_step(self, block: torch.Tensor, block_idx: int) -> None:
        """Run the optimizer over the consecutive mini-batches of ``block``.

        Lightning's per-step bookkeeping (hooks, profiler contexts, progress counters) costs
        about as much as a small model's whole step at batch 32, so one Lightning step takes
        ``batches_per_step`` mini-batches. The batches, their order and the optimizer steps are
        exactly those of a plain loop; the optimizer is Lightning's wrapper and the backward is
        ``manual_backward``, so precision plugins, callbacks' backward/optimizer hooks and
        ``global_step`` (one per optimizer step) behave as usual.
        """
        opt = self.optimizers()
        max_steps = self.trainer.max_steps
        total = None
        count = 0
        for batch in block.split(self.batch_size):
            loss = self.training_loss(batch)
            opt.zero_grad()
            self.manual_backward(loss)
            opt.step()
            part = loss.detach() * batch.shape[0]
            total = part if total is None else total + part
            count += batch.shape[0]
            if 0 < max_steps <= self.global_step:
                break
        if total is not None:
            self._loss_sum = total if self._loss_sum is None else self._loss_sum + total
            self._loss_count += count

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


def require_fraction(value: Any, name: str, low_open: bool = True) -> float:
    """A number in (0, 1] (or [0, 1] with ``low_open=False``), else a ConfigError."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigError(f"{name} must be a number in (0, 1], got {value!r}")
    ok = (0 < value <= 1) if low_open else (0 <= value <= 1)
    if not ok:
        raise ConfigError(f"{name} must be in {'(0, 1]' if low_open else '[0, 1]'}, got {value!r}")
    return float(value)


__all__ = ["Detector", "LightningDetector", "require_fraction", "require_int"]
