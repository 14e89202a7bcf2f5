"""DROCC: Deep Robust One-Class Classification (Goyal et al., ICML 2020).

A binary classifier f (one logit, ``model.net``) learns "normal" on the training events and
"not normal" on negatives it generates itself. DROCC assumes normal data lie near a low-dimensional
set, so a point at distance between r and gamma * r from a normal event is anomalous. For each
batch (after ``only_ce_epochs`` of plain cross-entropy warm-up) the negatives are found by

1. h = N(0, init_std^2 I) noise around each training event x (x + h);
2. ``ascent_steps`` steps of normalised gradient ascent (step ``ascent_step_size``) on the loss
   of calling x + h "not normal": they move h towards where f still says normal, the hardest
   negatives of the shell;
3. every ``project_every`` steps and after the last one, h is rescaled onto the shell
   r <= |h| <= gamma * r (its direction kept, its norm clipped to the interval).

The loss is BCE(f(x), normal) + lambda * BCE(f(x + h), not normal) (paper Eq. 3; the search runs
without gradients into f). The score is the anomaly logit -f(x) (higher = more anomalous).

Defaults: the NRCAN README's (radius 3, gamma 2, lambda 1) and the official code's (a ReLU
d -> 128 -> 1 classifier, 50 ascent steps of 0.001 with a projection every 10, noise std 1, 50
warm-up epochs, Adam at lr 1e-3, the learning rate x0.1 after 30 %, 60 % and 90 % of the epochs
after the warm-up). The official per-set rows (arrhythmia: radius 16, lr 1e-4; thyroid: radius
2.5, 100 epochs) are in benchmarks/bench_tabular.py.
"""

from __future__ import annotations

from functools import partial
from typing import Any

import torch
import torch.nn.functional as F

from oneclass import nets
from oneclass.config import require_int, require_number, require_positive
from oneclass.errors import ConfigError
from oneclass.models.base import LightningDetector

LR_SCHEDULES = ("drocc", "constant")


def drocc_lr_factor(epoch: int, only_ce_epochs: int, total_epochs: int) -> float:
    """The official code's step schedule: lr x1 through the warm-up and the first 30 % of the
    adversarial epochs, then x0.1 up to 60 %, x0.01 up to 90 %, x0.001 after."""
    adversarial = max(1, total_epochs - only_ce_epochs)
    progress = epoch - only_ce_epochs
    for fraction, factor in ((0.3, 1.0), (0.6, 0.1), (0.9, 0.01)):
        if progress <= fraction * adversarial:
            return factor
    return 0.001


def project_to_shell(x: torch.Tensor, points: torch.Tensor, radius: float, gamma: float) -> torch.Tensor:
    """``points`` moved along x -> points so that r <= |points - x| <= gamma * r (per row)."""
    h = points - x
    norm = h.flatten(1).norm(dim=1).clamp_min(1e-12)
    scale = norm.clamp(radius, gamma * radius) / norm
    return x + scale.view(-1, *[1] * (h.dim() - 1)) * h


