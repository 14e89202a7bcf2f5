"""ALAD (Zenati et al., ICDM 2018; issue 15, NRCAN part B2): it separates off-manifold points from a
2-D manifold in R^8, its score is the feature-matching distance of D_xx, its discriminators are
spectrally normalised, each training step moves its own side, and bad settings are refused in one
line before any training. The contract (fit returns self, float64 finite scores, determinism) is in
test_contract.py, which runs every model config."""

from __future__ import annotations

import lightning.pytorch as L
import numpy as np
import pytest
import torch

from oneclass.errors import ConfigError, TrainingError
from oneclass.models.alad import ALAD

from nrcan_toys import manifold, one_line, scores_separate, trainer  # noqa: F401 (manifold: a fixture)


@pytest.fixture(scope="module")
def alad(manifold):
    """ALAD trained 10 epochs on the manifold (latent d // 2 = 4, the default nets)."""
    torch.set_num_threads(1)
    L.seed_everything(0, verbose=False)
    model = ALAD(input_shape=(8,), lr=1e-3, batch_size=32)
    assert model.fit(manifold[0], trainer=trainer(10)) is model
    return model


def test_off_manifold_points_score_higher(manifold, alad):
    scores_separate(alad.score(manifold[1]), manifold[2], "alad")


def test_alad_score_is_the_feature_matching_distance_of_dxx(manifold, alad):
    x_train, x_test, y_test = manifold
    x = torch.as_tensor(x_test)
    alad.eval()
    with torch.no_grad():
        # a pair whose reconstruction is the event itself has distance 0
        assert torch.equal(alad.feature_distance(x, x), torch.zeros(len(x)))
        # the score by hand: L1 between D_xx's hidden features of (x, x) and (x, G(E(x)))
        feats = lambda a, b: alad.d_xx.features(torch.cat([a, b], dim=1))  # noqa: E731
        x_rec = alad.generator(alad.encoder(x))
        want = (feats(x, x) - feats(x, x_rec)).abs().sum(dim=1)
        np.testing.assert_allclose(alad.score(x_test), want.double(), rtol=1e-5)
        alad.score_norm = 2
        try:
            np.testing.assert_allclose(alad.score(x_test), (feats(x, x) - feats(x, x_rec)).norm(dim=1).double(), rtol=1e-5)
        finally:
            alad.score_norm = 1
    # the training events score below the anomalies (and below nothing of their own kind: the test normals)
    train_scores = alad.score(x_train)
    anomaly_scores = alad.score(x_test)[y_test == 1]
    assert np.median(train_scores) < np.quantile(anomaly_scores, 0.1)


def test_alad_discriminators_are_spectrally_normalised_and_the_two_steps_own_disjoint_parameters(alad):
    alad.eval()
    linears = [m for d in (alad.d_xz, alad.d_xx, alad.d_zz) for m in d.modules() if isinstance(m, torch.nn.Linear)]
    assert len(linears) == 4 + 2 + 2
    with torch.no_grad():
        top = [torch.linalg.matrix_norm(m.weight, ord=2).item() for m in linears]
    np.testing.assert_allclose(top, 1.0, atol=0.05)  # W / sigma(W), sigma from the power iteration
    opt_d, opt_ge = alad.configure_optimizers()
    d_ids = {id(p) for g in opt_d.param_groups for p in g["params"]}
    ge_ids = {id(p) for g in opt_ge.param_groups for p in g["params"]}
    assert not d_ids & ge_ids and d_ids | ge_ids == {id(p) for p in alad.parameters()}
    assert ge_ids == {id(p) for m in (alad.encoder, alad.generator) for p in m.parameters()}
    assert opt_d.param_groups[0]["betas"] == (0.9, 0.999)  # the class default Adam; the config sets (0.5, 0.999)
    # without D_zz its parameters are left out of the discriminator step
    no_zz = ALAD(input_shape=(8,), use_dzz=False, spectral_norm=False)
    d_params = {id(p) for g in no_zz.configure_optimizers()[0].param_groups for p in g["params"]}
    assert not d_params & {id(p) for p in no_zz.d_zz.parameters()}
    assert not any("parametrizations" in name for name, _ in no_zz.named_parameters())


def test_alad_one_training_step_moves_each_side_with_its_own_optimizer(manifold):
    x_train, _, _ = manifold
    L.seed_everything(1, verbose=False)
    model = ALAD(input_shape=(8,), lr=1e-2, batch_size=600, batches_per_step=1)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    t = L.Trainer(max_steps=2, accelerator="cpu", logger=False, enable_checkpointing=False,
                  enable_progress_bar=False, enable_model_summary=False)
    model.fit(x_train, trainer=t)  # one batch of 600: one discriminator and one E/G step
    moved = {k for k, v in model.state_dict().items() if not torch.equal(v, before[k])}
    assert any(k.startswith("encoder.") for k in moved) and any(k.startswith("generator.") for k in moved)
    assert any(k.startswith("d_xz.") for k in moved) and any(k.startswith("d_xx.") for k in moved)
    assert any(k.startswith("d_zz.") for k in moved)


def test_alad_errors_are_one_line():
    for kwargs, message in [({"latent_dim": 0}, "model.latent_dim must be an integer >= 1"),
                            ({"latent_dim": 2.5}, "model.latent_dim must be an integer"),
                            ({"hidden": 0}, "model.hidden must be an integer >= 1"),
                            ({"dropout_xz": 1.0}, "model.dropout_xz must be in [0, 1)"),
                            ({"dropout_pair": -0.1}, "model.dropout_pair must be in [0, 1)"),
                            ({"score_norm": 3}, "model.score_norm must be 1 (L1) or 2 (L2)"),
                            ({"spectral_norm": "yes"}, "model.spectral_norm must be true or false"),
                            ({"lr": 0}, "model.lr must be positive"),
                            ({"input_shape": (1, 28, 28)}, "ALAD takes flat (events, features) inputs")]:
        with pytest.raises(ConfigError) as err:
            ALAD(**{"input_shape": (8,), **kwargs})
        assert message in one_line(err)
    model = ALAD(input_shape=(8,))
    with pytest.raises(ConfigError) as err:
        model.fit(np.zeros((10, 8), np.float32))
    assert "needs a trainer" in one_line(err)
    with pytest.raises(TrainingError) as err:
        model.fit(np.zeros((1, 8), np.float32), trainer=trainer(1))
    assert "at least 2 training events" in one_line(err)
