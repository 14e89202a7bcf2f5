"""The supervised ceiling: the OCDN's network trained with BCE on **labelled** signal vs background.

Not an anomaly detector: it needs signal labels, from a labelled training split that never overlaps
the test events (on LHCO: ``dataset.train_signal_fraction`` puts signal from the front of the signal
list into training, the test signal comes from its end; see ``conf/experiment/lhco/supervised.yaml``).
Scored on the same test background as every detector, its curves are the ceiling the unsupervised
methods are compared with (the OCDN paper quotes max SIC ~17 for a supervised classifier on LHCO).
"""

from __future__ import annotations

from typing import Any

import lightning.pytorch as L
import numpy as np
import torch
import torch.nn.functional as F

from oneclass.errors import ConfigError
from oneclass.models.base import SupervisedDetector, check_input
from oneclass.models.ocdn import OCDN


class Supervised(OCDN, SupervisedDetector):
    """Binary classifier signal (1) vs background (0): score = logit, higher = more signal-like.

    The :class:`~oneclass.models.base.SupervisedDetector` contract: ``fit(x, trainer, y=labels)``,
    ``y`` the training rows' labels (the pipeline passes the dataset's ``y_train``); it borrows
    the OCDN's network, optimizer and training loop, not its one-class contract. Parameters: those of :class:`~oneclass.models.ocdn.OCDN`; ``balance``
    weights the classes by their inverse frequency.
    """

    cannot_vectorise = "it trains on labels (the supervised ceiling), not background only"  # oneclass.vectorised

    def __init__(self, *args: Any, balance: bool = True, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if not isinstance(balance, bool):
            raise ConfigError(f"model.balance must be true or false, got {balance!r}")
        self.balance = balance
        self.register_buffer("pos_weight", torch.ones(()))

    def fit(self, x: np.ndarray, trainer: L.Trainer | None = None, ckpt_path: str | None = None, *,
            y: np.ndarray | None = None) -> "Supervised":
        if trainer is None:
            raise ConfigError("Supervised is a Lightning model and needs a trainer (conf/trainer)")
        x = np.asarray(x)
        check_input(type(self).__name__, x, self.input_shape)
        if y is None or np.shape(y) != (len(x),) or set(np.unique(y).tolist()) != {0, 1}:
            raise ConfigError("model=supervised needs labelled signal and background in its training set: set "
                              "dataset.train_signal_fraction > 0 (e.g. 0.2; experiment=lhco/supervised)")
        y = np.asarray(y, dtype=np.float32)
        if self.balance:
            self.pos_weight.fill_(float((y == 0).sum() / (y == 1).sum()))
        # the label rides along as the last column, so the shuffled batches keep events and labels together
        return self._train_on(np.concatenate([x.reshape(len(x), -1), y[:, None]], axis=1), trainer, ckpt_path)

    def training_loss(self, batch: torch.Tensor) -> torch.Tensor:
        x, y = batch[:, :-1].reshape(-1, *self.input_shape), batch[:, -1]
        return F.binary_cross_entropy_with_logits(self._logits(x), y, pos_weight=self.pos_weight)
