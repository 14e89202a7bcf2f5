"""Capabilities declared by the code that has them: the dataset kind the report dispatches on."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from omegaconf import OmegaConf

from oneclass.cli import config_dir
from oneclass.data.base import KINDS, kind_of
from oneclass.report.selection import dataset_kind

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
