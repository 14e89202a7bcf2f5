"""Deep SVDD (Ruff et al., "Deep One-Class Classification", ICML 2018), after their PyTorch reference.

A network phi maps events into a ``rep_dim``-dimensional space where the background is pulled
towards a fixed centre c; the anomaly score is the squared distance d^2 = |phi(x) - c|^2.

* one-class objective: mean d^2 (+ Adam weight decay);
* soft-boundary objective: R^2 + 1/nu * mean(max(0, d^2 - R^2)), R not trained by gradient but
  set to the (1 - nu)-quantile of the distances d after ``warm_up_epochs`` epochs; score d^2 - R^2.

Reference behaviour kept here (``lukasruff/Deep-SVDD-PyTorch``, ``src/optim/deepSVDD_trainer.py``):
c is the mean of the network outputs in **eval mode** over the training data before training,
coordinates with |c| < eps are moved to +-eps; R is updated after **every optimizer step** from
that mini-batch's distances (``radius_update=batch``), starting at epoch ``warm_up_epochs``
(reference: 10; with the OCDN authors' 10-epoch runs R therefore stays 0).
``radius_update=epoch`` instead sets R once per epoch from all training events (eval mode).

The network is injected (``model.net``, ``conf/model/net/``): any net of the
:mod:`oneclass.nets` contract. Ruff's rules are enforced: no bias terms (a bias lets phi map
everything onto c) and no bounded activations; ``allow_bias=true`` admits the OCDN authors'
``paper_fc`` network for the reproduction of their LHCO numbers. Pretraining trains the net as
the encoder of an autoencoder whose decoder is the net's ``decoder()``, with the reference's loss
(squared error summed over each event's values, averaged over the batch;
:mod:`oneclass.models.pretrain`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from oneclass import nets
from oneclass.config import require_fraction, require_int, require_positive
from oneclass.errors import ConfigError
from oneclass.models.base import LightningDetector
from oneclass.models.pretrain import PretrainHooks, pretrain_net, pretrain_settings
from oneclass.nets.dictionary import first_conv, init_first_conv
from oneclass.nets.base import BOUNDED

OBJECTIVES = ("one-class", "soft-boundary")
RADIUS_UPDATES = ("batch", "epoch")


def bias_terms(net: nn.Module) -> list[str]:
    """Names of the parameters that act as bias terms: biases and affine BatchNorm/LayerNorm weights."""
    found = [name for name, p in net.named_parameters() if name.endswith("bias") and p is not None]
    for mod_name, m in net.named_modules():
        if isinstance(m, (nn.modules.batchnorm._NormBase, nn.LayerNorm, nn.GroupNorm)) and getattr(m, "weight", None) is not None:
            found.append(f"{mod_name}.weight" if mod_name else "weight")
    return found


def check_ruff_rules(net: nn.Module, allow_bias: bool) -> None:
    """One line naming the offending layer when ``net`` breaks Deep SVDD's rules (Ruff et al. 2018, Sec. 3.3)."""
    if not allow_bias and (biases := bias_terms(net)):
        raise ConfigError(f"model.net ({type(net).__name__}) has bias term {biases[0]!r}: Deep SVDD needs a bias-free "
                          "network (a bias lets it map every input onto c); use a bias-free net such as "
                          "model/net=svdd_mlp, or model.allow_bias=true to reproduce the OCDN authors' paper_fc")
    for name, m in net.named_modules():
        if isinstance(m, BOUNDED):
            raise ConfigError(f"model.net layer {name!r} is a bounded activation ({type(m).__name__}), which lets Deep "
                              "SVDD collapse onto c; use relu, leaky_relu or elu")


def radius(d2: torch.Tensor, nu: float) -> torch.Tensor:
    """The optimal soft-boundary radius for fixed weights: the (1 - nu)-quantile of sqrt(d^2) over
    the last axis (events; one radius per member for stacked members' distances)."""
    return torch.quantile(d2.detach().double().sqrt(), 1.0 - nu, dim=-1)


