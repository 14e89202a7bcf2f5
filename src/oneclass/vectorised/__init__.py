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

from oneclass.vectorised.detector import MemberBatches, MemberPretraining, VectorisedDetector, member_generator, stack
from oneclass.vectorised.layers import (STACKED, StackedBatchNorm, StackedBatchNorm1d, StackedBatchNorm2d, StackedConv2d,
                                        StackedConvTranspose2d, StackedDropout, StackedLinear, StackedPerChannel, fold_members,
                                        unfold_members)
from oneclass.vectorised.memory import heap_allocations
from oneclass.vectorised.stacking import check_supported, config_reason, stack_modules, unsupported_reason

__all__ = ["STACKED", "MemberBatches", "MemberPretraining", "StackedBatchNorm", "StackedBatchNorm1d", "StackedBatchNorm2d", "StackedConv2d",
           "StackedConvTranspose2d", "StackedDropout", "StackedLinear", "StackedPerChannel", "VectorisedDetector",
           "check_supported", "config_reason", "fold_members", "heap_allocations", "member_generator", "stack", "stack_modules", "unfold_members",
           "unsupported_reason"]
