"""The image one-class benchmark: MNIST / Fashion-MNIST / CIFAR-10 datasets under Ruff's protocol,
Ruff's LeNets and their decoders, OC-NN, and a short Deep SVDD MNIST job through the pipeline."""

from __future__ import annotations

from functools import partial

import lightning.pytorch as L
import numpy as np
import pytest
import torch
from omegaconf import open_dict
from torch import nn

from oneclass import pipeline
from oneclass.config import build
from oneclass.data.image_sets import CIFAR10, MNIST, FashionMNIST
from oneclass.data.images import gcn_l1, load_idx_split
from oneclass.errors import ConfigError, DataError
from oneclass.models.deep_svdd import DeepSVDD, bias_terms
from oneclass.models.ocnn import OCNN
from oneclass.models.pretrain import sse_loss
from oneclass.nets import CIFAR10LeNet, MNISTLeNet
from oneclass.nets.dictionary import dictionary_filters

from test_images import MNIST_TEST_COUNTS, MNIST_TRAIN_COUNTS, RUFF_MNIST_MIN_MAX, cifar_tar, write_mnist


def trainer(epochs: int) -> L.Trainer:
    return L.Trainer(max_epochs=epochs, accelerator="cpu", logger=False, enable_checkpointing=False,
                     enable_progress_bar=False, enable_model_summary=False)


# ------------------------------------------------------------------------------ datasets
def test_mnist_class_protocol_on_the_real_files(shared_data):
    folder = shared_data("mnist")
    data = MNIST(normal_class=3, path=str(folder)).load(0)
    _, labels = load_idx_split(folder, "test")
    assert data.x_train.shape == (MNIST_TRAIN_COUNTS[3], 1, 28, 28) and data.x_train.dtype == np.float32
    assert data.x_test.shape == (10000, 1, 28, 28)
    np.testing.assert_array_equal(data.test_index, np.arange(10000))  # the official test-set image numbers
    np.testing.assert_array_equal(data.y_test, (labels != 3).astype(np.int8))
    assert int((data.y_test == 0).sum()) == MNIST_TEST_COUNTS[3]
    # min-max from the normal class's training images after GCN: training data exactly in [0, 1]
    assert data.x_train.min() == 0.0 and data.x_train.max() == 1.0
    low, high = RUFF_MNIST_MIN_MAX[3]
    assert data.info["minmax_low"] == pytest.approx(low, rel=1e-6)
    assert data.info["minmax_high"] == pytest.approx(high, rel=1e-6)
    # a test image: GCN, then the training images' affine map (values may leave [0, 1])
    raw, _ = load_idx_split(folder, "test")
    expected = (gcn_l1(raw[[7]])[0] - data.info["minmax_low"]) / (data.info["minmax_high"] - data.info["minmax_low"])
    np.testing.assert_allclose(data.x_test[7, 0], expected, rtol=1e-5, atol=1e-6)
    assert data.info["normal_class_name"] == "3" and data.info["n_test_signal"] == 10000 - MNIST_TEST_COUNTS[3]


def test_fashion_mnist_class_and_caps(shared_data):
    folder = shared_data("fashion-mnist")
    data = FashionMNIST(normal_class=8, path=str(folder)).load(0)
    assert data.x_train.shape == (6000, 1, 28, 28) and len(data.x_test) == 10000
    assert int((data.y_test == 0).sum()) == 1000 and data.info["normal_class_name"] == "Bag"
    assert data.x_train.min() == 0.0 and data.x_train.max() == 1.0

    small = FashionMNIST(normal_class=8, path=str(folder), n_train=100, n_test_background=30, n_test_signal=50).load(0)
    _, labels = load_idx_split(folder, "test")
    bags, others = np.flatnonzero(labels == 8), np.flatnonzero(labels != 8)
    np.testing.assert_array_equal(small.test_index, np.sort(np.r_[bags[:30], others[:50]]))
    np.testing.assert_array_equal(small.y_test, (labels[small.test_index] != 8).astype(np.int8))
    # the first 100 training bags, scaled with their own min and max
    assert len(small.x_train) == 100 and small.x_train.max() == 1.0