class DROCC(LightningDetector):
    """DROCC classifier; ``forward`` is the anomaly logit -f(x).

    Parameters
    ----------
    net : the classifier (``conf/model/net/``) with rep_dim 1 (its output is the "normal" logit).
        None = :class:`oneclass.nets.MLP` d -> 128 -> 1 with ReLU (the official tabular network).
    radius : r, the inner radius of the shell of negatives (> 0).
    gamma : the shell's outer radius is gamma * r (> 1).
    lamb : lambda, weight of the negatives' loss (>= 0).
    ascent_steps : gradient-ascent steps of the search (>= 1). ascent_step_size : their length.
    project_every : project onto the shell after every this many steps (and after the last).
    init_std : standard deviation of the initial noise around each event.
    only_ce_epochs : warm-up epochs trained on the normal events' cross-entropy alone; must be
        fewer than the trainer's max_epochs (checked when fit starts).
    lr_schedule : ``drocc`` (the official step schedule, unless ``scheduler``/``lr_milestones``
        are given) or ``constant``.
    Other parameters: :class:`~oneclass.models.base.LightningDetector`.
    """

    cannot_vectorise = "its adversarial search for negative points runs for one model"  # oneclass.vectorised

    score_name = "anomaly logit"

    def __init__(
        self,
        input_shape: Any = None,
        net: Any = None,
        radius: float = 3.0,
        gamma: float = 2.0,
        lamb: float = 1.0,
        ascent_steps: int = 50,
        ascent_step_size: float = 0.001,
        project_every: int = 10,
        init_std: float = 1.0,
        only_ce_epochs: int = 50,
        lr_schedule: str = "drocc",
        **training: Any,
    ) -> None:
        super().__init__(input_shape=input_shape, **training)
        self.radius = require_positive(radius, "model.radius")
        self.gamma = require_number(gamma, "model.gamma")
        if not self.gamma > 1:
            raise ConfigError(f"model.gamma must be > 1 (negatives lie between radius and gamma * radius), got {gamma!r}")
        self.lamb = require_number(lamb, "model.lamb")
        if self.lamb < 0:
            raise ConfigError(f"model.lamb must be >= 0, got {lamb!r}")
        self.ascent_steps = require_positive(ascent_steps, "model.ascent_steps", integer=True)
        self.ascent_step_size = require_number(ascent_step_size, "model.ascent_step_size")
        if self.ascent_step_size < 0:
            raise ConfigError(f"model.ascent_step_size must be >= 0, got {ascent_step_size!r}")
        self.project_every = require_positive(project_every, "model.project_every", integer=True)
        self.init_std = require_positive(init_std, "model.init_std")
        self.only_ce_epochs = require_int(only_ce_epochs, "model.only_ce_epochs")
        if self.only_ce_epochs < 0:
            raise ConfigError(f"model.only_ce_epochs must be an integer >= 0, got {only_ce_epochs!r}")
        if lr_schedule not in LR_SCHEDULES:
            raise ConfigError(f"model.lr_schedule must be one of {list(LR_SCHEDULES)}, got {lr_schedule!r}")
        self.lr_schedule = lr_schedule
        self.save_hyperparameters()
        self.net = nets.make(net, self.input_shape, nets.MLP, hidden=[128], rep_dim=1, activation="relu")
        nets.require_rep_dim(self.net, 1, "DROCC")

    def logit(self, x: torch.Tensor) -> torch.Tensor:
        """f(x): the classifier's "normal" logit, shape (n,)."""
        return self.net(x).reshape(len(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return -self.logit(x)

    def adversarial_points(self, x: torch.Tensor) -> torch.Tensor:
        """The negatives of ``x``: noise around each row, gradient ascent towards "normal", projected
        onto the shell r <= |point - x| <= gamma * r (detached; no gradient reaches the net)."""
        x = x.detach()
        points = x + self.init_std * torch.randn_like(x)
        not_normal = torch.zeros(len(x), device=x.device)
        for step in range(1, self.ascent_steps + 1):
            with torch.enable_grad():
                points = points.detach().requires_grad_(True)
                loss = F.binary_cross_entropy_with_logits(self.logit(points), not_normal)
                (grad,) = torch.autograd.grad(loss, points)
            norm = grad.flatten(1).norm(dim=1).clamp_min(1e-12).view(-1, *[1] * (grad.dim() - 1))
            points = points.detach() + self.ascent_step_size * grad / norm
            if step % self.project_every == 0 or step == self.ascent_steps:
                points = project_to_shell(x, points, self.radius, self.gamma)
        return points.detach()

    def training_loss(self, x: torch.Tensor) -> torch.Tensor:
        normal = F.binary_cross_entropy_with_logits(self.logit(x), torch.ones(len(x), device=x.device))
        if self.current_epoch < self.only_ce_epochs or self.lamb == 0:
            return normal
        negatives = self.adversarial_points(x)
        not_normal = F.binary_cross_entropy_with_logits(self.logit(negatives), torch.zeros(len(x), device=x.device))
        return normal + self.lamb * not_normal

    # ------------------------------------------------------------------ schedule
    def on_fit_start(self) -> None:
        last = self.trainer.max_epochs
        if last is not None and last >= 0 and self.only_ce_epochs >= last:
            raise ConfigError(f"model.only_ce_epochs={self.only_ce_epochs} warm-up epochs leave none of the "
                              f"trainer.max_epochs={last} for the adversarial negatives; lower model.only_ce_epochs")

    def configure_optimizers(self):
        if self.lr_schedule == "constant" or self.scheduler_factory is not None or self.lr_milestones:
            return super().configure_optimizers()
        last = self.trainer.max_epochs if self._trainer is not None else None
        opt = self.make_optimizer(self.parameters())
        if last is None or last < 0:
            return opt
        factor = partial(drocc_lr_factor, only_ce_epochs=self.only_ce_epochs, total_epochs=last)
        sched = torch.optim.lr_scheduler.LambdaLR(opt, factor)
        return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "epoch"}}
