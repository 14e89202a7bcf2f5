"""What a job shows and records while a detector trains: the per-epoch ``train_loss`` forwarded to
the tracker (:class:`EpochTracking`) and one progress bar over epochs on a terminal
(:class:`EpochProgress`)."""

from __future__ import annotations

import lightning.pytorch as L


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
