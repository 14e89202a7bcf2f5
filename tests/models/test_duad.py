"""DUAD (Li et al., WACV 2021; issue 15, NRCAN part A): it separates off-manifold points from a 2-D manifold
in R^8, its selection drops the most spread-out clusters, and it trains on the selection and records
the dropped rows. The contract is in test_contract.py."""

from __future__ import annotations

import math

import lightning.pytorch as L
import numpy as np
import pytest

from oneclass.errors import ConfigError
from oneclass.models.duad import DUAD, cluster_labels, low_variance_selection
from nrcan_toys import AE, manifold, off_manifold_points_score_higher, one_line, trainer  # noqa: F401 (manifold: a fixture)


def test_off_manifold_points_score_higher(manifold):
    off_manifold_points_score_higher(
        manifold, lambda: DUAD(input_shape=(8,), net=AE, lr=1e-3, batch_size=32, r=2, n_clusters=8), 5, "duad")


def planted(rng):
    """Seven tight blobs (normal, 100 rows each) and three diffuse groups (planted anomalies, 20 each)."""
    angles = np.linspace(0, 2 * np.pi, 7, endpoint=False)
    blobs = 5 * np.c_[np.cos(angles), np.sin(angles)]
    normal = np.concatenate([c + 0.2 * rng.normal(size=(100, 2)) for c in blobs])
    anomalies = np.concatenate([c + 3.0 * rng.normal(size=(20, 2)) for c in [[40, 0], [-40, 10], [0, -40]]])
    return np.r_[normal, anomalies], np.r_[np.zeros(700, bool), np.ones(60, bool)]


@pytest.mark.parametrize("method", ["gmm", "kmeans"])
def test_duad_selection_drops_the_most_spread_out_clusters(method):
    x, is_anomaly = planted(np.random.default_rng(4))
    labels = cluster_labels(x, 10, method, seed=0)
    keep = low_variance_selection(x, labels, drop_percent=30)
    variances = {c: ((x[labels == c] - x[labels == c].mean(0)) ** 2).sum(1).mean() for c in np.unique(labels)}
    dropped = {c for c in variances if not keep[labels == c].any()}
    assert len(dropped) == 3  # 30 % of the 10 clusters, the three largest variances
    assert min(variances[c] for c in dropped) > max(v for c, v in variances.items() if c not in dropped)
    assert not keep[is_anomaly].any() and keep[~is_anomaly].all()


def test_duad_trains_on_the_selection_and_records_the_dropped_rows():
    rng = np.random.default_rng(5)
    x, is_anomaly = planted(rng)
    x8 = np.c_[x, 0.1 * rng.normal(size=(len(x), 6))].astype(np.float32)
    L.seed_everything(5, verbose=False)
    model = DUAD(input_shape=(8,), net=AE, lr=1e-3, batch_size=64, r=2, p0=30, p=20, n_clusters=10,
                 clustering="kmeans")
    seen = []
    original = model.training_loss
    model.training_loss = lambda batch: (seen.append(len(batch)), original(batch))[1]
    model.fit(x8, trainer=trainer(5))
    history = model.selection_history_
    assert [h["epoch"] for h in history] == [0, 1, 3]  # before training, then after epochs 2 and 4
    assert all(h["kept"] + h["dropped"] == len(x8) and h["dropped"] > 0 for h in history)
    assert model.n_dropped_ == history[-1]["dropped"]
    assert sum(seen[: math.ceil(history[0]["kept"] / 64)]) == history[0]["kept"]  # epoch 1 saw the kept rows only
    for kwargs, message in [({"p0": 100}, "model.p0 must be a percentage in [0, 100)"),
                            ({"n_clusters": 1}, "model.n_clusters must be an integer >= 2"),
                            ({"clustering": "dbscan"}, "model.clustering must be one of ['gmm', 'kmeans']")]:
        with pytest.raises(ConfigError) as err:
            DUAD(input_shape=(8,), net=AE, **kwargs)
        assert message in one_line(err)
