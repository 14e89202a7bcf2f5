"""Seed-vectorised training: N members of one detector that differ only in their seed, trained as
one batched computation.

How it works
------------
* Each member is built exactly as its single-seed job builds it: seeded with its seed, then the
  model's constructor (same torch draws, so the same initial weights, bit for bit). The torch
  random state reached there goes into the member's own ``torch.Generator``.
* :func:`stack` then turns the members into one module of the *same model class*: every
  ``Linear`` becomes one ``(members, in, out)`` weight applied by a batched matmul (``baddbmm``);
  every ``Conv2d`` and ``ConvTranspose2d`` one grouped convolution with the members' channels side
  by side (``groups = members x groups``; channels-last on a CPU, where oneDNN runs it fastest);
  every ``BatchNorm1d`` and ``BatchNorm2d`` keeps per-member running statistics (one
  ``batch_norm`` over members x channels); pooling and upsampling fold the members into the
  channels; every ``Dropout`` draws each member's mask from that member's generator; model
  buffers (Deep SVDD's c and R) get a leading member axis. The model's own ``forward``,
  ``training_loss`` and centre/radius code run unchanged on the stacked tensors: they reduce
  over trailing axes, so they return one loss / distance / radius per member. A net's own
  ``forward`` must take axes before the batch (``flatten(-3)`` rather than ``flatten(1)``;
  functional pooling through :func:`oneclass.nets.base.per_channel_2d`), as the image LeNets do.
* Each epoch every member draws its permutation of the training events from its own generator,
  so member k sees exactly the batches of its single-seed job, whatever the other members are.
* One optimizer steps all stacked parameters on the sum of the members' losses: member k's
  gradient is its own loss's gradient, and for elementwise optimizers (Adam, AdamW, SGD with
  momentum, amsgrad) every member has its own optimizer state - its optimisation is exactly its
  own problem.
* Set-up that a model writes for one net runs per member: the autoencoder pretraining
  (:class:`MemberPretraining`: each member's decoder from its own random state, its batches, its
  loss) and data-dependent initialisations (:meth:`VectorisedDetector.for_each_member`: Deep
  SVDD's ``dictionary_init`` learns each member's first-layer atoms from its own random state).
* A member whose epoch loss is not finite is marked failed (with the single-seed job's message)
  and frozen (its loss no longer enters the sum); the others go on.

What differs from single-seed jobs: the order of float reductions inside the batched kernels, so
the members equal single-seed runs to ~1e-7 after one step and drift apart afterwards: they are
statistically, not bitwise, the same models. In a convolution's weight gradient, a sum over every
pixel of the batch, a few elements come out within float noise of zero; Adam's first step moves
each weight by lr x the sign of its gradient, so those few weights (under 1 %) already differ by
up to 2 lr after one step, as between any two summation orders of the single-seed job.

Any Lightning detector whose nets can be stacked (any net built from Linear, Conv2d,
ConvTranspose2d, BatchNorm1d/2d, Dropout, max/average pooling, upsampling and elementwise
activations, whatever its containers, checked against its members' own outputs when stacked) is
trained this way, unless its class says it cannot (``cannot_vectorise``: a reason, for training
with other per-model state); a net class may say so too (none of the package's nets does). There
is no list to edit for a new model or net. Models do no logging or file IO here; the pipeline
(:mod:`oneclass.run.seed_group`) runs a group and records one MLflow run per member.
"""

from __future__ import annotations

import copy
import inspect
import math
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from oneclass.errors import ConfigError, TrainingError
from oneclass.models.base import LightningDetector, check_input, score_chunk
from oneclass.models.pretrain import PretrainHooks
from oneclass.nets.base import Dropout, dropout_draws, dropout_scale, per_channel_2d

ELEMENTWISE = (nn.ReLU, nn.LeakyReLU, nn.ELU, nn.Tanh, nn.Sigmoid, nn.Identity, nn.GELU, nn.SiLU, nn.Softplus)
LAYERS_TEXT = ("Linear, Conv2d, ConvTranspose2d, BatchNorm1d/2d, Dropout, pooling, upsampling and elementwise "
               "activations")


def unsupported_reason(model_cls: Any, net_cls: Any = None) -> str | None:
    """Why a model class (with its ``model.net`` class, when the config names one) cannot be trained
    vectorised; None if it can. The classes say so themselves (``cannot_vectorise``); a net's layers
    are checked when stacked."""
    name = getattr(model_cls, "__name__", str(model_cls))
    if not (isinstance(model_cls, type) and issubclass(model_cls, LightningDetector)):
        return f"{name} cannot be trained vectorised: it is not a Lightning detector with torch nets to stack"
    if reason := model_cls.cannot_vectorise:
        return f"{name} cannot be trained vectorised: {reason}"
    if net_cls is not None and (reason := getattr(net_cls, "cannot_vectorise", None)):
        return f"model.net {getattr(net_cls, '__name__', net_cls)} cannot be trained vectorised: {reason}"
    return None


def config_reason(model_cfg: Any) -> str | None:
    """:func:`unsupported_reason` of a ``model`` config node (its ``_target_`` and ``net._target_``);
    None when it can be vectorised or its classes cannot be found (the job reports that)."""
    from hydra.utils import get_class

    try:
        model_cls = get_class(str(model_cfg.get("_target_")))
        net = model_cfg.get("net")
        net_cls = get_class(str(net.get("_target_"))) if net is not None and net.get("_target_") else None
    except Exception:
        return None
    return unsupported_reason(model_cls, net_cls)


