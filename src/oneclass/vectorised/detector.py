"""The stacked detector: :class:`VectorisedDetector` (a model class with N members' parameters
stacked), each member's batches (:class:`MemberBatches`), pretraining per member, and :func:`stack`
(see :mod:`oneclass.vectorised` for how it works)."""

from __future__ import annotations

import copy
import math
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from oneclass.errors import ConfigError, TrainingError
from oneclass.models.base import LightningDetector, check_input, score_chunk
from oneclass.models.pretrain import PretrainHooks
from oneclass.vectorised.layers import STACKED, StackedDropout
from oneclass.vectorised.memory import heap_allocations
from oneclass.vectorised.stacking import check_supported, stack_modules

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
    # the fused optimizer where torch has one (Adam, AdamW, SGD...) and the config does not choose:
    # one kernel per stacked tensor instead of a dozen passes over the members' parameters (the same
    # update, elementwise per member); else LightningDetector's multi-tensor one
    optimizer_implementations = ({"fused": True}, *LightningDetector.optimizer_implementations)

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
