"""Training-data plumbing: batches are slices of one in-memory tensor.

A ``DataLoader`` over a ``TensorDataset`` calls ``__getitem__`` per event and collates; here a
batch is one indexing operation on a tensor that already lives on the training device.
"""

from __future__ import annotations

from collections.abc import Iterator

import torch


class TensorBatches:
    """Iterable of mini-batches of ``x`` (n, d), reshuffled by a fresh permutation each epoch.

    The permutation is drawn from torch's global generator, so it follows the run's seed. The
    last batch may be smaller (as in Keras and PyTorch's ``drop_last=False``).
    """

    def __init__(self, x: torch.Tensor, batch_size: int, shuffle: bool = True) -> None:
        self.x = x
        self.batch_size = int(batch_size)
        self.shuffle = shuffle

    def __len__(self) -> int:
        return (len(self.x) + self.batch_size - 1) // self.batch_size

    def __iter__(self) -> Iterator[torch.Tensor]:
        # A generator: the permutation is drawn at the first batch, not when ``iter()`` is called,
        # so a framework that only probes the iterable does not consume random numbers.
        x = self.x
        if self.shuffle:
            x = x[torch.randperm(len(x)).to(x.device)]
        # contiguous slices (views) of the shuffled copy: no per-batch gather
        yield from x.split(self.batch_size)
