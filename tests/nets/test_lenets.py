"""Ruff's LeNets for MNIST and CIFAR-10: the reference's shapes and weights, no bias terms, their
mirrored decoders, and one-line errors for other shapes."""

from __future__ import annotations

from functools import partial

import pytest
import torch
from torch import nn

from oneclass.config import build
from oneclass.errors import ConfigError
from oneclass.models.deep_svdd import DeepSVDD, bias_terms
from oneclass.nets import CIFAR10LeNet, MNISTLeNet


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
    with pytest.raises(ConfigError, match=r"MNISTLeNet is an image net \(inputs of shape \(1, 28, 28\)\) but the dataset "
                                          r"gives flat events of shape \(5,\); pick a flat net") as err:
        build(cfg.model, "model", input_shape=(5,))
    assert "\n" not in str(err.value)
    with pytest.raises(ConfigError, match=r"CIFAR10LeNet takes images of shape \(3, 32, 32\), the dataset gives "
                                          r"images of shape \(1, 28, 28\)"):
        CIFAR10LeNet((1, 28, 28))
    with pytest.raises(ConfigError, match="rep_dim must be a multiple of 16"):
        MNISTLeNet(rep_dim=20)


@pytest.mark.parametrize("model", ["deepsvdd", "deepsvdd_soft", "ae"])
def test_dense_default_net_gives_way_to_the_lenet_of_the_image_shape(cfg_factory, model):
    """Deep SVDD and the autoencoder pick their net by the input's shape (no per-dataset preset): the
    dense default on events, Ruff's LeNet of that shape on images, at the lenet_* configs' settings; a
    shape without a LeNet is one line."""
    cfg = cfg_factory(f"model={model}", small=False)

    def net_of(shape):
        detector = build(cfg.model, "model", input_shape=shape)
        return detector.net if hasattr(detector, "net") else detector.encoder

    assert type(net_of((5,))).__name__ in ("SVDDMLP", "DenseEncoder")
    mnist, cifar = net_of((1, 28, 28)), net_of((3, 32, 32))
    assert isinstance(mnist, MNISTLeNet) and mnist.rep_dim == 32
    assert isinstance(cifar, CIFAR10LeNet) and cifar.rep_dim == 128 and cifar.init == "xavier"
    with pytest.raises(ConfigError, match=r"no default image net for images of shape \(1, 20, 20\)") as err:
        net_of((1, 20, 20))
    assert "\n" not in str(err.value)
