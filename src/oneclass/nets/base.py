"""The network contract shared by every detector that takes an injected network.

A net is an ``nn.Module`` built as ``Net(input_shape, rep_dim=..., **hyperparameters)``:

* ``input_shape`` - the shape of one event or image, e.g. ``(5,)`` or ``(1, 28, 28)``; given by the
  model from the dataset (a net refuses shapes it cannot take, with one line naming the fix);
* ``rep_dim`` - the size of its output: ``forward(x)`` maps ``(n, *input_shape)`` to ``(n, rep_dim)``;
* ``decoder()`` - a new, untrained module mapping ``(n, rep_dim)`` back to ``(n, *input_shape)``:
  the net's mirror image, used by autoencoders and by Deep SVDD's pretraining.

Configs inject nets as ``_partial_: true`` targets (``conf/model/net/``); the model calls the
partial with ``input_shape`` (see :func:`make`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from oneclass.config import from_spec, require_positive
from oneclass.errors import ConfigError

log = logging.getLogger(__name__)

# softplus: smooth, for energies differentiated twice (DSEBM's score matching)
ACTIVATIONS = {"relu": nn.ReLU, "leaky_relu": nn.LeakyReLU, "elu": nn.ELU, "tanh": nn.Tanh, "sigmoid": nn.Sigmoid,
               "softplus": nn.Softplus}
# Bounded activations saturate to a constant (Ruff et al. 2018, Sec. 3.3: they allow Deep SVDD's collapse).
BOUNDED = (nn.Tanh, nn.Sigmoid)


def _mask_bits(keep: float) -> int | None:
    """The fewest bits k in (1, 2, 4, 8) with ``keep * 2**k`` an integer, or None."""
    for k in (1, 2, 4, 8):
        if (keep * (1 << k)).is_integer():
            return k
    return None


_MASK_TABLES: dict[tuple[float, torch.dtype, torch.device], torch.Tensor] = {}


def _mask_table(keep: float, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    """(256, 8 // k): the mask elements one random byte gives, k bits each (low bits first):
    ``1/keep`` where the k-bit value is below ``keep * 2**k``, else 0."""
    key = (keep, dtype, device)
    if key not in _MASK_TABLES:
        k = _mask_bits(keep)
        values = (torch.arange(256).unsqueeze(1) >> torch.arange(0, 8, k)) & ((1 << k) - 1)
        _MASK_TABLES[key] = (values < round(keep * (1 << k))).to(dtype).div_(keep).to(device)
    return _MASK_TABLES[key]


def dropout_draws(n: int, keep: float, dtype: torch.dtype, device: torch.device,
                  generator: torch.Generator | None = None) -> torch.Tensor:
    """The random numbers behind one inverted-dropout mask of ``n`` elements (:func:`dropout_scale`).

    When ``keep`` is a multiple of 1/256 (0.5, 0.25, 0.9375, ...) each element needs k random bits
    (k = 1 for 0.5) and one 32-bit draw of the generator serves 24 // k elements: int32 words. Else
    one uniform per element, in ``dtype``.
    """
    k = _mask_bits(keep)
    if k is None:
        return torch.rand(n, dtype=dtype, device=device, generator=generator)
    words = -(-n * k // 24)
    return torch.empty(words, dtype=torch.int32, device=device).random_(generator=generator)


def dropout_scale(draws: torch.Tensor, keep: float, n: int, dtype: torch.dtype) -> torch.Tensor:
    """Inverted-dropout scale masks ``(..., n)`` from :func:`dropout_draws` ``(..., m)``: ``1/keep``
    with probability ``keep``, else 0. Words are read 8 bits at a time (bits 0-23; ``random_`` fills
    int32 with 31 random bits) through a table."""
    if draws.is_floating_point():
        return draws.lt(keep).to(dtype).div_(keep)
    table = _mask_table(keep, dtype, draws.device)
    octets = torch.stack([(draws >> shift) & 255 for shift in (0, 8, 16)], dim=-1)
    scale = table.index_select(0, octets.reshape(-1))
    return scale.view(*draws.shape[:-1], -1)[..., :n]


class Dropout(nn.Dropout):
    """``nn.Dropout`` whose mask on CPU comes from :func:`dropout_draws` / :func:`dropout_scale`
    instead of ``bernoulli_(1 - p)``: the same distribution, drawn ~6x faster for p = 0.5 (one random
    bit per element instead of one uniform; the paper_fc Deep SVDD spent a third of its training step
    on ``bernoulli_``). On other devices torch's fused dropout."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or not 0.0 < self.p < 1.0 or self.inplace or x.device.type != "cpu":
            return super().forward(x)
        keep, n = 1.0 - self.p, x.numel()
        return x * dropout_scale(dropout_draws(n, keep, x.dtype, x.device), keep, n, x.dtype).view(x.shape)


def per_channel_2d(fn: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor) -> torch.Tensor:
    """``fn``, a 2-d operation on ``(B, C, H, W)`` that treats every channel alike and apart
    (pooling, upsampling), on ``x`` of shape ``(..., B, C, H, W)``: leading axes (the member axis of
    stacked seed members, :mod:`oneclass.vectorised`) are folded into the channels. ``(B, C, H, W)``
    goes to ``fn`` as it is, so a single net's output is unchanged, bit for bit."""
    if x.dim() <= 4:
        return fn(x)
    lead = x.shape[:-4]
    # (..., B, C, H, W) -> (B, prod(...) * C, H, W): a view when x is laid out batch-first, as the
    # stacked convolutions and BatchNorm of oneclass.vectorised leave it
    out = fn(x.movedim(-4, 0).flatten(1, -3))
    return out.unflatten(1, (*lead, -1)).movedim(0, -4)


def max_pool2d(x: torch.Tensor, kernel_size: int) -> torch.Tensor:
    """``F.max_pool2d(x, kernel_size)`` on ``(..., B, C, H, W)`` (:func:`per_channel_2d`)."""
    return per_channel_2d(lambda t: F.max_pool2d(t, kernel_size), x)


def upsample2d(x: torch.Tensor, scale_factor: float = 2) -> torch.Tensor:
    """Nearest-neighbour ``F.interpolate(x, scale_factor=...)`` on ``(..., B, C, H, W)``
    (:func:`per_channel_2d`: a 5-d input is not taken for a volume)."""
    return per_channel_2d(lambda t: F.interpolate(t, scale_factor=scale_factor), x)


def make_activation(name: str, where: str = "model.net.activation") -> nn.Module:
    """An activation module by name (``relu``, ``leaky_relu``, ``elu``, ``tanh``, ``sigmoid``)."""
    try:
        return ACTIVATIONS[name]()
    except (KeyError, TypeError):
        raise ConfigError(f"{where}: unknown activation {name!r}; choose one of {sorted(ACTIVATIONS)}") from None


def hidden_sizes(hidden: Sequence[int] | None, name: str = "model.net.hidden") -> list[int]:
    """Validated list of hidden-layer widths (may be empty)."""
    if isinstance(hidden, (str, int)):
        raise ConfigError(f"{name} must be a list of positive integers, got {hidden!r}")
    sizes = list(hidden or [])
    for h in sizes:
        if isinstance(h, bool) or not isinstance(h, int) or h <= 0:
            raise ConfigError(f"{name} must be a list of positive integers, got {sizes!r}")
    return sizes


def shape_of(input_shape: Any, name: str = "input_shape") -> tuple[int, ...]:
    """``input_shape`` as a tuple of positive ints (an int ``d`` means ``(d,)``)."""
    if isinstance(input_shape, int) and not isinstance(input_shape, bool):
        input_shape = (input_shape,)
    try:
        shape = tuple(input_shape)
    except TypeError:
        raise ConfigError(f"{name} must be a tuple of positive integers, got {input_shape!r}") from None
    if not shape or any(isinstance(s, bool) or not isinstance(s, int) or s <= 0 for s in shape):
        raise ConfigError(f"{name} must be a tuple of positive integers, got {input_shape!r}")
    return shape


def flat_features(net: str, input_shape: tuple[int, ...]) -> int:
    """The feature count of flat inputs; images are refused with the fix."""
    if len(input_shape) != 1:
        raise ConfigError(f"model.net: {net} takes flat (events, features) inputs but the dataset gives images of "
                          f"shape {input_shape}; pick an image net (e.g. model/net=lenet_mnist) or a tabular dataset")
    return input_shape[0]


def normal_init(module: nn.Module, std: float = 0.02) -> None:
    """N(0, std) weights AND biases for Linear layers: PyTorch-DAGMM's (and ADBench's) weights_init_normal."""
    for m in module.modules():
        if isinstance(m, nn.Linear):
            nn.init.normal_(m.weight, 0.0, std)
            if m.bias is not None:
                nn.init.normal_(m.bias, 0.0, std)


def glorot_init(module: nn.Module) -> None:
    """Keras' default initialisation (Glorot-uniform weights, zero biases) for Linear layers."""
    for m in module.modules():
        if isinstance(m, nn.Linear):
            nn.init.xavier_uniform_(m.weight)
            if m.bias is not None:
                nn.init.zeros_(m.bias)


def make(net: Callable[..., nn.Module] | nn.Module | None, input_shape: tuple[int, ...],
         default: Callable[..., nn.Module], images: Callable[..., nn.Module] | None = None,
         **defaults: Any) -> nn.Module:
    """The model's network: ``net`` called with ``input_shape`` (a config partial or a class), an
    already built module (checked against ``input_shape``), or ``default(input_shape, **defaults)``
    when ``net`` is None.

    ``images``: the model's default for image inputs, ``images(input_shape)`` (e.g. the LeNet for that
    shape, :func:`oneclass.nets.lenet.image_net`). It replaces a dense net that takes flat inputs only
    (``flat_only``: the model's dense default, sized for events) when the data are images, so that
    ``model=deepsvdd dataset=mnist`` builds without a per-dataset preset. Without it such a net refuses
    images with one line."""
    if isinstance(net, dict):  # a spec saved in a checkpoint's hyperparameters
        net = from_spec(net, "model.net")
    if images is not None and len(input_shape) > 1 and (net is None or getattr(getattr(net, "func", net), "flat_only", False)):
        module = images(input_shape)
        log.info("model.net: %s takes flat inputs; images of shape %s get %s", _name(net or default),
                 tuple(input_shape), type(module).__name__)
    elif net is None:
        module = default(input_shape, **defaults)
    elif isinstance(net, nn.Module):
        module = net
    elif callable(net):
        try:
            module = net(input_shape=input_shape)
        except TypeError as exc:
            if "unexpected keyword argument" not in str(exc):
                raise
            raise ConfigError(_net_mismatch(net, tuple(input_shape), exc)) from None
    else:
        raise ConfigError(f"model.net must be a network config with _target_ (conf/model/net/), got {net!r}")
    if not isinstance(module, nn.Module):
        raise ConfigError(f"model.net must build a torch.nn.Module, got {type(module).__name__}")
    got = getattr(module, "input_shape", None)
    if got is not None and tuple(got) != tuple(input_shape):
        raise ConfigError(f"model.net was built for inputs of shape {tuple(got)}, the data have shape {tuple(input_shape)}")
    require_positive(getattr(module, "rep_dim", None) or 0, f"model.net ({type(module).__name__}).rep_dim", integer=True)
    return module


def _name(net: Any) -> str:
    cls = getattr(net, "func", net)
    return getattr(cls, "__name__", str(cls))


def _net_mismatch(net: Callable[..., nn.Module], input_shape: tuple[int, ...], exc: TypeError) -> str:
    """Why a net config does not build: an image net on flat data (the settings a tabular preset gives
    flat nets do not fit it), else the key it does not take."""
    import inspect

    cls = getattr(net, "func", net)
    name = getattr(cls, "__name__", str(cls))
    try:
        default = inspect.signature(cls).parameters["input_shape"].default
    except (KeyError, TypeError, ValueError):
        default = None
    if isinstance(default, tuple) and len(default) > 1 and len(input_shape) == 1:
        return (f"model.net: {name} is an image net (inputs of shape {default}) but the dataset gives flat events of "
                f"shape {input_shape}; pick a flat net (e.g. model/net=svdd_mlp) or an image dataset")
    return f"model.net ({name}): {exc}; remove that setting or pick a net that takes it (conf/model/net/)"


def require_rep_dim(net: nn.Module, expected: int, model: str) -> None:
    """One line when a net's output size does not fit the model (e.g. OCDN needs rep_dim 1)."""
    if net.rep_dim != expected:
        raise ConfigError(f"model.net.rep_dim is {net.rep_dim} but {model} needs a net with {expected} output(s); "
                          f"set model.net.rep_dim={expected}")