def test_preprocess_choices_and_bad_values(tmp_path):
    folder = tmp_path / "mnist"
    files = write_mnist(folder, n_train=60, n_test=40)
    x_train, y_train = files["train"]
    c = int(y_train[0])
    raw = MNIST(normal_class=c, path=str(folder), preprocess="none").load(0)
    np.testing.assert_array_equal(raw.x_train[:, 0], x_train[y_train == c].astype(np.float32))
    mm = MNIST(normal_class=c, path=str(folder), preprocess="minmax").load(0)
    lo, hi = x_train[y_train == c].min(), x_train[y_train == c].max()
    np.testing.assert_allclose(mm.x_test[:, 0], (files["test"][0] - float(lo)) / float(hi - lo), rtol=1e-6)
    for bad in (10, -1, "3", True, 2.0):
        with pytest.raises(ConfigError, match=r"dataset.normal_class must be an integer in 0..9") as err:
            MNIST(normal_class=bad)
        assert "\n" not in str(err.value)
    with pytest.raises(ConfigError, match="dataset.preprocess must be one of gcn_l1_minmax, minmax, none"):
        MNIST(preprocess="zca")
    with pytest.raises(ConfigError, match="dataset.n_train must be a positive integer"):
        MNIST(n_train=0)


def test_missing_image_files_name_the_download_command(tmp_path, monkeypatch):
    monkeypatch.setenv("ONECLASS_DATA_DIR", str(tmp_path))
    with pytest.raises(DataError, match=r"fashion_mnist train file train-images-idx3-ubyte.gz not found in "
                                        r".*fashion-mnist; download the official files with `oneclass download "
                                        r"fashion_mnist`") as err:
        FashionMNIST(normal_class=1).load(0)
    assert "\n" not in str(err.value)
    with pytest.raises(DataError, match=r"cifar-10-python.tar.gz not found; download it with "
                                        r"`oneclass download cifar10`"):
        CIFAR10(normal_class=1).load(0)


def test_cifar10_dataset_on_a_synthetic_archive(tmp_path, monkeypatch):
    folder = tmp_path / "cifar10"
    folder.mkdir()
    batches = cifar_tar(folder / "cifar-10-python.tar.gz", n_per_batch=40, seed=3)
    train_x = np.concatenate([np.asarray(batches[f"data_batch_{i}"][b"data"]) for i in range(1, 6)])
    train_y = np.concatenate([batches[f"data_batch_{i}"][b"labels"] for i in range(1, 6)])
    test_x, test_y = np.asarray(batches["test_batch"][b"data"]), np.asarray(batches["test_batch"][b"labels"])

    monkeypatch.setenv("ONECLASS_DATA_DIR", str(tmp_path))  # the default folder <data dir>/cifar10/
    data = CIFAR10(normal_class=5).load(0)
    normal = train_x[train_y == 5].reshape(-1, 3, 32, 32)  # the R, G, B planes of each row
    assert data.x_train.shape == (len(normal), 3, 32, 32) and data.x_test.shape == (40, 3, 32, 32)
    np.testing.assert_array_equal(data.y_test, (test_y != 5).astype(np.int8))
    np.testing.assert_array_equal(data.test_index, np.arange(40))
    g = gcn_l1(normal)
    np.testing.assert_allclose(data.x_train, (g - g.min()) / (g.max() - g.min()), rtol=1e-5, atol=1e-6)
    assert data.x_train.min() == 0.0 and data.x_train.max() == 1.0
    # dataset.path may name the folder or the archive itself
    same = CIFAR10(normal_class=5, path=str(folder / "cifar-10-python.tar.gz"), preprocess="none").load(0)
    np.testing.assert_array_equal(same.x_test, test_x.reshape(-1, 3, 32, 32).astype(np.float32))


# ------------------------------------------------------------------------------ nets
@pytest.mark.parametrize("cls, shape, rep_dim, n_params", [(MNISTLeNet, (1, 28, 28), 32, 200 + 800 + 196 * 32),
                                                           (CIFAR10LeNet, (3, 32, 32), 128,
                                                            2400 + 51200 + 204800 + 2048 * 128)])
