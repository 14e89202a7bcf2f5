"""OC-NN (Chalapathy et al. 2018): its objective against hand-computed values, r as the nu-quantile
with normals scoring low, and on images a pretrained encoder that is then frozen."""

from __future__ import annotations

from functools import partial

import numpy as np
import pytest
import torch

from oneclass.errors import ConfigError
from oneclass.models.ocnn import OCNN
from oneclass.nets import MNISTLeNet

from nrcan_toys import trainer


def test_ocnn_objective_hand_computed():
    m = OCNN(n_features=2, hidden=2, nu=0.5, activation="linear")
    with torch.no_grad():
        m.w.weight.copy_(torch.tensor([[1.0, 0.0], [0.0, 2.0]]))
        m.V.weight.copy_(torch.tensor([[1.0, -1.0]]))
    z = torch.tensor([[1.0, 1.0], [3.0, 0.0]])
    yhat = m.head(z)  # <V, w z>: 1*1 - 1*2 = -1 ; 1*3 - 0 = 3
    np.testing.assert_allclose(yhat.detach().numpy(), [-1.0, 3.0])
    # 0.5*(1+4) + 0.5*(1+1) + (1/0.5)*mean(max(0, 1-(-1)), max(0, 1-3)) - 1 = 2.5 + 1 + 2*1 - 1
    assert m.objective(yhat, r=1.0).item() == pytest.approx(4.5)
    m.activation = "sigmoid"
    s = 1 / (1 + np.exp(-np.array([1.0, 2.0])))
    assert m.head(torch.tensor([[1.0, 1.0]])).item() == pytest.approx(s[0] - s[1])
    with torch.no_grad():
        m.r.fill_(0.25)
    assert m(torch.tensor([[1.0, 1.0]])).item() == pytest.approx(0.25 - (s[0] - s[1]))  # score = r - yhat


def test_ocnn_r_is_the_nu_quantile_and_normals_score_low():
    rng = np.random.default_rng(0)
    normals = rng.normal([3.0, 3.0], 0.5, size=(2000, 2)).astype(np.float32)
    torch.manual_seed(0)
    m = OCNN(n_features=2, hidden=8, nu=0.1, lr=1e-2, batch_size=100)
    m.fit(normals, trainer=trainer(3))
    with torch.no_grad():
        yhat = m.yhat(torch.as_tensor(normals)).double().numpy()
    assert m.r.item() == pytest.approx(np.quantile(yhat, 0.1), rel=1e-5)
    assert np.mean(yhat < m.r.item()) == pytest.approx(0.1, abs=0.002)
    anomalies = rng.normal([-3.0, -3.0], 0.5, size=(500, 2)).astype(np.float32)
    s_norm, s_anom = m.score(normals), m.score(anomalies)
    assert np.median(s_anom) > np.quantile(s_norm, 0.99)  # higher = more anomalous


def test_ocnn_on_images_pretrains_then_freezes_the_encoder():
    rng = np.random.default_rng(1)
    x = rng.random((64, 1, 28, 28), dtype=np.float32)
    torch.manual_seed(0)
    m = OCNN(input_shape=(1, 28, 28), net=partial(MNISTLeNet), hidden=4, pretrain_epochs=1, batch_size=32, lr=1e-2)
    m.fit(x, trainer=trainer(1))
    assert len(m.pretrain_losses_) == 1 and bool(m.pretrained)
    frozen = {k: v.clone() for k, v in m.encoder.state_dict().items()}
    w = m.w.weight.detach().clone()
    m.fit(x, trainer=trainer(2))  # a second fit does not pretrain again; the frozen encoder stays as it is
    assert all(torch.equal(frozen[k], v) for k, v in m.encoder.state_dict().items())
    assert not torch.equal(w, m.w.weight) and m.pretrain_losses_ and len(m.pretrain_losses_) == 1
    tuned = OCNN(input_shape=(1, 28, 28), net=partial(MNISTLeNet), hidden=4, pretrain=False, finetune_encoder=True,
                 batch_size=32, lr=1e-2)
    before = tuned.encoder.fc.weight.detach().clone()
    tuned.fit(x, trainer=trainer(1))
    assert not torch.equal(before, tuned.encoder.fc.weight)
    with pytest.raises(ConfigError, match=r"model.activation must be one of \['linear', 'sigmoid'\]"):
        OCNN(n_features=3, activation="relu")
    with pytest.raises(ConfigError, match="model.nu must be < 1"):
        OCNN(n_features=3, nu=1.0)