def check_supported(detector: Any, where: str = "model") -> None:
    """One line when ``detector`` (or its net) cannot be trained vectorised."""
    net = getattr(detector, "net", None)
    reason = unsupported_reason(type(detector), type(net) if isinstance(net, nn.Module) else None)
    if reason:
        raise ConfigError(f"{where}: {reason}; run its seeds as separate jobs (without hydra/sweeper=seed_batch)")


# --------------------------------------------------------------------------- stacked layers
class StackedLinear(nn.Module):
    """N ``Linear`` layers as one ``(N, in, out)`` weight and ``(N, 1, out)`` bias: ``baddbmm``.

    Takes ``(N, B, in)`` (each member its own batch) or ``(B, in)`` (one batch for all members).
    """

    def __init__(self, layers: Sequence[nn.Linear]) -> None:
        super().__init__()
        self.n_members = len(layers)
        self.in_features, self.out_features = layers[0].in_features, layers[0].out_features
        with torch.no_grad():
            self.weight = nn.Parameter(torch.stack([layer.weight.detach().t() for layer in layers]).contiguous())
            bias = layers[0].bias is not None
            self.bias = nn.Parameter(torch.stack([layer.bias.detach() for layer in layers]).unsqueeze(1)) if bias else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() == 2:
            x = x.unsqueeze(0).expand(self.n_members, -1, -1)
        if self.bias is None:
            return torch.bmm(x, self.weight)
        return torch.baddbmm(self.bias, x, self.weight)

    @torch.no_grad()
    def write_member(self, k: int, layer: nn.Linear) -> None:
        layer.weight.copy_(self.weight[k].t())
        if self.bias is not None:
            layer.bias.copy_(self.bias[k, 0])

    @torch.no_grad()
    def read_member(self, k: int, layer: nn.Linear) -> None:
        self.weight[k].copy_(layer.weight.t())
        if self.bias is not None:
            self.bias[k, 0].copy_(layer.bias)


def fold_members(x: torch.Tensor) -> torch.Tensor:
    """``(N, B, C, ...)`` -> ``(B, N * C, ...)``: the members' channels side by side (a view when
    ``x`` is laid out batch-first, as :func:`unfold_members` leaves it)."""
    return x.transpose(0, 1).flatten(1, 2)


def unfold_members(y: torch.Tensor, n: int) -> torch.Tensor:
    """``(B, N * C, ...)`` -> ``(N, B, C, ...)``, a view (batch-first in memory)."""
    return y.unflatten(1, (n, -1)).transpose(0, 1)


class StackedBatchNorm(nn.Module):
    """N BatchNorm layers (``BatchNorm1d`` on ``(N, B, C)``, ``BatchNorm2d`` on ``(N, B, C, H, W)``):
    per-member batch statistics and running averages, computed by one ``batch_norm`` over the N x C
    channels side by side (exactly torch's BatchNorm per member). Takes one batch for all members
    (``(B, C)`` / ``(B, C, H, W)``) too."""

    batch_norm = True  # for oneclass.models.base.has_batch_norm
    event_dims = 1  # axes of one event: (C,) or (C, H, W)
    layer_name = "BatchNorm"

    def __init__(self, layers: Sequence[nn.modules.batchnorm._BatchNorm]) -> None:
        super().__init__()
        first = layers[0]
        self.n_members, self.num_features = len(layers), first.num_features
        self.eps, self.momentum = first.eps, first.momentum
        self.affine, self.track_running_stats = first.affine, first.track_running_stats
        with torch.no_grad():
            if self.affine:
                self.weight = nn.Parameter(torch.stack([m.weight.detach() for m in layers]))
                self.bias = nn.Parameter(torch.stack([m.bias.detach() for m in layers]))
            else:
                self.weight = self.bias = None
            if self.track_running_stats:
                self.register_buffer("running_mean", torch.stack([m.running_mean for m in layers]))
                self.register_buffer("running_var", torch.stack([m.running_var for m in layers]))
                self.register_buffer("num_batches_tracked", first.num_batches_tracked.clone())
            else:
                self.running_mean = self.running_var = self.num_batches_tracked = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() == self.event_dims + 1:  # one batch for all members
            x = x.unsqueeze(0).expand(self.n_members, *x.shape)
        if x.dim() != self.event_dims + 2 or x.shape[0] != self.n_members:
            raise TrainingError(f"stacked {self.layer_name} takes (members, batch, {self.num_features} channels"
                                f"{', H, W' if self.event_dims == 3 else ''}), got shape {tuple(x.shape)}")
        # torch's _BatchNorm.forward, per member: the members' channels side by side in one batch_norm
        factor = 0.0 if self.momentum is None else self.momentum
        if self.training and self.track_running_stats:
            self.num_batches_tracked.add_(1)
            factor = 1.0 / float(self.num_batches_tracked) if self.momentum is None else self.momentum
        batch_stats = self.training or self.running_mean is None
        use_running = self.running_mean is not None and (not self.training or self.track_running_stats)
        out = F.batch_norm(
            fold_members(x),
            self.running_mean.view(-1) if use_running else None,
            self.running_var.view(-1) if use_running else None,
            None if self.weight is None else self.weight.view(-1),
            None if self.bias is None else self.bias.view(-1),
            batch_stats, factor, self.eps,
        )
        return unfold_members(out, self.n_members)

    @torch.no_grad()
    def write_member(self, k: int, layer: nn.modules.batchnorm._BatchNorm) -> None:
        if self.affine:
            layer.weight.copy_(self.weight[k])
            layer.bias.copy_(self.bias[k])
        if self.track_running_stats:
            layer.running_mean.copy_(self.running_mean[k])
            layer.running_var.copy_(self.running_var[k])
            layer.num_batches_tracked.copy_(self.num_batches_tracked)

    @torch.no_grad()
    def read_member(self, k: int, layer: nn.modules.batchnorm._BatchNorm) -> None:
        if self.affine:
            self.weight[k].copy_(layer.weight)
            self.bias[k].copy_(layer.bias)
        if self.track_running_stats:
            self.running_mean[k].copy_(layer.running_mean)
            self.running_var[k].copy_(layer.running_var)


