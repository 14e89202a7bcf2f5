"""The stacked layers: one module holding N members' ``Linear`` / ``Conv2d`` / ``ConvTranspose2d`` /
``BatchNorm`` / ``Dropout`` / per-channel 2-d layers, applied to inputs with a leading member axis
(see :mod:`oneclass.vectorised`)."""

from __future__ import annotations

import copy
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from oneclass.errors import ConfigError, TrainingError
from oneclass.nets.base import dropout_draws, dropout_scale, per_channel_2d

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
