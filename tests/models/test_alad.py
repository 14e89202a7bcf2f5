"""The NRCAN detectors ALAD and RecForest and the PyOD ALAD preset (issue 15, part B2): ours separate
off-manifold points from a 2-D manifold in R^8, each keeps its method's invariant (ALAD's feature
matching and spectral norm, RecForest's boxes against a plain tree walk), and bad settings are
refused in one line before any training. The contract (fit returns self, float64 finite scores,
determinism) is in test_contract.py, which runs every model config, pyod_alad included."""

from __future__ import annotations

import lightning.pytorch as L
import numpy as np
import pytest
import torch

from oneclass.config import build
from oneclass.errors import ConfigError, OneClassError, TrainingError
from oneclass.metrics import roc_auc
from oneclass.models.alad import ALAD
from oneclass.models.pyod import pyod_available
from oneclass.models.recforest import RecForest

from conftest import compose_cfg
from nrcan_toys import manifold, one_line, trainer  # noqa: F401 (manifold: a fixture)


@pytest.fixture(scope="module")
def alad(manifold):
    """ALAD trained 10 epochs on the manifold (latent d // 2 = 4, the default nets)."""
    torch.set_num_threads(1)
    L.seed_everything(0, verbose=False)
    model = ALAD(input_shape=(8,), lr=1e-3, batch_size=32)
    assert model.fit(manifold[0], trainer=trainer(10)) is model
    return model


def test_off_manifold_points_score_higher(manifold, alad):
    x_train, x_test, y_test = manifold
    forest = RecForest(input_shape=(8,), random_state=0)
    assert forest.fit(x_train) is forest
    for name, model in (("alad", alad), ("recforest", forest)):
        scores = model.score(x_test)
        assert scores.dtype == np.float64 and scores.shape == (300,) and np.isfinite(scores).all()
        assert roc_auc(scores, y_test) > 0.9, name


# -------------------------------------------------------------------------------------------- ALAD
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


# --------------------------------------------------------------------------------------- RecForest
def walked_box(tree, x, lower, upper):
    """The box of one row in one tree by walking it node by node (the official code's traversal)."""
    t = tree.tree_
    lower, upper = lower.copy(), upper.copy()
    node = 0
    while t.children_left[node] != -1:
        f, thr = t.feature[node], t.threshold[node]
        if np.float32(x[f]) <= thr:
            upper[f] = min(upper[f], thr)
            node = t.children_left[node]
        else:
            lower[f] = max(lower[f], thr)
            node = t.children_right[node]
    return lower, upper


def test_recforest_boxes_contain_the_training_points_and_match_a_tree_walk(manifold):
    x_train, x_test, _ = manifold
    forest = RecForest(input_shape=(8,), n_estimators=5, random_state=3).fit(x_train)
    lower, upper = forest.boxes(x_train)
    assert (lower <= x_train).all() and (x_train <= upper).all()  # each training point lies in its own box
    # rows outside the training range too: the intersection of the walked boxes, inside [min, max]
    rows = np.r_[x_train[:20], x_test[-20:], 10 * x_test[-5:]]
    lower, upper = forest.boxes(rows)
    for i, x in enumerate(rows):
        lo, up = forest.amin_.copy(), forest.amax_.copy()
        for tree in forest.forest_.estimators_:
            lo, up = walked_box(tree, x, lo, up)
        np.testing.assert_array_equal(lower[i], lo)
        np.testing.assert_array_equal(upper[i], up)
    assert (forest.amin_ <= lower).all() and (lower <= upper).all() and (upper <= forest.amax_).all()
    assert forest.score(10 * x_test[-5:]).min() > forest.score(x_train).max()  # far outside: the corner box
    # reconstruction = the box centre; score = squared error
    centre = 0.5 * (lower + upper)
    np.testing.assert_allclose(forest.reconstruct(rows), centre)
    np.testing.assert_allclose(forest.score(rows), ((rows.astype(np.float64) - centre) ** 2).sum(1))
    # the seed decides the forest
    again = RecForest(input_shape=(8,), n_estimators=5, random_state=3).fit(x_train).score(x_test)
    other = RecForest(input_shape=(8,), n_estimators=5, random_state=4).fit(x_train).score(x_test)
    np.testing.assert_array_equal(forest.score(x_test), again)
    assert not np.array_equal(again, other)


def test_recforest_errors_are_one_line():
    for kwargs, message in [({"n_estimators": 0}, "model.n_estimators must be an integer >= 1"),
                            ({"n_estimators": 1.5}, "model.n_estimators must be an integer"),
                            ({"max_depth": 0}, "model.max_depth must be an integer >= 1 or null"),
                            ({"min_samples_leaf": 0}, "model.min_samples_leaf must be an integer >= 1"),
                            ({"random_state": "seed"}, "model.random_state must be an integer")]:
        with pytest.raises(ConfigError) as err:
            RecForest(input_shape=(8,), **kwargs)
        assert message in one_line(err)
    forest = RecForest(input_shape=(8,))
    with pytest.raises(TrainingError) as err:
        forest.score(np.zeros((2, 8)))
    assert "before fit" in one_line(err)
    with pytest.raises(ConfigError) as err:
        forest.fit(np.zeros((10, 5)))
    assert "shape (n, 8)" in one_line(err)
    with pytest.raises(TrainingError) as err:
        forest.fit(np.full((10, 8), np.nan))
    assert "NaN" in one_line(err)
    # images are flattened, as the other scikit-learn style adapters do
    images = np.random.default_rng(0).normal(size=(50, 1, 4, 4))
    assert RecForest(input_shape=(1, 4, 4), n_estimators=3, random_state=0).fit(images).score(images).shape == (50,)


# --------------------------------------------------------------------------------------- pyod_alad
@pytest.mark.skipif(not pyod_available(), reason="PyOD not installed (pip install 'oneclass[pyod]')")
def test_pyod_alad_preset_builds_with_its_settings_and_refuses_bad_ones_in_one_line():
    cfg = compose_cfg(["model=pyod_alad", "dataset=adbench", "seed=7"])
    detector = build(cfg.model, "model", input_shape=(6,))
    estimator = detector._make()
    assert type(estimator).__name__ == "ALAD" and estimator.epochs == 3000 and estimator.batch_size == 128
    assert estimator.spectral_normalization and estimator.add_disc_zz_loss and not estimator.preprocessing
    for override, message in [("+model.params.dropout_rate=1.5", "model.params: PyOD ALAD refuses them"),
                              ("+model.params.n_layers=3", "PyOD ALAD takes no argument 'n_layers'")]:
        cfg = compose_cfg(["model=pyod_alad", "dataset=adbench", override])
        with pytest.raises(OneClassError) as err:
            build(cfg.model, "model", input_shape=(6,))
        assert message in one_line(err)