class StackedBatchNorm1d(StackedBatchNorm):
    """N ``BatchNorm1d`` layers on ``(N, B, C)`` (:class:`StackedBatchNorm`)."""

    event_dims, layer_name = 1, "BatchNorm1d"


class StackedBatchNorm2d(StackedBatchNorm):
    """N ``BatchNorm2d`` layers on ``(N, B, C, H, W)`` (:class:`StackedBatchNorm`)."""

    event_dims, layer_name = 3, "BatchNorm2d"


def _layout(x: torch.Tensor) -> torch.Tensor:
    """The memory layout a stacked convolution takes: channels-last on a CPU, where oneDNN's grouped
    (transposed) convolutions run 1.2-3.5x faster in it than in NCHW (forward and backward of the
    MNIST LeNet's five, 10 members, batch 200, one thread), and BatchNorm and max-pooling after
    them too; the layers after it keep it. Elsewhere as it comes."""
    return x.contiguous(memory_format=torch.channels_last) if x.device.type == "cpu" else x


class StackedConv2d(nn.Module):
    """N ``Conv2d`` layers (zero padding, any stride, dilation and groups) as one grouped convolution:
    the members' channels side by side, ``groups = N x groups``; weight ``(N, out, in / groups, kh, kw)``.

    Takes ``(N, B, C, H, W)`` (each member its own batch) or ``(B, C, H, W)`` (one batch for all
    members: one ordinary convolution with the N x out filters); returns ``(N, B, out, H', W')``,
    laid out batch-first in memory (:func:`unfold_members`), which the next stacked layer, an
    elementwise activation or :func:`oneclass.nets.base.per_channel_2d` takes without a copy.
    """

    def __init__(self, layers: Sequence[nn.Conv2d]) -> None:
        super().__init__()
        first = layers[0]
        if first.padding_mode != "zeros":
            raise ConfigError(f"vectorised training stacks Conv2d with zero padding, got padding_mode={first.padding_mode!r}")
        self.n_members, self.in_channels, self.out_channels = len(layers), first.in_channels, first.out_channels
        self.stride, self.padding, self.dilation, self.groups = first.stride, first.padding, first.dilation, first.groups
        with torch.no_grad():
            self.weight = nn.Parameter(torch.stack([m.weight.detach() for m in layers]))
            self.bias = nn.Parameter(torch.stack([m.bias.detach() for m in layers])) if first.bias is not None else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n = self.n_members
        weight = self.weight.flatten(0, 1)  # (N * out, in / groups, kh, kw)
        bias = None if self.bias is None else self.bias.view(-1)
        if x.dim() == 4 and self.groups == 1:  # one batch for all members: every member's filters on it
            out = F.conv2d(_layout(x), weight, bias, self.stride, self.padding, self.dilation, 1)
        else:
            if x.dim() == 4:
                x = x.unsqueeze(0).expand(n, *x.shape)
            out = F.conv2d(_layout(fold_members(x)), weight, bias, self.stride, self.padding, self.dilation, n * self.groups)
        return unfold_members(out, n)

    @torch.no_grad()
    def write_member(self, k: int, layer: nn.Conv2d) -> None:
        layer.weight.copy_(self.weight[k])
        if self.bias is not None:
            layer.bias.copy_(self.bias[k])

    @torch.no_grad()
    def read_member(self, k: int, layer: nn.Conv2d) -> None:
        self.weight[k].copy_(layer.weight)
        if self.bias is not None:
            self.bias[k].copy_(layer.bias)


class StackedConvTranspose2d(StackedConv2d):
    """N ``ConvTranspose2d`` layers as one grouped transposed convolution (as :class:`StackedConv2d`;
    weight ``(N, in, out / groups, kh, kw)``)."""

    def __init__(self, layers: Sequence[nn.ConvTranspose2d]) -> None:
        super().__init__(layers)
        self.output_padding = layers[0].output_padding

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n = self.n_members
        if x.dim() == 4:
            x = x.unsqueeze(0).expand(n, *x.shape)
        out = F.conv_transpose2d(_layout(fold_members(x)), self.weight.flatten(0, 1), None if self.bias is None else self.bias.view(-1),
                                 self.stride, self.padding, self.output_padding, n * self.groups, self.dilation)
        return unfold_members(out, n)


