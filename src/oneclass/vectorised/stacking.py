"""Which modules stack, and stacking them: :func:`stack_modules` turns N members' modules into one of
the stacked layers (:mod:`~oneclass.vectorised.layers`), checked against the members' own outputs;
:func:`unsupported_reason` says why a model cannot (the classes declare it, no list here)."""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from oneclass.errors import ConfigError
from oneclass.models.base import LightningDetector
from oneclass.nets.base import Dropout
from oneclass.vectorised.layers import (PER_CHANNEL_2D, StackedBatchNorm1d, StackedBatchNorm2d, StackedConv2d,
                                        StackedConvTranspose2d, StackedDropout, StackedLinear, StackedPerChannel)

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
