"""Autoencoder: events (or images) that the background-trained network reconstructs badly are anomalous.

The OCDN paper's architecture (appendix, built in Keras by the authors), the default net
(:class:`oneclass.nets.DenseEncoder`): encoder Dense(512, ReLU) -> BatchNorm -> Dense(512, ReLU)
-> Dense(2); decoder Dense(512, ReLU) -> Dense(512, ReLU) -> Dense(n_features); MSE loss, Adam
lr 1e-3. Any net with a ``decoder()`` works (e.g. a convolutional one on images: the DCAE
baseline of Ruff et al., trained with their summed squared error, ``loss=sse``).
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

from oneclass import nets
from oneclass.errors import ConfigError
from oneclass.models.base import LightningDetector
from oneclass.models.pretrain import sse_loss

INITS = ("glorot", "torch", "normal")
LOSSES = ("mse", "sse")


class Autoencoder(LightningDetector):
    """Autoencoder ``decoder(encoder(x))`` scored by the Euclidean norm of its reconstruction error.

    Parameters
    ----------
    net : the encoder (``conf/model/net/``), called with ``input_shape``; its ``decoder()`` is
        the decoder and its ``rep_dim`` the bottleneck (paper: DenseEncoder [512, 512] -> 2). On images a
        dense net (the default) is replaced by Ruff's LeNet for the shape (:func:`oneclass.nets.image_net`).
    init : ``glorot`` (Keras default, as in the authors' code), ``torch``, or ``normal`` (N(0, 0.02)
        weights and biases: PyTorch-DAGMM's and ADBench's); applies to Linear layers.
    loss : ``mse`` (mean over all values: Keras' mean_squared_error, the OCDN paper) or ``sse``
        (squared error summed over each event's values, averaged over the batch: Ruff et al.'s
        DCAE). They differ by the factor n_features, which matters against ``weight_decay``.
    Other parameters: :class:`~oneclass.models.base.LightningDetector`.
    """

    training_defaults = {"batch_size": 32}

    # the net on images when model.net is a dense (flat-only) one: Ruff's LeNet of the shape (DCAE);
    # None for the tabular autoencoders (DAGMM, MemAE, DUAD): their dense nets refuse images
    image_net: Any = staticmethod(nets.image_net)

    def __init__(
        self,
        input_shape: Any = None,
        net: Any = None,
        init: str = "glorot",
        loss: str = "mse",
        **training: Any,
    ) -> None:
        super().__init__(input_shape=input_shape, **training)
        if init not in INITS:
            raise ConfigError(f"model.init must be 'glorot', 'torch' or 'normal', got {init!r}")
        if loss not in LOSSES:
            raise ConfigError(f"model.loss must be 'mse' or 'sse', got {loss!r}")
        self.loss = loss
        self.save_hyperparameters()
        self.encoder = nets.make(net, self.input_shape, nets.DenseEncoder, images=self.image_net)
        if not callable(getattr(self.encoder, "decoder", None)):
            raise ConfigError(f"model.net ({type(self.encoder).__name__}) has no decoder(); an autoencoder needs a net that mirrors itself")
        self.decoder = self.encoder.decoder()
        if init == "glorot":
            nets.glorot_init(self)
        elif init == "normal":
            nets.normal_init(self)

    def codes(self, x: torch.Tensor) -> torch.Tensor:
        """The bottleneck ``encoder(x)`` (checked for collapse after fit)."""
        return self.encoder(x)

    def reconstruct(self, x: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.encoder(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """|x - AE(x)|_2 of each event (over all features or pixels), shape (n,) (or (members, n)
        for a stacked net, :mod:`oneclass.vectorised`)."""
        return (x - self.reconstruct(x)).flatten(-len(self.input_shape)).norm(dim=-1)

    def training_loss(self, x: torch.Tensor) -> torch.Tensor:
        """The batch's reconstruction loss (``mse`` or ``sse``): a scalar, or one per member for a
        stacked batch (members, B, *input_shape)."""
        x_hat = self.reconstruct(x)
        if self.loss == "sse":
            return sse_loss(x_hat, x, len(self.input_shape))
        return F.mse_loss(x_hat, x, reduction="none").flatten(-1 - len(self.input_shape)).mean(dim=-1)
