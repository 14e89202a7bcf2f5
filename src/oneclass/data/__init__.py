"""Datasets: each is a :class:`~oneclass.data.base.Dataset` whose ``load(seed)`` returns a
:class:`~oneclass.data.base.DataBundle` of background-only training events and a labelled test set."""

from oneclass.data.base import DataBundle, Dataset

__all__ = ["DataBundle", "Dataset"]