def test_lenets_shapes_no_bias_and_decoders(cls, shape, rep_dim, n_params):
    net = cls(shape)
    x = torch.rand(4, *shape)
    assert net(x).shape == (4, rep_dim) and net.rep_dim == rep_dim
    assert sum(p.numel() for p in net.parameters()) == n_params  # the reference's weights, nothing else
    decoder = net.decoder()
    assert decoder(net(x)).shape == (4, *shape)
    for module in (net, decoder):
        assert bias_terms(module) == []
        bns = [m for m in module.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
        assert bns and all(m.eps == 1e-4 and not m.affine for m in bns)
        convs = [m for m in module.modules() if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear))]
        assert convs and all(m.bias is None for m in convs)
    assert ((decoder(net(x)) > 0) & (decoder(net(x)) < 1)).all()  # sigmoid output, as min-max scaled images
    DeepSVDD(input_shape=shape, net=partial(cls))  # passes Deep SVDD's no-bias / unbounded-activation rules


def test_lenet_given_other_shapes_is_one_line(cfg_factory):
    cfg = cfg_factory("model=deepsvdd", "model/net=lenet_mnist", small=False)
    with pytest.raises(ConfigError, match=r"MNISTLeNet takes images of shape \(1, 28, 28\), the dataset gives flat "
                                          r"events of shape \(5,\)") as err:
        build(cfg.model, "model", input_shape=(5,))
    assert "\n" not in str(err.value)
    with pytest.raises(ConfigError, match=r"CIFAR10LeNet takes images of shape \(3, 32, 32\), the dataset gives "
                                          r"images of shape \(1, 28, 28\)"):
        CIFAR10LeNet((1, 28, 28))
    with pytest.raises(ConfigError, match="rep_dim must be a multiple of 16"):
        MNISTLeNet(rep_dim=20)


def test_sse_loss_is_summed_per_event_and_averaged_over_events():
    x = torch.zeros(2, 1, 2, 2)
    x_hat = torch.tensor([[[[1.0, 1.0], [0.0, 0.0]]], [[[2.0, 0.0], [0.0, 0.0]]]])
    assert sse_loss(x_hat, x).item() == pytest.approx((2.0 + 4.0) / 2)


# ------------------------------------------------------------------------------ OC-NN
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


def test_dictionary_init_sets_unit_norm_atoms_of_training_patches_before_pretraining():
    """model.dictionary_init (the ICML Theano code's weight_dict_init): the first convolution starts
    from 8 unit-norm atoms learned from 5x5 training patches, seeded by the run's seed."""
    rng = np.random.default_rng(2)
    x = rng.random((40, 1, 28, 28), dtype=np.float32)
    atoms = dictionary_filters(x, 8, (5, 5), seed=3, iterations=50)
    assert atoms.shape == (8, 1, 5, 5) and atoms.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(atoms.reshape(8, -1), axis=1), 1.0, atol=1e-5)
    np.testing.assert_array_equal(atoms, dictionary_filters(x, 8, (5, 5), seed=3, iterations=50))
    assert not np.allclose(atoms, dictionary_filters(x, 8, (5, 5), seed=4, iterations=50))

    def first_filters(seed, **kw):
        torch.manual_seed(seed)
        m = DeepSVDD(input_shape=(1, 28, 28), net=partial(MNISTLeNet), batch_size=40, lr=1e-12, pretrain=True,
                     pretrain_epochs=0, **kw)
        m.fit(x, trainer=trainer(1))
        return m.net.stages[0].conv.weight.detach().reshape(8, -1)

    init = first_filters(0, dictionary_init=True)
    np.testing.assert_allclose(init.norm(dim=1).numpy(), 1.0, atol=1e-4)  # lr ~0: the atoms as learned
    assert torch.equal(init, first_filters(0, dictionary_init=True))
    assert not np.allclose(first_filters(0).norm(dim=1).numpy(), 1.0, atol=1e-2)  # torch's default init otherwise
    with pytest.raises(ConfigError, match=r"^model.dictionary_init=true initialises a first convolution; SVDDMLP has none"):
        DeepSVDD(n_features=3, dictionary_init=True)
    with pytest.raises(ConfigError, match="model.dictionary_init must be true or false"):
        DeepSVDD(n_features=3, dictionary_init="yes")


