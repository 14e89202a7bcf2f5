"""The LeNet-type convolutional networks of Ruff et al.'s Deep SVDD experiments (ICML 2018) and
their mirrored autoencoder decoders, written after the architecture of the reference
(``lukasruff/Deep-SVDD-PyTorch``, ``src/networks/``).

Both follow Deep SVDD's rules: no bias term anywhere (convolutions, linear and transposed
convolutions are bias-free, BatchNorm has no affine parameters) and an unbounded activation
(leaky ReLU, slope 0.01).

* :class:`MNISTLeNet` - (1, 28, 28) -> 32: conv(1->8, 5x5, pad 2) - BN - lReLU - maxpool 2 -
  conv(8->4, 5x5, pad 2) - BN - lReLU - maxpool 2 - Linear(4*7*7 -> 32). MNIST and Fashion-MNIST.
* :class:`CIFAR10LeNet` - (3, 32, 32) -> 128: conv 3->32->64->128 (5x5, pad 2), each BN + lReLU +
  maxpool 2, then Linear(128*4*4 -> 128).

``decoder()`` returns the reference autoencoder's decoder (the encoder half of the reference
autoencoder is exactly this net, so pretraining trains the net itself): the code is reshaped to
(rep_dim/16, 4, 4) and brought back to the image size by 5x5 transposed convolutions with BN +
lReLU and nearest-neighbour upsampling x2, ending in a sigmoid (inputs are min-max scaled to
[0, 1] on the training data). The CIFAR-10 decoder starts with the BatchNorm1d the reference
autoencoder puts after the encoder's last linear layer.

BatchNorm eps is 1e-4 everywhere, as in the reference.

The forwards take any leading axes before the batch (``flatten(-3)``, pooling and upsampling that
fold them into the channels, :func:`oneclass.nets.base.per_channel_2d`): stacked seed members
(:mod:`oneclass.vectorised`) run them on ``(members, n, ...)``; on ``(n, ...)`` they compute what
they always did, bit for bit. Each decoder has ``input_shape = (rep_dim,)`` (the net contract's
attribute, by which a stacked net with its own forward is checked).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from oneclass.config import require_positive
from oneclass.errors import ConfigError
from oneclass.nets.base import max_pool2d, shape_of, upsample2d

BN_EPS = 1e-4
INITS = ("torch", "xavier")


def _bn2d(channels: int) -> nn.BatchNorm2d:
    return nn.BatchNorm2d(channels, eps=BN_EPS, affine=False)


def _check_shape(net: str, input_shape: Sequence[int], expected: tuple[int, ...], fix: str) -> tuple[int, ...]:
    shape = shape_of(input_shape)
    if len(shape) == 1:  # an image net on events: a flat net is the likelier fix
        raise ConfigError(f"model.net: {net} is an image net (inputs of shape {expected}) but the dataset gives flat "
                          f"events of shape {shape}; pick a flat net (e.g. model/net=svdd_mlp) or an image dataset")
    if shape != expected:
        raise ConfigError(f"model.net: {net} takes images of shape {expected}, the dataset gives images of shape "
                          f"{shape}; {fix}")
    return shape


def _code_channels(rep_dim: int, net: str) -> int:
    rep_dim = require_positive(rep_dim, "model.net.rep_dim", integer=True)
    if rep_dim % 16:
        raise ConfigError(f"model.net.rep_dim must be a multiple of 16 for {net} (its decoder reshapes the code to "
                          f"(rep_dim/16, 4, 4)), got {rep_dim}")
    return rep_dim // 16


def _xavier_leaky(module: nn.Module) -> None:
    """Glorot-uniform weights with the leaky-ReLU gain for every (transposed) convolution (the
    reference CIFAR-10 autoencoder's initialisation)."""
    gain = nn.init.calculate_gain("leaky_relu")
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
            nn.init.xavier_uniform_(m.weight, gain=gain)


def _init_choice(init: str) -> str:
    if init not in INITS:
        raise ConfigError(f"model.net.init must be one of {list(INITS)}, got {init!r}")
    return init


class _Stage(nn.Module):
    """bias-free 5x5 convolution -> BatchNorm (no affine) -> leaky ReLU -> max-pool 2."""

    def __init__(self, c_in: int, c_out: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(c_in, c_out, 5, padding=2, bias=False)
        self.bn = _bn2d(c_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return max_pool2d(F.leaky_relu(self.bn(self.conv(x))), 2)


class _ConvEncoder(nn.Module):
    """Stages of :class:`_Stage`, then a bias-free linear map to ``rep_dim``."""

    def __init__(self, input_shape: tuple[int, ...], channels: Sequence[int], rep_dim: int) -> None:
        super().__init__()
        self.input_shape, self.rep_dim = input_shape, rep_dim
        widths = [input_shape[0], *channels]
        self.stages = nn.Sequential(*(_Stage(a, b) for a, b in zip(widths[:-1], widths[1:])))
        side = input_shape[1] // 2 ** len(channels)
        self.fc = nn.Linear(widths[-1] * side * side, rep_dim, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.stages(x).flatten(-3))


class MNISTLeNet(_ConvEncoder):
    """Ruff et al.'s MNIST LeNet, (n, 1, 28, 28) -> (n, rep_dim); see the module docstring.

    Parameters
    ----------
    input_shape : must be (1, 28, 28) (MNIST, Fashion-MNIST).
    rep_dim : output size (reference: 32); a multiple of 16 (the decoder's reshape).
    """

    def __init__(self, input_shape: Sequence[int] = (1, 28, 28), rep_dim: int = 32) -> None:
        shape = _check_shape("MNISTLeNet", input_shape, (1, 28, 28),
                             "use it with dataset=mnist or fashion_mnist (model/net=lenet_cifar10 for CIFAR-10)")
        super().__init__(shape, (8, 4), rep_dim)
        self._code_channels = _code_channels(rep_dim, "MNISTLeNet")

    def decoder(self) -> nn.Module:
        return MNISTLeNetDecoder(self.rep_dim)


class MNISTLeNetDecoder(nn.Module):
    """(n, rep_dim) -> (n, 1, 28, 28): reshape to (rep_dim/16, 4, 4), lReLU, up x2 (8), deconv 4,
    BN, lReLU, up (16), deconv 8 with padding 3 (14), BN, lReLU, up (28), deconv 1, sigmoid."""

    def __init__(self, rep_dim: int = 32) -> None:
        super().__init__()
        self.rep_dim, self.input_shape = rep_dim, (rep_dim,)
        c = _code_channels(rep_dim, "MNISTLeNet")
        self.deconv1 = nn.ConvTranspose2d(c, 4, 5, padding=2, bias=False)
        self.bn1 = _bn2d(4)
        self.deconv2 = nn.ConvTranspose2d(4, 8, 5, padding=3, bias=False)
        self.bn2 = _bn2d(8)
        self.deconv3 = nn.ConvTranspose2d(8, 1, 5, padding=2, bias=False)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        x = z.unflatten(-1, (-1, 4, 4))
        x = upsample2d(F.leaky_relu(x), 2)
        x = upsample2d(F.leaky_relu(self.bn1(self.deconv1(x))), 2)
        x = upsample2d(F.leaky_relu(self.bn2(self.deconv2(x))), 2)
        return torch.sigmoid(self.deconv3(x))


class CIFAR10LeNet(_ConvEncoder):
    """Ruff et al.'s CIFAR-10 LeNet, (n, 3, 32, 32) -> (n, rep_dim); see the module docstring.

    Parameters
    ----------
    input_shape : must be (3, 32, 32).
    rep_dim : output size (reference: 128); a multiple of 16.
    init : ``xavier`` (default: Glorot-uniform convolutions with the leaky-ReLU gain, the reference
        autoencoder's initialisation, which Deep SVDD starts from after pretraining) or ``torch``
        (PyTorch's default, the reference Deep SVDD net without pretraining).
    """

    def __init__(self, input_shape: Sequence[int] = (3, 32, 32), rep_dim: int = 128, init: str = "xavier") -> None:
        shape = _check_shape("CIFAR10LeNet", input_shape, (3, 32, 32),
                             "use it with dataset=cifar10 (model/net=lenet_mnist for MNIST and Fashion-MNIST)")
        super().__init__(shape, (32, 64, 128), rep_dim)
        self._code_channels = _code_channels(rep_dim, "CIFAR10LeNet")
        self.init = _init_choice(init)
        if self.init == "xavier":
            _xavier_leaky(self)

    def decoder(self) -> nn.Module:
        return CIFAR10LeNetDecoder(self.rep_dim, init=self.init)


class CIFAR10LeNetDecoder(nn.Module):
    """(n, rep_dim) -> (n, 3, 32, 32): BatchNorm1d, reshape to (rep_dim/16, 4, 4), lReLU, then three
    times [deconv, BN, lReLU, up x2] (128, 64, 32 channels; 8, 16, 32 pixels), deconv 3, sigmoid."""

    def __init__(self, rep_dim: int = 128, init: str = "xavier") -> None:
        super().__init__()
        self.rep_dim, self.input_shape = rep_dim, (rep_dim,)
        c = _code_channels(rep_dim, "CIFAR10LeNet")
        self.bn_code = nn.BatchNorm1d(rep_dim, eps=BN_EPS, affine=False)
        widths = [c, 128, 64, 32]
        self.deconvs = nn.ModuleList(nn.ConvTranspose2d(a, b, 5, padding=2, bias=False)
                                     for a, b in zip(widths[:-1], widths[1:]))
        self.bns = nn.ModuleList(_bn2d(b) for b in widths[1:])
        self.out = nn.ConvTranspose2d(32, 3, 5, padding=2, bias=False)
        if _init_choice(init) == "xavier":
            _xavier_leaky(self)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        x = F.leaky_relu(self.bn_code(z).unflatten(-1, (-1, 4, 4)))
        for deconv, bn in zip(self.deconvs, self.bns):
            x = upsample2d(F.leaky_relu(bn(deconv(x))), 2)
        return torch.sigmoid(self.out(x))


# The LeNet for each image shape it takes (Ruff et al.'s, at their rep_dim): the image default of the
# detectors whose dense default net takes flat inputs only (Deep SVDD, the autoencoder).
LENETS = {(1, 28, 28): MNISTLeNet, (3, 32, 32): CIFAR10LeNet}


def image_net(input_shape: Sequence[int]) -> nn.Module:
    """Ruff's LeNet for images of ``input_shape`` (MNIST's and Fashion-MNIST's (1, 28, 28): :class:`MNISTLeNet`;
    CIFAR-10's (3, 32, 32): :class:`CIFAR10LeNet`), at its defaults (``conf/model/net/lenet_*.yaml``)."""
    shape = shape_of(input_shape)
    if shape not in LENETS:
        raise ConfigError(f"model.net: no default image net for images of shape {shape} (the LeNets take "
                          f"{' or '.join(map(str, LENETS))}); give one with model/net=...")
    return LENETS[shape](shape)
