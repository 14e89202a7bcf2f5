"""The dense nets (MLP, DenseEncoder, SVDDMLP): widths sized from the input, and BatchNorm nets skip a
last batch of one row."""

from __future__ import annotations

import numpy as np
import pytest

from oneclass.errors import ConfigError
from oneclass.nets import DenseEncoder, SVDDMLP, funnel_widths


def test_nets_sized_from_the_input():
    assert funnel_widths(274, 1, 1) == [274] and funnel_widths(21, 2, 3) == [10, 5, 2]
    assert funnel_widths(6, 4, 2, min_width=8) == [8, 8]
    ae = DenseEncoder((21,), hidden=None, rep_dim=1, batch_norm=False, compression_factor=2, n_layers=4)
    assert [m.out_features for m in ae if hasattr(m, "out_features")] == [10, 5, 2, 1]
    assert [m.out_features for m in ae.decoder() if hasattr(m, "out_features")] == [2, 5, 10, 21]
    svdd = SVDDMLP((118,), hidden=None, rep_dim=None, compression_factor=4, n_layers=2)
    assert [m.out_features for m in svdd if hasattr(m, "out_features")] == [29, 7] and svdd.rep_dim == 7
    with pytest.raises(ConfigError, match="give either hidden .* or compression_factor"):
        SVDDMLP((118,), hidden=[8], compression_factor=4, n_layers=2)
    with pytest.raises(ConfigError, match="compression_factor must be >= 1"):
        DenseEncoder((21,), hidden=None, compression_factor=0.5, n_layers=2)
    with pytest.raises(ConfigError, match="model.net.rep_dim is null"):
        SVDDMLP((118,), rep_dim=None)


def test_batchnorm_nets_skip_a_last_batch_of_one_row(cfg_factory):
    """n = batch_size + 1 rows: the one-row batch is skipped (BatchNorm cannot train on it), the
    full batch trains (one optimizer step per epoch)."""
    from oneclass.config import build
    from oneclass.run.job import make_trainer

    cfg = cfg_factory("model=deepsvdd", "model.batch_size=8", "trainer.max_epochs=2", "model.pretrain=true",
                      "model.pretrain_epochs=1", "model.net.hidden=[4]", "model.net.rep_dim=2")
    x = np.random.default_rng(0).normal(size=(9, 3)).astype(np.float32)
    det = build(cfg.model, "model", input_shape=(3,))
    trainer = make_trainer(cfg, [])
    det.fit(x, trainer=trainer)
    assert trainer.global_step == 2 and np.isfinite(det.score(x)).all()