class StackedPerChannel(nn.Module):
    """A parameter-free 2-d layer that treats every channel alike and apart (``MaxPool2d``,
    ``AvgPool2d``, ``Upsample``...) on ``(N, B, C, H, W)``: the members folded into the channels
    (:func:`oneclass.nets.base.per_channel_2d`)."""

    def __init__(self, layer: nn.Module) -> None:
        super().__init__()
        self.layer = copy.deepcopy(layer)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return per_channel_2d(self.layer, x)

    def write_member(self, k: int, layer: nn.Module) -> None:
        pass

    def read_member(self, k: int, layer: nn.Module) -> None:
        pass


class StackedDropout(nn.Module):
    """``Dropout(p)`` with each member's mask drawn from that member's generator, in the order its
    single-seed run draws it: :func:`oneclass.nets.base.dropout_draws` for the nets' own
    :class:`oneclass.nets.base.Dropout` (``net_masks``), ``bernoulli_(1 - p)`` for a plain
    ``nn.Dropout`` (what ``F.dropout`` draws)."""

    def __init__(self, p: float, net_masks: bool = False) -> None:
        super().__init__()
        self.p, self.net_masks = float(p), bool(net_masks)
        self.generators: list[torch.Generator] | None = None  # set by VectorisedDetector.fit

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0.0:
            return x
        if self.p == 1.0:
            return x * torch.zeros_like(x)
        if self.generators is None or len(self.generators) != x.shape[0]:
            raise TrainingError("stacked Dropout has no per-member generators (train through VectorisedDetector.fit)")
        keep = 1.0 - self.p
        if self.net_masks:
            n = x[0].numel()
            draws = torch.stack([dropout_draws(n, keep, x.dtype, x.device, generator=g) for g in self.generators])
            return x * dropout_scale(draws, keep, n, x.dtype).view(x.shape)
        noise = torch.stack([torch.empty(x.shape[1:], dtype=x.dtype, device=x.device).bernoulli_(keep, generator=g)
                             for g in self.generators])
        return x * noise.div_(keep)

    def write_member(self, k: int, layer: nn.Dropout) -> None:
        pass

    def read_member(self, k: int, layer: nn.Dropout) -> None:
        pass


STACKED = (StackedLinear, StackedBatchNorm, StackedConv2d, StackedDropout, StackedPerChannel)
# parameter-free 2-d layers that treat every channel alike and apart
PER_CHANNEL_2D = (nn.MaxPool2d, nn.AvgPool2d, nn.Upsample, nn.UpsamplingNearest2d, nn.UpsamplingBilinear2d)


def _default_forward(m: nn.Module) -> bool:
    """Containers whose forward only calls their children in order (or that have no forward)."""
    if type(m) is nn.ModuleList or type(m) is nn.ModuleDict:
        return True
    return isinstance(m, nn.Sequential) and type(m).forward is nn.Sequential.forward


PROBE_EVENTS = 3


@torch.no_grad()
def _check_stacked(stacked: nn.Module, modules: Sequence[nn.Module], where: str) -> None:
    """A stacked net whose own ``forward`` is run on a member axis must give each member's output:
    checked in eval mode on a few events of fixed random values (a generator of its own, so no
    member's random numbers are used), both as one batch per member and one batch for all."""
    shape = tuple(modules[0].input_shape)
    gen = torch.Generator().manual_seed(0)
    param = next(modules[0].parameters(), None)
    dtype = param.dtype if param is not None else torch.get_default_dtype()
    x = torch.randn(len(modules), PROBE_EVENTS, *shape, generator=gen).to(dtype)
    modes = [m.training for m in (stacked, *modules)]
    try:
        for m in (stacked, *modules):
            m.eval()
        want = [m(x[k]) for k, m in enumerate(modules)]
        ok = all(isinstance(w, torch.Tensor) for w in want)
        if ok:
            own, shared = stacked(x), stacked(x[0])
            ok = (tuple(own.shape) == (len(modules), *want[0].shape) and tuple(shared.shape) == tuple(own.shape)
                  and all(torch.allclose(own[k], w, rtol=1e-4, atol=1e-5) for k, w in enumerate(want))
                  and torch.allclose(shared[0], want[0], rtol=1e-4, atol=1e-5))
    except (RuntimeError, ValueError, IndexError, TypeError):
        ok = False
    finally:
        for m, mode in zip((stacked, *modules), modes):
            m.train(mode)
    if not ok:
        raise ConfigError(f"vectorised training cannot stack '{where}' ({type(modules[0]).__name__}): its forward does "
                          "not give each member's output on a leading member axis (nets must take any axes before the "
                          "batch: flatten(-3) rather than flatten(1), pooling through oneclass.nets.base.per_channel_2d, "
                          "and return a tensor); run its seeds as separate jobs (without hydra/sweeper=seed_batch)")


