"""Training-data plumbing: batches are slices of one in-memory tensor.

A ``DataLoader`` over a ``TensorDataset`` calls ``__getitem__`` per event and collates; here a
batch is one indexing operation on a tensor that already lives on the training device.
"""

from __future__ import annotations

from collections.abc import Iterator

import lightning.pytorch as L
import torch


class TensorBatches:
    """Iterable of mini-batches of ``x`` (n, d), reshuffled by a fresh permutation each epoch.

    The permutation is drawn from torch's global generator, so it follows the run's seed. The
    last batch may be smaller (as in Keras and PyTorch's ``drop_last=False``).
    """

    def __init__(self, x: torch.Tensor, batch_size: int, shuffle: bool = True) -> None:
        self.x = x
        self.batch_size = int(batch_size)
        self.shuffle = shuffle

    def __len__(self) -> int:
        return (len(self.x) + self.batch_size - 1) // self.batch_size

    def __iter__(self) -> Iterator[torch.Tensor]:
        # A generator: the permutation is drawn at the first batch, not when ``iter()`` is called,
        # so a framework that only probes the iterable does not consume random numbers.
        x = self.x
        if self.shuffle:
            x = x[torch.randperm(len(x)).to(x.device)]
        # contiguous slices (views) of the shuffled copy: no per-batch gather
        yield from x.split(self.batch_size)


# --------------------------------------------------------------------------- callbacks


def epoch_loss(trainer: L.Trainer, pl_module: L.LightningModule) -> float | None:
    """This epoch's mean training loss, at ``on_train_epoch_end`` of a callback."""
    if hasattr(pl_module, "epoch_loss"):
        return pl_module.epoch_loss()
    value = trainer.callback_metrics.get("train_loss")
    return None if value is None else float(value)


class EpochTracking(L.Callback):
    """Forwards the model's per-epoch ``train_loss`` to the tracker (one write per epoch)."""

    def __init__(self, tracker) -> None:
        self.tracker = tracker

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        loss = epoch_loss(trainer, pl_module)
        if loss is not None:
            self.tracker.log_metrics({"train_loss": loss}, step=trainer.current_epoch)


class EpochProgress(L.Callback):
    """One progress bar over epochs (updated once per epoch: no per-step cost), on a terminal only:
    redirected to a file, tqdm's ``\r`` frames would fill the log."""

    def __init__(self, desc: str = "training") -> None:
        self.desc = desc
        self.bar = None

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        import sys

        from tqdm.auto import tqdm

        if not (hasattr(sys.stderr, "isatty") and sys.stderr.isatty()):
            return
        self.bar = tqdm(total=trainer.max_epochs, desc=self.desc, unit="epoch", dynamic_ncols=True,
                        initial=trainer.current_epoch)

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if self.bar is not None:
            loss = epoch_loss(trainer, pl_module)
            if loss is not None:
                self.bar.set_postfix(train_loss=f"{loss:.4g}", refresh=False)
            self.bar.update(1)

    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None

    on_exception = lambda self, trainer, pl_module, exc: self.on_train_end(trainer, pl_module)  # noqa: E731
