"""Capabilities declared by the code that has them: the dataset kind the report dispatches on, and the
input shape a dataset class gives without loading its rows (the tests build every model for every
dataset config with it)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from omegaconf import OmegaConf

from oneclass.launch.cli import config_dir
from oneclass.data.base import KINDS, kind_of
from oneclass.data.gaussian import GaussianToy
from oneclass.data.image_sets import CIFAR10, MNIST
from oneclass.data.lhco import LHCO
from oneclass.data.tabular_datasets import ADBench, ODDS
from oneclass.report.selection import dataset_kind

from image_files import cifar_tar

DATASETS = sorted(config_dir().glob("dataset/*.yaml"))


@pytest.mark.parametrize("path", DATASETS, ids=lambda p: p.stem)
def test_every_dataset_config_names_a_class_with_a_kind(path):
    assert kind_of(OmegaConf.load(path)["_target_"]) in KINDS


def test_kinds_of_the_shipped_dataset_families():
    assert [kind_of(f"oneclass.data.{t}") for t in ("lhco.LHCO", "gaussian.GaussianToy", "tabular_datasets.ADBench",
                                                    "tabular_datasets.KDDCup", "image_sets.CIFAR10")] == \
        ["physics", "physics", "tabular", "tabular", "images"]
    assert kind_of("oneclass.data.nope.Missing") is None and kind_of(None) is None


def run(tags: dict, params: dict) -> SimpleNamespace:
    return SimpleNamespace(data=SimpleNamespace(tags=tags, params=params))


def test_a_runs_kind_is_its_tag_else_its_dataset_class():
    assert dataset_kind(run({"dataset_kind": "tabular"}, {"dataset._target_": "oneclass.data.image_sets.MNIST"})) == "tabular"
    assert dataset_kind(run({"dataset": "mnist"}, {"dataset._target_": "oneclass.data.image_sets.MNIST"})) == "images"
    assert dataset_kind(run({"dataset": "adbench"}, {})) is None  # a name alone decides nothing


def test_the_input_shape_a_dataset_gives_is_the_one_it_loads(shared_data, tmp_path, monkeypatch):
    monkeypatch.setenv("ONECLASS_DATA_DIR", str(shared_data("adbench").parent))
    cifar_tar(tmp_path / "cifar-10-python.tar.gz", n_per_batch=20)
    small = {"n_train": 10, "n_test_background": 10, "n_test_signal": 10}
    for dataset in (GaussianToy(dim=3, **small), LHCO(path=str(shared_data("lhco/lhco_rnd_sr_5features.npy")),
                                                     features=["mj1", "tau21_1"], **small),
                    MNIST(normal_class=1, **small), CIFAR10(path=str(tmp_path), **small),
                    ADBench(name="thyroid"), ODDS(name="arrhythmia")):
        assert dataset.input_shape() == dataset.load(0).input_shape, type(dataset).__name__
    assert [GaussianToy(dim=3).input_shape(), MNIST().input_shape(), CIFAR10().input_shape()] == \
        [(3,), (1, 28, 28), (3, 32, 32)]  # known from the settings: no file read