class DeepSVDD(LightningDetector):
    """Deep SVDD detector; ``forward`` is d^2 (one-class) or d^2 - R^2 (soft-boundary).

    Parameters
    ----------
    objective : ``one-class`` or ``soft-boundary``.
    net : the network phi (``conf/model/net/``), called with ``input_shape``; its ``rep_dim`` is
        the feature-space dimension. None = :class:`oneclass.nets.SVDDMLP` (bias-free 512-512-128). On
        images a dense net (the default) is replaced by Ruff's LeNet for the shape (:func:`oneclass.nets.image_net`).
    allow_bias : admit a net with bias terms (``paper_fc``, the OCDN authors' reproduction).
    nu : in (0, 1]; soft-boundary: the fraction of training events allowed outside the sphere.
    warm_up_epochs : soft-boundary epochs before R is first updated (reference: 10).
    radius_update : ``batch`` (reference: after every optimizer step, from that batch) or ``epoch``.
    eps : centre coordinates with |c| < eps become +-eps (zero becomes +eps).
    pretrain : train the net as the encoder of an autoencoder (decoder = ``net.decoder()``) first.
    pretrain_epochs, pretrain_lr, pretrain_weight_decay, pretrain_lr_milestones : its schedule
        (lr and weight decay default to the main ones; same optimizer class).
    dictionary_init : before (pre)training, set the net's first convolution to the atoms of a sparse
        dictionary of training-image patches (:mod:`oneclass.nets.dictionary`; the ICML paper's
        Theano code, ``weight_dict_init``).
    Other parameters (lr, weight_decay, optimizer, scheduler, lr_milestones, batch_size):
    :class:`~oneclass.models.base.LightningDetector`.
    """

    training_defaults = {"lr": 1e-4, "weight_decay": 1e-6, "batch_size": 128}

    # the net on images when model.net is a dense (flat-only) one: Ruff's LeNet of the shape
    image_net: Any = staticmethod(nets.image_net)

    def __init__(
        self,
        input_shape: Any = None,
        net: Any = None,
        objective: str = "one-class",
        allow_bias: bool = False,
        nu: float = 0.1,
        warm_up_epochs: int = 10,
        radius_update: str = "batch",
        eps: float = 0.1,
        pretrain: bool = False,
        pretrain_epochs: int = 10,
        pretrain_lr: float | None = None,
        pretrain_weight_decay: float | None = None,
        pretrain_lr_milestones: Sequence[int] = (),
        dictionary_init: bool = False,
        **training: Any,
    ) -> None:
        super().__init__(input_shape=input_shape, **training)
        if objective not in OBJECTIVES:
            raise ConfigError(f"model.objective must be one of {list(OBJECTIVES)}, got {objective!r}")
        if radius_update not in RADIUS_UPDATES:
            raise ConfigError(f"model.radius_update must be one of {list(RADIUS_UPDATES)}, got {radius_update!r}")
        for name, flag in (("allow_bias", allow_bias), ("pretrain", pretrain), ("dictionary_init", dictionary_init)):
            if not isinstance(flag, bool):
                raise ConfigError(f"model.{name} must be true or false, got {flag!r}")
        self.objective = objective
        self.nu = require_fraction(nu, "model.nu")
        self.warm_up_epochs = require_int(warm_up_epochs, "model.warm_up_epochs")
        if self.warm_up_epochs < 0:
            raise ConfigError(f"model.warm_up_epochs must be >= 0, got {warm_up_epochs!r}")
        self.radius_update = radius_update
        self.eps = require_positive(eps, "model.eps")
        self.pretrain = pretrain
        pretrain_settings(self, pretrain_epochs, pretrain_lr, pretrain_weight_decay, pretrain_lr_milestones)
        self.save_hyperparameters()
        self.net = nets.make(net, self.input_shape, nets.SVDDMLP, images=self.image_net)
        check_ruff_rules(self.net, allow_bias)
        self.rep_dim = self.net.rep_dim
        self.dictionary_init = dictionary_init
        if dictionary_init:
            first_conv(self.net, "model.dictionary_init=true")
        if pretrain and not callable(getattr(self.net, "decoder", None)):
            raise ConfigError(f"model.pretrain=true needs a net with a decoder(); {type(self.net).__name__} has none")
        # Saved in the checkpoint with the weights; `centre_set` skips re-initialisation on resume.
        self.register_buffer("c", torch.zeros(self.rep_dim))
        self.register_buffer("R", torch.zeros(()))
        self.register_buffer("centre_set", torch.tensor(False))
        self._pending_d2: torch.Tensor | None = None
        self.pretrain_losses_: list[float] = []

    # ------------------------------------------------------------------ scoring
    # Written over trailing axes: with a stacked net (oneclass.vectorised) c is (members, rep_dim),
    # R is (members,), and distances, losses and radii come out per member.
    def codes(self, x: torch.Tensor) -> torch.Tensor:
        """The network output phi(x) (checked for the collapsed solution phi = c after fit)."""
        return self.net(x)

    def dist2(self, x: torch.Tensor) -> torch.Tensor:
        return (self.net(x) - self.c.unsqueeze(-2)).pow(2).sum(dim=-1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """d^2 (one-class) or d^2 - R^2 (soft-boundary) of each event, shape (n,)."""
        d2 = self.dist2(x)
        return d2 - self.R.unsqueeze(-1) ** 2 if self.objective == "soft-boundary" else d2

    def training_loss(self, x: torch.Tensor) -> torch.Tensor:
        # The reference updates R right after each optimizer step from the distances computed before
        # it; applying the pending update before the next batch's loss is the same sequence.
        self._apply_pending_radius()
        d2 = self.dist2(x)
        if self.objective == "one-class":
            return d2.mean(dim=-1)
        if self.radius_update == "batch" and self.current_epoch >= self.warm_up_epochs:
            self._pending_d2 = d2.detach()
        r2 = self.R**2
        return r2 + F.relu(d2 - r2.unsqueeze(-1)).mean(dim=-1) / self.nu

    def _apply_pending_radius(self) -> None:
        if self._pending_d2 is not None:
            self.R.copy_(radius(self._pending_d2, self.nu))
            self._pending_d2 = None

    # ------------------------------------------------------------------ set-up and schedule
    @torch.no_grad()
    def _eval_map(self, x: torch.Tensor, fn: Any) -> list[torch.Tensor]:
        """``fn`` of the network outputs (eval mode; the mode is restored) of ``x``'s event chunks."""
        was_training = self.net.training
        self.net.eval()
        try:
            return [fn(self.net(chunk)) for chunk in self.event_chunks(x)]
        finally:
            self.net.train(was_training)

    def _outputs(self, x: torch.Tensor) -> torch.Tensor:
        """Network outputs of ``x`` in eval mode."""
        return torch.cat(self._eval_map(x, lambda out: out), dim=-2)

    @torch.no_grad()
    def init_centre(self, x: torch.Tensor) -> torch.Tensor:
        """c = mean network output (eval mode) over ``x``; coordinates with |c| < eps set to +-eps."""
        n_events = x.shape[x.dim() - 1 - len(self.input_shape)]
        c = sum(self._eval_map(x, lambda out: out.double().sum(dim=-2))) / n_events
        small = c.abs() < self.eps
        c[small] = torch.where(c[small] < 0, -self.eps, self.eps).to(c.dtype)
        self.c.copy_(c.to(self.c.dtype))
        self.centre_set.fill_(True)
        return self.c

    def pretrain_autoencoder(self, x: torch.Tensor) -> list[float]:
        """Train ``self.net`` as the encoder of its mirrored autoencoder for ``pretrain_epochs``
        (:func:`oneclass.models.pretrain.pretrain_autoencoder`: the reference's summed squared
        error, the configured optimizer at ``pretrain_lr`` / ``pretrain_weight_decay``, the
        model's :meth:`pretraining_hooks`)."""
        return pretrain_net(self, self.net, x, model="DeepSVDD", hooks=self.pretraining_hooks())

    def pretraining_hooks(self) -> PretrainHooks:
        """How the pretraining loop treats this model (:class:`oneclass.vectorised.VectorisedDetector`
        gives stacked members' hooks)."""
        return PretrainHooks(len(self.input_shape), "DeepSVDD")

    def on_fit_start(self) -> None:
        if bool(self.centre_set.all()):  # resumed from a checkpoint: c (and R) are already there
            return
        x = self.train_data
        if self.dictionary_init:  # (each member of stacked seeds from its own random state)
            self.for_each_member(lambda model, xm: init_first_conv(model.net, xm, seed=int(torch.randint(0, 2**31 - 1, (1,)).item())), x)
        if self.pretrain and self.pretrain_epochs > 0:
            self.pretrain_losses_ = self.pretrain_autoencoder(x)
        self.init_centre(x)

    def on_train_epoch_end(self) -> None:
        if self.objective == "soft-boundary":
            if self.radius_update == "batch":
                self._apply_pending_radius()
            elif self.current_epoch >= self.warm_up_epochs:
                self.R.copy_(radius(self.dist2_eval(self.train_data), self.nu))
        super().on_train_epoch_end()

    def dist2_eval(self, x: torch.Tensor) -> torch.Tensor:
        """d^2 of ``x`` in eval mode."""
        return torch.cat(self._eval_map(x, lambda out: (out - self.c.unsqueeze(-2)).pow(2).sum(dim=-1)), dim=-1)