def stack_modules(modules: Sequence[nn.Module], where: str, checked: bool = False) -> nn.Module:
    """One module computing all of ``modules`` (identical architectures) on a leading member axis.

    Leaves (Linear, Conv2d, ConvTranspose2d, BatchNorm1d/2d, Dropout, pooling and upsampling
    modules) become their stacked forms, elementwise activations stay;
    any other module with children is a container that keeps its own ``forward``. A net with its own
    forward (one with ``input_shape``, the net contract) is checked against its members' outputs;
    ``checked``: an enclosing net is."""
    first = modules[0]
    kinds = {type(m) for m in modules}
    if len(kinds) > 1:
        raise ConfigError(f"vectorised members differ in their networks at '{where}' ({sorted(k.__name__ for k in kinds)})")
    shapes = {tuple((n, tuple(t.shape)) for n, t in m.state_dict().items()) for m in modules}
    if len(shapes) > 1:
        raise ConfigError(f"vectorised members differ in their network shapes at '{where}'; they must differ only in seed")
    if type(first) is nn.Linear:
        return StackedLinear(modules)
    if type(first) is nn.BatchNorm1d:
        return StackedBatchNorm1d(modules)
    if type(first) is nn.BatchNorm2d:
        return StackedBatchNorm2d(modules)
    if type(first) is nn.Conv2d:
        return StackedConv2d(modules)
    if type(first) is nn.ConvTranspose2d:
        return StackedConvTranspose2d(modules)
    if type(first) in PER_CHANNEL_2D:
        return StackedPerChannel(first)
    if type(first) in (nn.Dropout, Dropout):
        return StackedDropout(first.p, net_masks=type(first) is Dropout)
    if isinstance(first, ELEMENTWISE) and not list(first.parameters()) and not list(first.buffers()):
        return copy.deepcopy(first)
    if first._modules or isinstance(first, (nn.ModuleList, nn.ModuleDict, nn.Sequential)):
        # a container (a net, a block, a Sequential): its own forward on its stacked children
        if list(first.parameters(recurse=False)) or list(first.buffers(recurse=False)):
            raise ConfigError(f"vectorised training cannot stack '{where}' ({type(first).__name__}): it holds parameters itself")
        out = copy.copy(first)  # the container's own attributes; children, parameters and hooks are its own
        out.__dict__.update(_parameters={}, _buffers={}, _non_persistent_buffers_set=set())
        net = getattr(first, "input_shape", None) is not None
        out._modules = {name: stack_modules([m._modules[name] for m in modules], f"{where}.{name}", checked or net)
                        for name in first._modules}
        if not _default_forward(first) and net:
            _check_stacked(out, modules, where)
        elif not _default_forward(first) and not checked:
            raise ConfigError(f"vectorised training cannot check '{where}' ({type(first).__name__}): a net with its own "
                              "forward needs an input_shape attribute (the net contract, oneclass.nets.base)")
        return out
    raise ConfigError(f"vectorised training stacks nets built from {LAYERS_TEXT}; model.net has "
                      f"{type(first).__name__} at '{where}': run its seeds as separate jobs (without hydra/sweeper=seed_batch)")


# --------------------------------------------------------------------------- batches
class MemberBatches:
    """Per epoch, each member's own permutation of the training events (from its generator, as its
    single-seed job's ``TensorBatches`` draws it); yields blocks ``(members, block, *input_shape)``.

    ``x`` is one training set for all members ``(n, *input_shape)`` or one per member
    ``(members, n, *input_shape)`` (datasets generated from the seed).
    """

    def __init__(self, x: torch.Tensor, block_size: int, generators: Sequence[torch.Generator], shared: bool) -> None:
        self.x, self.block_size, self.generators, self.shared = x, int(block_size), list(generators), shared
        self.n = x.shape[0] if shared else x.shape[1]

    def __len__(self) -> int:
        return (self.n + self.block_size - 1) // self.block_size

    def __iter__(self) -> Iterator[torch.Tensor]:
        # drawn at the first block, like TensorBatches: probing iter() consumes no random numbers
        perms = torch.stack([torch.randperm(self.n, generator=g) for g in self.generators]).to(self.x.device)
        rows = None if self.shared else torch.arange(len(self.generators), device=self.x.device).unsqueeze(1)
        for start in range(0, self.n, self.block_size):
            idx = perms[:, start : start + self.block_size]
            yield self.x[idx] if self.shared else self.x[rows, idx]


# --------------------------------------------------------------------------- allocations on a CPU
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD, _M_MMAP_MAX = -1, -3, -4  # glibc's mallopt parameters
_LIBC: Any = None


def _mallopt() -> Any:
    """glibc's ``mallopt`` (None elsewhere: macOS, musl)."""
    global _LIBC
    if _LIBC is None:
        import ctypes
        import ctypes.util

        try:
            libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
            _LIBC = libc if hasattr(libc, "mallopt") and hasattr(libc, "malloc_trim") and hasattr(libc, "gnu_get_libc_version") else False
        except OSError:
            _LIBC = False
    return _LIBC or None


