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


def test_the_multi_tensor_optimizer_is_the_per_tensor_update_bit_for_bit():
    """A single network's optimizer is torch's multi-tensor one where the config chooses none (on a
    CPU torch's default loops over the tensors in Python): trained weights equal the per-tensor
    loop's exactly; a configured ``foreach`` / ``fused`` is left as it is."""
    from functools import partial

    from oneclass.models.deep_svdd import DeepSVDD

    x = torch.randn(6, 32, 3, generator=torch.Generator().manual_seed(0))
    for optimizer, options in ((torch.optim.Adam, {}), (torch.optim.SGD, {"momentum": 0.9}), (torch.optim.AdamW, {})):
        trained = {}
        for foreach in (None, False):
            torch.manual_seed(0)
            kwargs = {} if foreach is None else {"foreach": foreach}
            model = DeepSVDD(n_features=3, lr=0.01, weight_decay=1e-3, optimizer=partial(optimizer, **options, **kwargs))
            opt = model.make_optimizer(model.parameters())
            assert opt.defaults["foreach"] is (True if foreach is None else foreach), optimizer.__name__
            for batch in x:
                loss = model.net(batch).pow(2).sum(dim=-1).mean()
                opt.zero_grad()
                loss.backward()
                opt.step()
            trained[foreach] = torch.cat([p.detach().flatten() for p in model.parameters()])
        assert torch.equal(trained[None], trained[False]), optimizer.__name__
        torch.manual_seed(0)
        initial = torch.cat([p.detach().flatten() for p in DeepSVDD(n_features=3).parameters()])
        assert not torch.equal(trained[None], initial)  # the steps moved the weights


def test_an_optimizer_implementation_switch_that_is_no_bool_is_one_line():
    from functools import partial

    import pytest

    from oneclass.errors import ConfigError
    from oneclass.models.deep_svdd import DeepSVDD

    with pytest.raises(ConfigError, match=r"^model.optimizer.foreach must be true, false or null, got 'abc'$"):
        DeepSVDD(n_features=3, optimizer=partial(torch.optim.Adam, foreach="abc"))
    with pytest.raises(ConfigError, match=r"^model.optimizer.fused must be true, false or null, got 1$"):
        DeepSVDD(n_features=3, optimizer=partial(torch.optim.Adam, fused=1))