# ------------------------------------------------------------------------------ end to end
@pytest.mark.slow
def test_deep_svdd_mnist_job_through_the_pipeline(cfg_factory, tmp_path, shared_data):
    """Ruff's Deep SVDD on MNIST class 1 (his net, preprocessing, weight decays, pretraining), shortened:
    3 + 3 epochs on 1,500 training images at batch 50 and lr 1e-3, 1,000 test images. Measured
    AUC 0.984-0.996 over seeds 0-4 (the full schedule reaches 0.997)."""
    cfg = cfg_factory("experiment=deepsvdd_mnist", "dataset.normal_class=1", "model.pretrain_epochs=3",
                      "trainer.max_epochs=3", "model.batch_size=50", "model.lr=1e-3", "model.pretrain_lr=1e-3",
                      "dataset.n_train=1500", "dataset.n_test_background=500", "dataset.n_test_signal=500", "threads=1",
                      small=False)
    with open_dict(cfg):
        cfg.dataset.path = str(shared_data("mnist"))
    job = pipeline.JobInfo(output_dir=tmp_path / "out", launch_dir=tmp_path)
    metrics = pipeline.run(cfg, job)
    assert metrics["test_auc"] > 0.95
    saved = np.load(tmp_path / "out" / "scores.npz")
    _, labels = load_idx_split(shared_data("mnist"), "test")
    np.testing.assert_array_equal(saved["labels"], (labels[saved["index"]] != 1).astype(np.int8))
    assert len(saved["index"]) == 1000 and (saved["labels"] == 0).sum() == 500


# ------------------------------------------------------------------------------ report pieces
def image_run(model: str, c: int, seed: int, scores, labels, index=None, **params):
    from oneclass.report.images import ImageRun

    scores, labels = np.asarray(scores, float), np.asarray(labels, np.int8)
    return ImageRun(model=model, dataset="mnist", normal_class=c, seed=str(seed),
                    params={"dataset.normal_class": str(c), "seed": str(seed), **params}, scores=scores,
                    labels=labels, index=np.arange(len(scores)) if index is None else np.asarray(index),
                    fit_time_s=10.0 + seed)


def test_class_table_means_stds_targets_and_gaps():
    from oneclass.report.images import class_table, markdown

    labels = [0, 0, 1, 1]
    # Ruff et al.'s schedule and training size: the targets are comparable, so the gap is given
    paper = {"trainer.max_epochs": "150", "model.pretrain_epochs": "150", "dataset.n_train": "None"}
    runs = [image_run("deepsvdd", 1, 0, [0.1, 0.2, 0.3, 0.4], labels, **paper),    # AUC 1
            image_run("deepsvdd", 1, 1, [0.1, 0.35, 0.3, 0.4], labels, **paper),   # AUC 0.75
            image_run("deepsvdd", 5, 0, [0.4, 0.3, 0.2, 0.1], labels, **paper),    # AUC 0
            image_run("ae", 5, 0, [0.1, 0.2, 0.3, 0.4], labels)]
    rows = class_table(runs)
    by = {(r["detector"], r["normal_class"]): r for r in rows}
    r1 = by["deepsvdd", 1]
    assert r1["n_runs"] == 2 and r1["auc_mean"] == pytest.approx(0.875)
    assert r1["auc_std"] == pytest.approx(np.std([1.0, 0.75], ddof=1))
    assert r1["target"] == pytest.approx(0.997) and r1["gap"] == pytest.approx(0.875 - 0.997)
    assert r1["fit_time_s"] == pytest.approx(10.5)
    assert by["deepsvdd", "mean"]["auc_mean"] == pytest.approx((0.875 + 0.0) / 2)
    assert by["deepsvdd", "mean"]["target"] == pytest.approx((0.997 + 0.885) / 2)
    assert by["ae", 5]["target"] is None and by["ae", 5]["auc_mean"] == 1.0  # no published DCAE target
    text = markdown(rows)
    assert "| 1 (1) | 2 | 87.5 ± 17.7 | 99.7 | -12.2 | 10 |" in text
    # runs of one model with different settings become separate detectors; class and seed do not split
    split = class_table([image_run("ocnn", 0, 0, [0, 1, 1, 0], labels, **{"model.activation": "linear"}),
                         image_run("ocnn", 1, 0, [0, 1, 1, 0], labels, **{"model.activation": "sigmoid"})])
    assert {r["detector"] for r in split} == {"ocnn (activation=linear)", "ocnn (activation=sigmoid)"}


