"""DUAD: Deep Unsupervised Anomaly Detection (Li et al., WACV 2021).

An autoencoder trained on a subset of its training set that is re-selected as it learns, so that
anomalies hiding in unlabelled training data stop shaping it. Normal events are the majority and
gather in compact clusters; anomalies fall into spread-out ones. So:

1. before training, the training events are clustered (``clustering``: a Gaussian mixture or
   k-means with ``n_clusters``) and the ``p0`` % of clusters with the largest variance (mean squared
   distance to their centre) are dropped;
2. every ``r`` epochs all training events are clustered again, now on [code, cosine similarity
   of x and x'] from the current autoencoder, and the ``p`` % most spread-out clusters are dropped
   from the set the next epochs train on.

The score is the reconstruction error |x - x'| (higher = more anomalous). Defaults: the NRCAN
collection's (p0 35, p 30, r 10, 20 clusters from a Gaussian mixture, a tanh funnel autoencoder
d -> d/2 -> ... -> latent 10 with 4 layers). ``selection_history_`` records each selection
(epoch, rows kept, rows dropped); ``n_dropped_`` is the last one's count.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from oneclass.config import require_int, require_number, require_positive
from oneclass.errors import ConfigError
from oneclass.models.autoencoder import Autoencoder
from oneclass.models.base import score_chunk

CLUSTERINGS = ("gmm", "kmeans")
COVARIANCES = ("full", "tied", "diag", "spherical")


def cluster_labels(features: np.ndarray, n_clusters: int, method: str, seed: int, covariance_type: str = "full",
                   max_iter: int = 100) -> np.ndarray:
    """Cluster index of each row of ``features`` (n, f) by a Gaussian mixture or k-means."""
    if method == "kmeans":
        from sklearn.cluster import KMeans

        return KMeans(n_clusters=n_clusters, n_init=1, max_iter=max_iter, random_state=seed).fit_predict(features)
    from sklearn.mixture import GaussianMixture

    gmm = GaussianMixture(n_components=n_clusters, covariance_type=covariance_type, max_iter=max_iter,
                          reg_covar=1e-6, random_state=seed)
    return gmm.fit(features).predict(features)


def low_variance_selection(features: np.ndarray, labels: np.ndarray, drop_percent: float) -> np.ndarray:
    """Boolean mask of the rows whose cluster's variance is at most the (100 - drop_percent)
    percentile of the (non-empty) clusters' variances: the ``drop_percent`` % most spread-out
    clusters are dropped. A cluster's variance is its rows' mean squared distance to their mean."""
    clusters = np.unique(labels)
    variances = np.array([((features[labels == c] - features[labels == c].mean(axis=0)) ** 2).sum(axis=1).mean()
                          for c in clusters])
    cut = np.percentile(variances, 100.0 - drop_percent)
    return np.isin(labels, clusters[variances <= cut])


class DUAD(Autoencoder):
    """DUAD detector: an autoencoder trained on the re-selected low-variance clusters, scored by |x - x'|.

    Parameters
    ----------
    r : re-select every r epochs (NRCAN: 10).
    p0 : percent of clusters (the most spread-out) dropped by the initial selection on the raw
        events (NRCAN: 35).
    p : percent of clusters dropped by each re-selection on the learnt features (NRCAN: 30).
    n_clusters : clusters per selection (NRCAN: 20).
    clustering : ``gmm`` (NRCAN, scikit-learn's GaussianMixture) or ``kmeans``.
    covariance_type : the Gaussian mixture's (``full``, ``diag``, ...; ``diag`` is much faster on
        wide data such as KDD's 118 columns).
    cluster_max_iter : EM / Lloyd iterations per clustering.
    Other parameters: :class:`~oneclass.models.autoencoder.Autoencoder`.
    """

    image_net = None  # tabular: its dense nets refuse images

    cannot_vectorise = "it reselects its training events between epochs for one model"  # oneclass.vectorised

    def __init__(self, input_shape: Any = None, r: int = 10, p0: float = 35.0, p: float = 30.0, n_clusters: int = 20,
                 clustering: str = "gmm", covariance_type: str = "full", cluster_max_iter: int = 100,
                 **kwargs: Any) -> None:
        kwargs.setdefault("init", "torch")
        super().__init__(input_shape=input_shape, **kwargs)
        self.r = require_positive(r, "model.r", integer=True)
        for name, value in (("p0", p0), ("p", p)):
            if not 0 <= require_number(value, f"model.{name}") < 100:
                raise ConfigError(f"model.{name} must be a percentage in [0, 100) of the clusters to drop, got {value!r}")
        self.p0, self.p = float(p0), float(p)
        self.n_clusters = require_int(n_clusters, "model.n_clusters")
        if self.n_clusters < 2:
            raise ConfigError(f"model.n_clusters must be an integer >= 2 (variances are compared across clusters), "
                              f"got {n_clusters!r}")
        if clustering not in CLUSTERINGS:
            raise ConfigError(f"model.clustering must be one of {list(CLUSTERINGS)}, got {clustering!r}")
        if covariance_type not in COVARIANCES:
            raise ConfigError(f"model.covariance_type must be one of {list(COVARIANCES)}, got {covariance_type!r}")
        self.clustering, self.covariance_type = clustering, covariance_type
        self.cluster_max_iter = require_positive(cluster_max_iter, "model.cluster_max_iter", integer=True)
        self.selection_history_: list[dict[str, int]] = []
        self.n_dropped_: int | None = None

    # ------------------------------------------------------------------ selection
    def select(self, features: torch.Tensor, drop_percent: float) -> torch.Tensor:
        """Boolean mask (on the features' device) of the rows kept by one clustering of ``features``."""
        feats = features.detach().double().cpu().numpy()
        if len(feats) < self.n_clusters:
            raise ConfigError(f"DUAD clusters {len(feats)} training rows into model.n_clusters={self.n_clusters} clusters; "
                              "lower model.n_clusters")
        seed = int(torch.randint(2**31 - 1, ()).item())  # follows the run's seed
        labels = cluster_labels(feats, self.n_clusters, self.clustering, seed, self.covariance_type,
                                self.cluster_max_iter)
        return torch.as_tensor(low_variance_selection(feats, labels, drop_percent), device=features.device)

    @torch.no_grad()
    def latent_features(self, x: torch.Tensor) -> torch.Tensor:
        """[code, cosine similarity(x, x')] of each row in eval mode, shape (n, rep_dim + 1)."""
        was_training = self.training
        self.eval()
        try:
            chunk = score_chunk(self.input_shape)
            out = []
            for i in range(0, len(x), chunk):
                xb = x[i : i + chunk]
                code = self.encoder(xb)
                cos = F.cosine_similarity(xb.flatten(1), self.decoder(code).flatten(1), dim=1)
                out.append(torch.cat([code.flatten(1), cos[:, None]], dim=1))
            return torch.cat(out)
        finally:
            self.train(was_training)

    def _use(self, keep: torch.Tensor) -> None:
        """Train on the kept rows from the next epoch on; record the counts."""
        x = self.train_data
        if self._train_batches is not None:
            self._train_batches.x = x[keep]
        kept = int(keep.sum())
        self.n_dropped_ = len(x) - kept
        self.selection_history_.append({"epoch": int(self.current_epoch), "kept": kept, "dropped": self.n_dropped_})

    def on_fit_start(self) -> None:
        self.selection_history_ = []
        if self.p0 > 0:
            self._use(self.select(self.train_data.flatten(1), self.p0))

    def on_train_epoch_end(self) -> None:
        epoch = self.current_epoch + 1
        last = self.trainer.max_epochs
        if self.p > 0 and epoch % self.r == 0 and (last is None or last < 0 or epoch < last):
            self._use(self.select(self.latent_features(self.train_data), self.p))
        super().on_train_epoch_end()