class heap_allocations:
    """Within it, on glibc: every allocation from the heap, none through ``mmap``.

    glibc serves allocations above 32 MiB by a fresh ``mmap`` and gives each back to the system
    when it is freed, so each one is page-faulted in again, page by page, when written. Stacked
    members' activations pass that size where a single net's do not (MNIST LeNet, 10 members,
    batch 200: 50 MB per layer), and every elementwise layer then ran 3-4x slower per value than
    the single nets' (one thread of 2 shared cores: the stacked LeNet's training step 1.4x faster
    than ten single nets' with mmap, 2.1x without). On leaving, the settings glibc reaches by
    itself once it has freed a large block (mmap above 32 MiB, trim above 64 MiB) are set and the
    unused heap is given back (``malloc_trim``). Does nothing when ``enabled`` is false (a GPU) or
    outside glibc."""

    depth = 0  # nested uses (fit scores the training data) restore once, at the outermost exit

    def __init__(self, enabled: bool = True) -> None:
        self.libc = _mallopt() if enabled else None

    def __enter__(self) -> "heap_allocations":
        if self.libc is not None:
            if heap_allocations.depth == 0:
                self.libc.mallopt(_M_MMAP_MAX, 0)
                self.libc.mallopt(_M_TRIM_THRESHOLD, 2**31 - 1)
            heap_allocations.depth += 1
        return self

    def __exit__(self, *exc: Any) -> None:
        if self.libc is not None:
            heap_allocations.depth -= 1
            if heap_allocations.depth == 0:
                self.libc.mallopt(_M_MMAP_THRESHOLD, 32 << 20)
                self.libc.mallopt(_M_TRIM_THRESHOLD, 64 << 20)
                self.libc.mallopt(_M_MMAP_MAX, 65536)
                self.libc.malloc_trim(0)


