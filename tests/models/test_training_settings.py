"""The Lightning detectors' training settings (lr, weight decay, batch size, optimizer, scheduler)
belong to LightningDetector alone: a detector's signature lists only its own parameters."""

import importlib
import inspect
import pkgutil

import torch

import oneclass.models
from oneclass.models.base import LightningDetector

SETTINGS = {"lr", "weight_decay", "batch_size", "batches_per_step", "optimizer", "scheduler", "lr_milestones"}


def lightning_detectors() -> list[type]:
    for info in pkgutil.iter_modules(oneclass.models.__path__):
        if info.name != "pyod":
            importlib.import_module(f"oneclass.models.{info.name}")
    found, todo = [], [LightningDetector]
    while todo:
        for sub in todo.pop().__subclasses__():
            if sub.__module__.startswith("oneclass.models."):
                found.append(sub)
                todo.append(sub)
    return found


def test_no_detector_repeats_the_training_settings():
    detectors = lightning_detectors()
    assert len(detectors) >= 12
    for cls in detectors:
        own = set(inspect.signature(cls.__init__).parameters)
        assert not own & SETTINGS, f"{cls.__name__} repeats {sorted(own & SETTINGS)}: pass **training on"


def test_class_defaults_and_the_optimizer_reach_the_base():
    from functools import partial

    from oneclass.models.deep_svdd import DeepSVDD

    svdd = DeepSVDD(n_features=3)
    assert (svdd.lr, svdd.weight_decay, svdd.batch_size, svdd.pretrain_lr) == (1e-4, 1e-6, 128, 1e-4)
    sgd = DeepSVDD(n_features=3, lr=0.01, optimizer=partial(torch.optim.SGD, momentum=0.9))
    opt = sgd.make_optimizer(sgd.parameters())
    assert isinstance(opt, torch.optim.SGD) and opt.defaults["lr"] == 0.01 and opt.defaults["momentum"] == 0.9
    # the checkpoint's hyperparameters hold the optimizer passed through **training, as a spec
    assert sgd.hparams["optimizer"] == {"_target_": "torch.optim.sgd.SGD", "momentum": 0.9}
