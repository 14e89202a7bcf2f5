"""Autoencoder pretraining of an injected network, shared by Deep SVDD and OC-NN.

The net is trained as the encoder of the autoencoder ``net.decoder()(net(x))`` (the net's mirror,
see :mod:`oneclass.nets.base`) with the reference's reconstruction loss (Ruff et al.'s
``ae_trainer.py``): the squared error summed over each event's features or pixels, averaged over
the mini-batch (:func:`sse_loss`). Its scale matters: the optimizer's weight decay (e.g. 0.5e-3 in
Ruff's MNIST pretraining) is weighed against it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from oneclass.errors import TrainingError
from oneclass.models.base import has_batch_norm
from oneclass.training import TensorBatches


def sse_loss(x_hat: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Mean over events of the squared reconstruction error summed over each event's values."""
    return (x_hat - x).pow(2).flatten(1).sum(dim=1).mean()


def pretrain_autoencoder(
    net: nn.Module,
    x: torch.Tensor,
    *,
    epochs: int,
    batch_size: int,
    make_optimizer: Callable[[list[nn.Parameter]], torch.optim.Optimizer],
    make_scheduler: Callable[[torch.optim.Optimizer], Any] | None = None,
    model: str = "model",
) -> list[float]:
    """Train ``net`` with its mirrored decoder on ``x`` (already on the training device) for
    ``epochs`` over reshuffled tensor batches; returns the mean loss per epoch.

    A plain loop: a Lightning Trainer cannot be re-entered from inside its own ``fit``, where
    models call this (``on_fit_start``), and the loop runs on the data's device with the run's
    seeded generator. The decoder is discarded afterwards.
    """
    decoder = net.decoder().to(x.device)
    opt = make_optimizer(list(net.parameters()) + list(decoder.parameters()))
    sched = make_scheduler(opt) if make_scheduler is not None else None
    net.train()
    decoder.train()
    losses = []
    batch_norm = has_batch_norm(net) or has_batch_norm(decoder)
    for epoch in range(epochs):
        total, count = torch.zeros((), device=x.device), 0
        for batch in TensorBatches(x, batch_size, shuffle=True):
            if len(batch) == 1 and batch_norm:  # BatchNorm cannot train on one row (see LightningDetector)
                continue
            loss = sse_loss(decoder(net(batch)), batch)
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += loss.detach() * len(batch)
            count += len(batch)
        mean = (total / max(count, 1)).item()
        if not torch.isfinite(torch.tensor(mean)):
            raise TrainingError(f"{model} pretraining loss is {mean} in epoch {epoch}; lower model.pretrain_lr")
        losses.append(mean)
        if sched is not None:
            sched.step()
    return losses
