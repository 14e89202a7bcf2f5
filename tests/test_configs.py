"""Every model x dataset pair composes and builds (or is refused with one line, as listed). The
models, datasets and their input shapes come from conf/: a new model or dataset YAML is tested with
no edit here. The experiment presets are run in test_experiments.py."""

from __future__ import annotations


import numpy as np
import pytest
from hydra.utils import get_class
from omegaconf import OmegaConf

from oneclass.launch.cli import config_dir
from oneclass.config import build
from oneclass.data.base import kind_of
from oneclass.errors import DataError, OneClassError
from oneclass.models.pyod import pyod_available

from conftest import compose_cfg, missing_data, shared_data_dir


def config_names(group: str) -> list[str]:
    """The options of a config group: the YAML files in conf/<group>/ (or $ONECLASS_CONFIG_DIR's)."""
    return sorted(p.stem for p in (config_dir() / group).glob("*.yaml"))


def dataset_kind(dataset: str) -> str | None:
    """The kind (physics, tabular, images) the class of conf/dataset/<dataset>.yaml declares."""
    return kind_of(OmegaConf.load(config_dir() / "dataset" / f"{dataset}.yaml").get("_target_"))


def input_shape_of(dataset: str) -> tuple[int, ...]:
    """The shape of one event or image of a dataset config, as its class says (``Dataset.input_shape``:
    from the settings where they tell, else from the data file, the default paths under shared/data)."""
    cfg = compose_cfg([f"dataset={dataset}"])
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("ONECLASS_DATA_DIR", str(shared_data_dir()))
        return tuple(build(cfg.dataset, "dataset").input_shape())


MODELS = config_names("model")
DATASETS = config_names("dataset")
IMAGE_SETS = {d for d in DATASETS if dataset_kind(d) == "images"}


def refusal(model_cfg) -> str | None:
    """The start of the one-line error a model config must raise on images, from what its classes
    declare (no list kept here): a detector class with ``flat_only`` (ALAD) refuses them; a net class
    with ``flat_only`` (the dense nets) refuses them unless the detector declares an ``image_net``
    that replaces it on images (Deep SVDD, the autoencoder); anything else must build."""
    model_cls = get_class(model_cfg._target_)
    if getattr(model_cls, "flat_only", False):
        return f"{model_cls.__name__} takes flat"
    net = model_cfg.get("net")
    if net is not None and net.get("_target_"):
        net_cls = get_class(net._target_)
        if getattr(net_cls, "flat_only", False) and getattr(model_cls, "image_net", None) is None:
            return f"model.net: {net_cls.__name__} takes flat"
    return None


# PyOD presets build only where PyOD is installed (the dev extra; CI installs it)
PYOD_MODELS = {m for m in MODELS if m == "pyod" or m.startswith("pyod_")}


@pytest.fixture(scope="module")
def input_shapes():
    """``input_shapes(dataset)``: :func:`input_shape_of`, once per dataset; a dataset whose shape needs a
    data file that is missing skips (fails under ONECLASS_REQUIRE_DATA=1, as ``shared_data``)."""
    shapes: dict[str, tuple[int, ...] | DataError] = {}

    def get(dataset: str) -> tuple[int, ...]:
        if dataset not in shapes:
            try:
                shapes[dataset] = input_shape_of(dataset)
            except DataError as exc:
                shapes[dataset] = exc
        shape = shapes[dataset]
        if isinstance(shape, DataError):
            missing_data(f"dataset={dataset}: its input shape needs its data file ({shape})")
        return shape

    return get


@pytest.mark.parametrize("dataset", DATASETS)
def test_every_dataset_config_gives_its_input_shape(input_shapes, dataset):
    """Images are (channels, height, width), every other kind flat (features,)."""
    shape = input_shapes(dataset)
    assert shape and all(isinstance(s, int) and s > 0 for s in shape), shape
    assert len(shape) == (3 if dataset in IMAGE_SETS else 1), (dataset, shape)


def test_a_new_dataset_yaml_gets_its_shape_with_no_test_edited(tmp_path, monkeypatch):
    """A tabular .npz set added by YAML alone to a copy of conf/ is among the configs tested here, with
    the shape of its file; the shipped sets keep theirs."""
    import shutil

    conf = tmp_path / "conf"
    shutil.copytree(config_dir(), conf)
    rng = np.random.default_rng(0)
    np.savez(tmp_path / "blobs.npz", X=rng.normal(size=(50, 4)), y=(np.arange(50) < 5).astype(np.int64))
    (conf / "dataset" / "blobs.yaml").write_text(
        f"_target_: oneclass.data.tabular_datasets.ADBench\nname: blobs\npath: {tmp_path / 'blobs.npz'}\n")
    monkeypatch.setenv("ONECLASS_CONFIG_DIR", str(conf))
    assert config_names("dataset") == sorted(DATASETS + ["blobs"])
    assert dataset_kind("blobs") == "tabular" and input_shape_of("blobs") == (4,)
    assert input_shape_of("gaussian") == (1,) and input_shape_of("cifar10") == (3, 32, 32)


def test_refusals_follow_the_classes_declarations():
    """The declarations the pair test reads: the OCDN's MLP and ALAD refuse images, Deep SVDD and the
    autoencoder take a LeNet instead of their dense nets, OC-SVM flattens."""
    assert refusal(compose_cfg(["model=ocdn"]).model) == "model.net: MLP takes flat"
    assert refusal(compose_cfg(["model=alad"]).model) == "ALAD takes flat"
    assert refusal(compose_cfg(["model=dagmm"]).model) == "model.net: DenseEncoder takes flat"
    assert [refusal(compose_cfg([f"model={m}"]).model) for m in ("deepsvdd", "ae", "ocsvm")] == [None, None, None]


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("dataset", DATASETS)
def test_model_dataset_pair_composes_and_builds(cfg_factory, input_shapes, model, dataset):
    if model in PYOD_MODELS and not pyod_available():
        pytest.skip("PyOD not installed (pip install 'oneclass[pyod]')")
    cfg = cfg_factory(f"model={model}", f"dataset={dataset}", small=False)
    refused = refusal(cfg.model) if dataset in IMAGE_SETS else None
    if refused:
        with pytest.raises(OneClassError, match=refused) as err:
            build(cfg.model, "model", input_shape=input_shapes(dataset))
        assert "\n" not in str(err.value)
        return
    detector = build(cfg.model, "model", input_shape=input_shapes(dataset))
    assert callable(detector.fit) and callable(detector.score)
