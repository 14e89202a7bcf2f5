"""Autoencoder pretraining of an injected network, shared by Deep SVDD and OC-NN.

The net is trained as the encoder of the autoencoder ``net.decoder()(net(x))`` (the net's mirror,
see :mod:`oneclass.nets.base`) with the reference's reconstruction loss (Ruff et al.'s
``ae_trainer.py``): the squared error summed over each event's features or pixels, averaged over
the mini-batch (:func:`sse_loss`). Its scale matters: the optimizer's weight decay (e.g. 0.5e-3 in
Ruff's MNIST pretraining) is weighed against it.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from typing import Any

import torch
from torch import nn

from oneclass.config import require_int, require_positive
from oneclass.errors import ConfigError, TrainingError
from oneclass.models.base import LightningDetector, has_batch_norm, milestones
from oneclass.models.batches import TensorBatches


def sse_loss(x_hat: torch.Tensor, x: torch.Tensor, event_dims: int | None = None) -> torch.Tensor:
    """Mean over events of the squared reconstruction error summed over each event's values.

    The sums run over the trailing ``event_dims`` axes (default: all but the first) and the mean over
    the axis before them, so stacked members' batches ``(members, B, *input_shape)`` give one loss per
    member (:mod:`oneclass.vectorised`)."""
    event_dims = x.dim() - 1 if event_dims is None else event_dims
    return (x_hat - x).pow(2).flatten(-event_dims).sum(dim=-1).mean(dim=-1)


class PretrainHooks:
    """What :func:`pretrain_autoencoder` asks of the model being pretrained: here one network;
    :class:`oneclass.vectorised.MemberPretraining` overrides them for stacked members (one decoder,
    batch order, loss and failure per member).

    ``event_dims``: the number of axes of one event (``len(input_shape)``)."""

    def __init__(self, event_dims: int, model: str = "model") -> None:
        self.event_dims, self.model = int(event_dims), model

    def decoder(self, net: nn.Module) -> nn.Module:
        """The decoder trained with ``net`` (its mirror)."""
        return net.decoder()

    def batches(self, x: torch.Tensor, batch_size: int) -> Iterable[torch.Tensor]:
        """One epoch's shuffled mini-batches of ``x``, from the run's seeded generator."""
        return TensorBatches(x, batch_size, shuffle=True)

    def objective(self, loss: torch.Tensor) -> torch.Tensor:
        """The scalar that is differentiated, from the batch's loss."""
        return loss

    def check(self, mean: torch.Tensor, epoch: int) -> None:
        """One line when the epoch's mean loss is not finite."""
        value = mean.item()
        if not math.isfinite(value):
            raise TrainingError(f"{self.model} pretraining loss is {value} in epoch {epoch}; lower model.pretrain_lr")


def pretrain_autoencoder(
    net: nn.Module,
    x: torch.Tensor,
    *,
    epochs: int,
    batch_size: int,
    make_optimizer: Callable[[list[nn.Parameter]], torch.optim.Optimizer],
    make_scheduler: Callable[[torch.optim.Optimizer], Any] | None = None,
    model: str = "model",
    hooks: PretrainHooks | None = None,
) -> list[Any]:
    """Train ``net`` with its mirrored decoder on ``x`` (already on the training device) for
    ``epochs`` over reshuffled tensor batches; returns the mean loss per epoch (a float, or one
    per member with stacked members' ``hooks``).

    A plain loop: a Lightning Trainer cannot be re-entered from inside its own ``fit``, where
    models call this (``on_fit_start``), and the loop runs on the data's device with the run's
    seeded generator. The decoder is discarded afterwards.
    """
    hooks = hooks or PretrainHooks(x.dim() - 1, model)
    event_axis = -1 - hooks.event_dims
    decoder = hooks.decoder(net).to(x.device)
    opt = make_optimizer(list(net.parameters()) + list(decoder.parameters()))
    sched = make_scheduler(opt) if make_scheduler is not None else None
    net.train()
    decoder.train()
    losses = []
    batch_norm = has_batch_norm(net) or has_batch_norm(decoder)
    for epoch in range(epochs):
        total, count = None, 0
        for batch in hooks.batches(x, batch_size):
            rows = batch.shape[event_axis]
            if rows == 1 and batch_norm:  # BatchNorm cannot train on one row (see LightningDetector)
                continue
            loss = sse_loss(decoder(net(batch)), batch, hooks.event_dims)
            opt.zero_grad()
            hooks.objective(loss).backward()
            opt.step()
            part = loss.detach() * rows
            total = part if total is None else total + part
            count += rows
        mean = (total if total is not None else torch.zeros((), device=x.device)) / max(count, 1)
        hooks.check(mean, epoch)
        losses.append(mean.tolist())
        if sched is not None:
            sched.step()
    return losses


def pretrain_settings(detector: LightningDetector, epochs: Any, lr: Any, weight_decay: Any, lr_milestones: Any) -> None:
    """Check and set a detector's pretraining settings (``model.pretrain_epochs``, ``pretrain_lr``,
    ``pretrain_weight_decay``, ``pretrain_lr_milestones``) as ``detector.pretrain_*``: the same
    configured optimizer (``model.optimizer``) as the main training, at these; lr / weight decay
    None = the main training's."""
    detector.pretrain_epochs = require_int(epochs, "model.pretrain_epochs")
    if detector.pretrain_epochs < 0:
        raise ConfigError(f"model.pretrain_epochs must be >= 0, got {epochs!r}")
    detector.pretrain_lr = detector.lr if lr is None else require_positive(lr, "model.pretrain_lr")
    detector.pretrain_weight_decay = detector.weight_decay if weight_decay is None else float(weight_decay)
    if detector.pretrain_weight_decay < 0:
        raise ConfigError(f"model.pretrain_weight_decay must be >= 0, got {weight_decay!r}")
    detector.pretrain_lr_milestones = milestones(lr_milestones, "model.pretrain_lr_milestones")


def pretrain_net(detector: LightningDetector, net: nn.Module, x: torch.Tensor, *, model: str,
                 hooks: PretrainHooks | None = None) -> list[Any]:
    """:func:`pretrain_autoencoder` of ``net`` with the detector's :func:`pretrain_settings`: its
    configured optimizer at ``pretrain_lr`` / ``pretrain_weight_decay``, the scheduler (or the
    MultiStepLR shorthand) when ``pretrain_lr_milestones`` are set, and its batch size."""
    steps = detector.pretrain_lr_milestones
    return pretrain_autoencoder(
        net, x, epochs=detector.pretrain_epochs, batch_size=detector.batch_size, model=model,
        make_optimizer=lambda params: detector.make_optimizer(params, lr=detector.pretrain_lr,
                                                              weight_decay=detector.pretrain_weight_decay),
        make_scheduler=(lambda opt: detector.make_scheduler(opt, steps)) if steps else None,
        hooks=hooks)