# --------------------------------------------------------------------------- the stacked detector
class VectorisedDetector:
    """Mixed in before a supported detector class by :func:`stack`: the same model with stacked
    nets and buffers (leading member axis), trained by one Lightning ``Trainer``.

    ``fit`` takes one training set for all members ``(n, *input_shape)`` or one per member
    ``(members, n, *input_shape)``; ``score`` returns ``(members, n)``. :meth:`member` gives member k
    as an ordinary single-seed detector with its trained weights.
    """

    n_members: int
    seeds: list[int]
    model_name: str

    # ------------------------------------------------------------------ set-up
    def _init_members(self, members: list[LightningDetector], generators: list[torch.Generator], seeds: list[int]) -> None:
        self.n_members = len(members)
        self.seeds = list(seeds)
        self.model_name = type(members[0]).__name__
        self._members = members
        self.generators = generators
        self._dropout_generators: list[torch.Generator] = generators
        self.register_buffer("alive", torch.ones(self.n_members, dtype=torch.bool))
        self.failures: dict[int, str] = {}

    @property
    def eval_chunk(self) -> int:
        """Events per member in one evaluation pass: a single model's chunk shared by the members."""
        return max(1, score_chunk(self.input_shape) // self.n_members)

    def _shared_input(self, x: Any) -> bool:
        shape = tuple(self.input_shape)
        if tuple(x.shape[1:]) == shape and x.ndim == len(shape) + 1:
            return True
        if x.ndim == len(shape) + 2 and tuple(x.shape[2:]) == shape and x.shape[0] == self.n_members:
            return False
        raise ConfigError(f"{len(self.seeds)} vectorised {self.model_name} members take (n, {', '.join(map(str, shape))}) "
                          f"or ({self.n_members}, n, {', '.join(map(str, shape))}) inputs, got shape {tuple(x.shape)}")

    def check_training_input(self, x: np.ndarray) -> None:
        if self._shared_input(x):
            check_input(self.model_name, x, self.input_shape)

    def training_batches(self, x: torch.Tensor) -> MemberBatches:
        self._set_dropout_generators(x.device)
        return MemberBatches(x, self.batch_size * self.batches_per_step, self.generators, self._shared_input(x))

    def _set_dropout_generators(self, device: torch.device) -> None:
        """Dropout masks are drawn on the training device: on CPU from each member's own generator
        (the same stream as its single-seed run), on a GPU from a device generator seeded with the
        member's seed (its state is kept in the checkpoint)."""
        if device.type == "cpu":
            self._dropout_generators = self.generators
        elif not self._dropout_generators or self._dropout_generators[0].device != device:
            self._dropout_generators = [torch.Generator(device=device).manual_seed(int(s)) for s in self.seeds]
        for m in self.modules():
            if isinstance(m, StackedDropout):
                m.generators = self._dropout_generators

    # ------------------------------------------------------------------ training
    def make_optimizer(self, params: Any, lr: float | None = None, weight_decay: float | None = None) -> torch.optim.Optimizer:
        """The configured optimizer, as its fused implementation where torch has one (Adam, AdamW,
        SGD...) and the config does not choose: one kernel per stacked tensor instead of a dozen
        passes over the members' parameters (the same update, elementwise per member)."""
        factory = self.optimizer_factory
        keywords = getattr(factory, "keywords", {}) or {}
        target = getattr(factory, "func", factory)
        params = list(params)
        if "fused" in inspect.signature(target).parameters and not {"fused", "foreach"} & set(keywords):
            try:
                opt = target(params, lr=self.lr if lr is None else lr,
                             weight_decay=self.weight_decay if weight_decay is None else weight_decay,
                             **keywords, fused=True)
                return opt
            except (RuntimeError, TypeError, ValueError):  # no fused kernel for this device or dtype
                pass
        return super().make_optimizer(params, lr=lr, weight_decay=weight_decay)

    # LightningDetector.training_step's block loop runs over the events of (members, n, ...) blocks
    block_event_axis = 1

    def optimise_batch(self, batch: torch.Tensor, optimizers: Any) -> torch.Tensor:
        """One optimizer step on the sum of the living members' losses of ``batch`` (members, n, ...);
        returns each member's detached loss, shape (members,)."""
        losses = self.training_loss(batch)
        objective = losses.sum() if not self.failures else torch.where(self.alive, losses, torch.zeros_like(losses)).sum()
        optimizers.zero_grad()
        self.manual_backward(objective)
        optimizers.step()
        return losses.detach()

    def member_epoch_losses(self) -> list[float] | None:
        """Each member's mean training loss over the current epoch so far (None before the first step)."""
        if self._loss_sum is None:
            return None
        return (self._loss_sum / self._loss_count).tolist()

    def epoch_loss(self) -> float | None:
        """The mean over living members (what the progress bar shows)."""
        losses = self.member_epoch_losses()
        if losses is None:
            return None
        alive = [v for v, ok in zip(losses, self.alive.tolist()) if ok and math.isfinite(v)]
        return float(np.mean(alive)) if alive else float("nan")

    def on_train_epoch_end(self) -> None:
        losses = self.member_epoch_losses()
        if losses is not None:
            for k, value in enumerate(losses):
                if bool(self.alive[k]) and not math.isfinite(value):
                    self.fail_member(k, f"{self.model_name}: training loss is {value} in epoch {self.current_epoch}; "
                                        "the model diverged (lower model.lr?)")
        if not bool(self.alive.any()):
            raise TrainingError(f"all {self.n_members} vectorised members failed; seed {self.seeds[0]}: {self.failures[0]}")
        super().on_train_epoch_end()

    def fail_member(self, k: int, message: str) -> None:
        """Freeze member ``k`` (its loss leaves the objective) and remember why."""
        self.alive[k] = False
        self.failures[int(k)] = message

    # ------------------------------------------------------------------ Deep SVDD pretraining
    def pretraining_hooks(self) -> "MemberPretraining":
        return MemberPretraining(self)

    # ------------------------------------------------------------------ checkpoint
    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        super().on_save_checkpoint(checkpoint)
        checkpoint["vectorised"] = {
            "seeds": list(self.seeds),
            "generators": [g.get_state() for g in self.generators],
            "dropout_generators": [g.get_state() for g in self._dropout_generators] if self._dropout_generators is not self.generators else None,
            "failures": {int(k): str(v) for k, v in self.failures.items()},
        }

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        super().on_load_checkpoint(checkpoint)
        state = checkpoint.get("vectorised")
        if not state or list(state.get("seeds", [])) != list(self.seeds):
            raise TrainingError(f"checkpoint holds vectorised members {state.get('seeds') if state else None}, "
                                f"this group trains seeds {self.seeds}")
        for g, s in zip(self.generators, state["generators"]):
            g.set_state(s)
        self._pending_dropout_states = state.get("dropout_generators")
        self.failures = {int(k): str(v) for k, v in state.get("failures", {}).items()}

    def on_fit_start(self) -> None:
        pending, self._pending_dropout_states = getattr(self, "_pending_dropout_states", None), None
        if pending is not None and self.device.type != "cpu":  # resumed on a GPU: device generators continue
            self._dropout_generators = [torch.Generator(device=self.device) for _ in pending]
            for g, s in zip(self._dropout_generators, pending):
                g.set_state(s)
            self._set_dropout_generators(self.device)
        super().on_fit_start()

    def fit(self, x: np.ndarray, trainer: Any = None, ckpt_path: str | None = None) -> "VectorisedDetector":
        """:meth:`LightningDetector.fit`, with large tensors kept on the heap on a CPU (:class:`heap_allocations`)."""
        on_cpu = trainer is not None and trainer.strategy.root_device.type == "cpu"
        with heap_allocations(on_cpu):
            return super().fit(x, trainer=trainer, ckpt_path=ckpt_path)

    # ------------------------------------------------------------------ scoring and members
    @torch.no_grad()
    def score(self, x: np.ndarray, batch_size: int | None = None) -> np.ndarray:
        """Scores of every member, ``(members, n)`` float64: ``x`` is one set for all members
        ``(n, *input_shape)`` or one per member ``(members, n, *input_shape)``."""
        x = np.asarray(x)
        self._shared_input(x)
        was_training = self.training
        self.eval()
        try:
            xt = torch.as_tensor(x, dtype=torch.float32, device=self.device)
            with heap_allocations(self.device.type == "cpu"):
                out = [self(chunk).double() for chunk in self.event_chunks(xt, batch_size)]
        finally:
            self.train(was_training)
        return torch.cat(out, dim=-1).cpu().numpy() if out else np.zeros((self.n_members, 0))

    @torch.no_grad()
    def member(self, k: int) -> LightningDetector:
        """Member ``k`` as its own (single-seed) detector, with the trained weights and buffers."""
        model = self._members[k]
        for name, module in self.named_modules():
            if isinstance(module, STACKED):
                module.write_member(k, model.get_submodule(name))
        for name, buf in self.named_buffers(recurse=False):
            if name in model._buffers:
                model._buffers[name].copy_(buf[k].to(model._buffers[name].device))
        return model

    @torch.no_grad()
    def read_member(self, k: int, model: LightningDetector) -> None:
        """Member ``k``'s weights and buffers taken from ``model`` (a single detector of its class):
        the inverse of :meth:`member`."""
        for name, module in self.named_modules():
            if isinstance(module, STACKED):
                module.read_member(k, model.get_submodule(name))
        for name, buf in self.named_buffers(recurse=False):
            if name in model._buffers:
                buf[k].copy_(model._buffers[name])

    def for_each_member(self, fn: Any, x: torch.Tensor) -> None:
        """``fn(model, x)`` (:meth:`LightningDetector.for_each_member`) on each living member as its
        single-seed job runs it: on the member as a single detector (its current weights, on the
        training device), under its own torch random state (which goes on from there) and with its
        training data; the member's weights are then taken back into the stack."""
        shared = self._shared_input(x)
        for k in range(self.n_members):
            if not bool(self.alive[k]):
                continue
            model = self.member(k)
            device = next(model.parameters()).device
            model.to(x.device)
            try:
                with torch.random.fork_rng(devices=[]):
                    torch.set_rng_state(self.generators[k].get_state())
                    fn(model, x if shared else x[k])
                    self.generators[k].set_state(torch.get_rng_state())
                self.read_member(k, model)
            finally:
                model.to(device)


class MemberPretraining(PretrainHooks):
    """The shared autoencoder pretraining loop (:func:`oneclass.models.pretrain.pretrain_autoencoder`)
    for stacked members: each member's decoder built from its own random state exactly as its
    single-seed job builds it, its own batch order, the sum of the living members' losses, and a
    member whose epoch loss is not finite failed alone."""

    def __init__(self, group: VectorisedDetector) -> None:
        super().__init__(len(group.input_shape), group.model_name)
        self.group = group

    def decoder(self, net: nn.Module) -> nn.Module:
        group, decoders = self.group, []
        for k, member in enumerate(group._members):
            with torch.random.fork_rng(devices=[]):
                torch.set_rng_state(group.generators[k].get_state())
                decoders.append(member.net.decoder())
                group.generators[k].set_state(torch.get_rng_state())
        decoder = stack_modules(decoders, "decoder")
        for m in decoder.modules():
            if isinstance(m, StackedDropout):
                m.generators = group._dropout_generators
        return decoder

    def batches(self, x: torch.Tensor, batch_size: int) -> MemberBatches:
        return MemberBatches(x, batch_size, self.group.generators, self.group._shared_input(x))

    def objective(self, loss: torch.Tensor) -> torch.Tensor:
        group = self.group
        return loss.sum() if not group.failures else torch.where(group.alive, loss, torch.zeros_like(loss)).sum()

    def check(self, mean: torch.Tensor, epoch: int) -> None:
        group = self.group
        for k, value in enumerate(mean.tolist()):
            if bool(group.alive[k]) and not math.isfinite(value):
                group.fail_member(k, f"{self.model} pretraining loss is {value} in epoch {epoch}; lower model.pretrain_lr")
        if not bool(group.alive.any()):
            raise TrainingError(f"all {group.n_members} vectorised members failed; seed {group.seeds[0]}: {group.failures[0]}")


_CLASSES: dict[type, type] = {}


def vectorised_class(cls: type) -> type:
    """``Vectorised<cls>``: :class:`VectorisedDetector` mixed in before ``cls``."""
    if cls not in _CLASSES:
        _CLASSES[cls] = type(f"Vectorised{cls.__name__}", (VectorisedDetector, cls), {"__module__": __name__})
    return _CLASSES[cls]


def stack(members: Sequence[LightningDetector], generators: Sequence[torch.Generator], seeds: Sequence[int]) -> Any:
    """One vectorised detector training ``members`` (built with their seeds; ``generators`` hold
    each one's torch random state right after it was built) as one batched computation."""
    members = list(members)
    if len(members) != len(generators) or len(members) != len(seeds) or not members:
        raise ConfigError("stack() needs one generator and one seed per member")
    for m in members:
        check_supported(m)
    if len({type(m) for m in members}) > 1:
        raise ConfigError(f"vectorised members must be one model class, got {sorted({type(m).__name__ for m in members})}")
    first = members[0]
    if list(first.parameters(recurse=False)):
        raise ConfigError(f"vectorised training cannot stack {type(first).__name__}: it holds parameters outside its nets")
    group = copy.deepcopy(first)
    for name in list(first._modules):
        setattr(group, name, stack_modules([m._modules[name] for m in members], name))
    for name in list(first._buffers):
        group._buffers[name] = torch.stack([m._buffers[name] for m in members])
    group.__class__ = vectorised_class(type(first))
    group._init_members(members, list(generators), list(seeds))
    return group


def member_generator() -> torch.Generator:
    """A generator holding the current global torch (CPU) random state: call right after a member is built."""
    g = torch.Generator()
    g.set_state(torch.get_rng_state())
    return g


__all__ = ["MemberBatches", "MemberPretraining", "StackedBatchNorm", "StackedBatchNorm1d", "StackedBatchNorm2d", "StackedConv2d",
           "StackedConvTranspose2d", "StackedDropout", "StackedLinear", "StackedPerChannel", "VectorisedDetector",
           "check_supported", "config_reason", "fold_members", "heap_allocations", "member_generator", "stack", "stack_modules", "unfold_members",
           "unsupported_reason"]
