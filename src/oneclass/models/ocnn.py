"""One-Class Neural Network, OC-NN (Chalapathy, Menon, Chawla, "Anomaly Detection using One-Class
Neural Networks", 2018), after the objective of their reference code (``raghavchalapathy/oc-nn``).

A one-hidden-layer head on a representation z of each event,

    yhat(z) = <V, g(w z)>,   w: (hidden x d) and V: (hidden) without biases, g linear or sigmoid,

trained by alternating minimisation of the one-class (nu-SVM-like) objective

    0.5 ||w||^2 + 0.5 ||V||^2 + (1/nu) mean_n max(0, r - yhat(z_n)) - r

over (w, V) by back-propagation for one epoch, then setting r to the nu-quantile of the training
scores {yhat(z_n)} (the paper's Algorithm 1; the reference code does the same after every epoch).
The decision score of the paper is yhat - r (positive = normal); the framework's score is its
negative, ``r - yhat``, so that higher = more anomalous.

The representation z:

* images (``model.net`` set, e.g. ``lenet_mnist``): the encoder of an autoencoder pretrained on the
  training data (the net with its mirrored ``decoder()``, the reference's summed squared error,
  :mod:`oneclass.models.pretrain`), as in the reference, which pretrains a convolutional
  autoencoder and feeds its encoder's output to the OC-NN layers. The encoder is then **frozen**
  (``finetune_encoder=false``, default): eval mode, no gradient, so OC-NN trains (w, V) on fixed
  features, as the paper's Algorithm 1 (optimise w, V; set r) and the reference's TensorFlow OC-NN
  (``models/tf_Cifar_OC_NN_Models.py``, trained on precomputed encoder features) do. Their Keras
  notebook variant also trains the encoder layers: ``finetune_encoder=true`` does that (the
  encoder's weights then also enter the optimizer, under ``weight_decay``).
* flat (tabular) data with ``model.net`` null: the raw features (images are flattened).

Reference settings: the TensorFlow OC-NN trains 100 epochs of full-batch gradient descent
(``GradientDescentOptimizer``, lr 1e-4; Adam lr 0.05 in the CIFAR-10 linear variant), weights drawn
from N(0, 1e-5^2), r starting at 0.1, nu 0.04 / 0.1; the Keras notebook variant uses Adam lr 1e-4,
batch 200. Here the optimizer is the configured one (``conf/model/optimizer``: default Adam lr 1e-4,
``model/optimizer=sgd`` for plain gradient descent) on mini-batches of ``batch_size`` (the whole
training set in one batch reproduces full-batch descent); ``init_std`` and ``r_init`` keep the
reference's start. The hinge is ``max(0, .)`` as in the reference's CIFAR-10 file (its MNIST/USPS
file, ``models/tf_OneClass_NN_model.py``, has a ``relu`` that returns its input unchanged).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from oneclass import nets
from oneclass.config import require_fraction, require_number, require_positive
from oneclass.errors import ConfigError
from oneclass.models.base import LightningDetector, score_chunk
from oneclass.models.pretrain import pretrain_net, pretrain_settings

ACTIVATIONS = ("linear", "sigmoid")


class OCNN(LightningDetector):
    """OC-NN detector; ``forward`` is ``r - yhat`` (see the module docstring).

    Parameters
    ----------
    net : encoder (``conf/model/net/``, e.g. ``lenet_mnist``), called with ``input_shape``; its
        ``rep_dim`` is the size of z. None = no encoder: z = the flattened input.
    hidden : width of the OC-NN hidden layer (paper: 32 on MNIST, 128 on CIFAR-10).
    activation : g, ``linear`` or ``sigmoid``.
    nu : in (0, 1): r is the nu-quantile of the training scores; at most a fraction nu of the
        training events scores below r.
    r_init : r before the first epoch (reference: 0.1).
    init_std : w and V start from N(0, init_std^2) (reference: 1e-5).
    pretrain : pretrain the encoder as an autoencoder (needs a net with ``decoder()``).
    pretrain_epochs, pretrain_lr, pretrain_weight_decay, pretrain_lr_milestones : its schedule
        (lr and weight decay default to the main ones; same optimizer class).
    finetune_encoder : also train the encoder with the OC-NN objective (default: frozen).
    Other parameters (lr, weight_decay, optimizer, scheduler, lr_milestones, batch_size):
    :class:`~oneclass.models.base.LightningDetector`. ``weight_decay`` comes on top of the
    objective's own 0.5||w||^2 + 0.5||V||^2 (default 0).
    """

    cannot_vectorise = "its radius r is set from one model's scores every epoch"  # oneclass.vectorised

    training_defaults = {"lr": 1e-4, "batch_size": 200}

    def __init__(
        self,
        input_shape: Any = None,
        net: Any = None,
        hidden: int = 32,
        activation: str = "linear",
        nu: float = 0.1,
        r_init: float = 0.1,
        init_std: float = 1e-5,
        pretrain: bool = True,
        pretrain_epochs: int = 10,
        pretrain_lr: float | None = None,
        pretrain_weight_decay: float | None = None,
        pretrain_lr_milestones: Sequence[int] = (),
        finetune_encoder: bool = False,
        **training: Any,
    ) -> None:
        super().__init__(input_shape=input_shape, **training)
        if activation not in ACTIVATIONS:
            raise ConfigError(f"model.activation must be one of {list(ACTIVATIONS)}, got {activation!r}")
        for name, flag in (("pretrain", pretrain), ("finetune_encoder", finetune_encoder)):
            if not isinstance(flag, bool):
                raise ConfigError(f"model.{name} must be true or false, got {flag!r}")
        self.activation = activation
        self.hidden = require_positive(hidden, "model.hidden", integer=True)
        self.nu = require_fraction(nu, "model.nu")
        if self.nu == 1:
            raise ConfigError("model.nu must be < 1 (r is the nu-quantile of the training scores), got 1")
        self.r_init = require_number(r_init, "model.r_init")
        self.init_std = require_positive(init_std, "model.init_std")
        pretrain_settings(self, pretrain_epochs, pretrain_lr, pretrain_weight_decay, pretrain_lr_milestones)
        self.save_hyperparameters()

        if net is None:
            self.encoder = None
            d = self.n_features
        else:
            self.encoder = nets.make(net, self.input_shape, nets.MLP)
            d = int(self.encoder.rep_dim)
            if pretrain and not callable(getattr(self.encoder, "decoder", None)):
                raise ConfigError(f"model.pretrain=true needs a net with a decoder(); {type(self.encoder).__name__} "
                                  "has none (or set model.pretrain=false)")
        self.pretrain = pretrain and self.encoder is not None
        self.finetune_encoder = finetune_encoder and self.encoder is not None
        if self.encoder is not None and not self.finetune_encoder:
            self.encoder.requires_grad_(False)
        self.w = nn.Linear(d, self.hidden, bias=False)
        self.V = nn.Linear(self.hidden, 1, bias=False)
        for layer in (self.w, self.V):
            nn.init.normal_(layer.weight, 0.0, self.init_std)
        self.register_buffer("r", torch.tensor(float(self.r_init)))
        # Saved in the checkpoint: a resumed run does not pretrain again.
        self.register_buffer("pretrained", torch.tensor(False))
        self.pretrain_losses_: list[float] = []

    # ------------------------------------------------------------------ the model
    def features(self, x: torch.Tensor) -> torch.Tensor:
        """z: the encoder's output, or the flattened input without an encoder."""
        if self.encoder is None:
            return x.flatten(1)
        if self.finetune_encoder:
            return self.encoder(x)
        with torch.no_grad():
            return self.encoder(x)

    def head(self, z: torch.Tensor) -> torch.Tensor:
        """yhat = <V, g(w z)>, shape (n,)."""
        h = self.w(z)
        if self.activation == "sigmoid":
            h = torch.sigmoid(h)
        return self.V(h).squeeze(1)

    def yhat(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """r - yhat of each event, shape (n,): higher = more anomalous."""
        return self.r - self.yhat(x)

    def objective(self, yhat: torch.Tensor, r: torch.Tensor | float | None = None) -> torch.Tensor:
        """0.5||w||^2 + 0.5||V||^2 + (1/nu) mean(max(0, r - yhat)) - r (r defaults to the current r)."""
        r = self.r if r is None else torch.as_tensor(r, dtype=yhat.dtype, device=yhat.device)
        reg = 0.5 * self.w.weight.pow(2).sum() + 0.5 * self.V.weight.pow(2).sum()
        return reg + F.relu(r - yhat).mean() / self.nu - r

    def training_loss(self, x: torch.Tensor) -> torch.Tensor:
        return self.objective(self.yhat(x))

    # ------------------------------------------------------------------ training schedule
    def train(self, mode: bool = True) -> "OCNN":
        super().train(mode)
        if self.encoder is not None and not self.finetune_encoder:
            self.encoder.eval()  # a frozen encoder keeps its BatchNorm statistics
        return self

    def configure_optimizers(self):
        params = [*self.w.parameters(), *self.V.parameters()]
        if self.finetune_encoder:
            params += list(self.encoder.parameters())
        opt = self.make_optimizer(params)
        sched = self.make_scheduler(opt, self.lr_milestones)
        if sched is None:
            return opt
        return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "epoch"}}

    def on_fit_start(self) -> None:
        if bool(self.pretrained) or not self.pretrain or self.pretrain_epochs == 0:
            return
        self.encoder.requires_grad_(True)
        try:
            self.pretrain_losses_ = pretrain_net(self, self.encoder, self.train_data, model="OCNN")
        finally:
            self.encoder.requires_grad_(self.finetune_encoder)
            self.train(self.training)
        self.pretrained.fill_(True)

    @torch.no_grad()
    def training_scores(self) -> torch.Tensor:
        """yhat of every training event, in eval mode (the mode is restored)."""
        was_training = self.training
        self.eval()
        try:
            x = self.train_data
            chunk = score_chunk(self.input_shape)
            return torch.cat([self.yhat(x[i : i + chunk]) for i in range(0, len(x), chunk)])
        finally:
            self.train(was_training)

    def on_train_epoch_end(self) -> None:
        # the reference's r update: the nu-quantile of the training scores after each epoch
        self.r.fill_(torch.quantile(self.training_scores().double(), self.nu).item())
        super().on_train_epoch_end()