def test_extremes_are_the_normal_class_images_by_score(tmp_path):
    from PIL import Image

    from oneclass.report.images import extremes, image_report

    index = np.array([10, 11, 12, 13, 14, 15])
    run = image_run("deepsvdd", 3, 0, [5.0, 1.0, 9.0, 3.0, 0.0, 7.0], [0, 0, 1, 0, 1, 0], index=index)
    low, high = extremes(run, 2)
    np.testing.assert_array_equal(low, [11, 13])   # normal-class images (label 0) with the lowest scores
    np.testing.assert_array_equal(high, [15, 10])  # ... and the highest; anomalies (12, 14) never shown
    images = np.zeros((20, 1, 28, 28), np.uint8)
    files, metrics, text = image_report([run], tmp_path / "rep", n_images=2, images=images)
    names = {p.name for p in files}
    assert names == {"classes.md", "classes.csv", "extremes_deepsvdd.png"}
    assert Image.open(tmp_path / "rep" / "extremes_deepsvdd.png").size[0] > 100
    assert metrics["auc_deepsvdd_class_3"] == pytest.approx(0.5)  # anomalies at 9 and 0 vs normals 5 1 3 7
    assert "91.9" in text  # the class-3 target


def test_report_images_command_without_a_store_is_one_line(tmp_path, capsys):
    from oneclass import cli

    with pytest.raises(SystemExit) as exit_:
        cli.main(["report-images", "--tracking-uri", f"sqlite:///{tmp_path / 'none.db'}"])
    assert exit_.value.code == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error:") and "none.db" in err and "\n" not in err


def test_oneclass_report_on_image_runs_gives_the_class_table_and_extremes(tmp_path, monkeypatch, shared_data):
    """`oneclass report` on MNIST runs in an MLflow store: the per-class table beside Ruff's targets
    (mean and std over seeds) and the extremes figure read from the runs' own dataset files."""
    from mlflow.entities import Param
    from mlflow.tracking import MlflowClient
    from PIL import Image

    from oneclass.report import main as report_main

    folder = shared_data("mnist")
    _, test_labels = load_idx_split(folder, "test")
    monkeypatch.chdir(tmp_path)
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    client = MlflowClient(tracking_uri=uri)
    exp = client.create_experiment("mnist", artifact_location=(tmp_path / "mlruns").as_uri())
    rng = np.random.default_rng(0)
    index = np.arange(0, 10000, 10)  # a subsample of the official test set, by number
    aucs = {}
    for c in (0, 3):
        for seed, shift in ((0, 1.0), (1, 2.0)):
            labels = (test_labels[index] != c).astype(np.int8)
            scores = rng.normal(size=len(index)) + shift * labels
            run = client.create_run(exp, run_name=f"deepsvdd-mnist-{c}-{seed}",
                                    tags={"model": "deepsvdd", "dataset": "mnist", "seed": str(seed), "sweep_id": "s1"})
            client.log_batch(run.info.run_id, params=[
                Param("seed", str(seed)), Param("dataset.normal_class", str(c)),
                Param("dataset._target_", "oneclass.data.image_sets.MNIST"), Param("dataset.path", str(folder))])
            d = tmp_path / "art" / run.info.run_id
            d.mkdir(parents=True)
            np.savez_compressed(d / "scores.npz", scores=scores, labels=labels, index=index)
            client.log_artifacts(run.info.run_id, str(d))
            client.set_terminated(run.info.run_id)
            from sklearn.metrics import roc_auc_score
            aucs.setdefault(c, []).append(100 * roc_auc_score(labels, scores))
    out = tmp_path / "rep"
    assert report_main(["--output", str(out), "--tracking-uri", uri, "--no-mlflow", "--n-images", "4"]) == 0
    import csv
    with open(out / "classes.csv") as f:
        rows = {int(r["normal_class"]): r for r in csv.DictReader(f) if r["normal_class"] not in ("", "mean")}
    assert set(rows) == {0, 3}
    for c in (0, 3):
        assert float(rows[c]["auc_mean"]) * 100 == pytest.approx(np.mean(aucs[c]), abs=0.01)
        assert int(rows[c]["n_runs"]) == 2
    md = (out / "classes.md").read_text()
    assert "98.0" in md and "91.9" in md  # Ruff's targets for classes 0 and 3
    assert Image.open(out / "extremes_deepsvdd.png").size[0] > 100
    with pytest.raises(Exception, match="--n-images must be >= 1"):
        report_main(["--output", str(out), "--tracking-uri", uri, "--no-mlflow", "--n-images", "0"])
