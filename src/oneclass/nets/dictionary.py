"""Data-dependent initialisation of a convolutional net's first layer by sparse dictionary learning.

The MNIST results of Ruff et al. (ICML 2018, Table 1) come from their Theano code, which starts the
autoencoder pretraining with the first convolution's filters set to the atoms of a sparse
dictionary (``weight_dict_init``): patches of the filter size are cut from 500 random training
images, standardised per pixel, and a mini-batch dictionary learner (l1 penalty 1, batches of 10
patches, 1000 iterations) gives one unit-norm atom per filter. Their later PyTorch code (whose
README command our MNIST preset follows) uses torch's default initialisation instead.
:func:`init_first_conv` does the former (``model.pretrain_init=dictionary`` of Deep SVDD).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from oneclass.errors import ConfigError


def first_conv(net: nn.Module, where: str = "model.pretrain_init=dictionary") -> nn.Conv2d:
    """The first ``Conv2d`` of ``net`` (in module order); a one-line error when there is none."""
    for m in net.modules():
        if isinstance(m, nn.Conv2d):
            return m
    raise ConfigError(f"{where} initialises a first convolution; {type(net).__name__} has none "
                      "(use it with an image net: model/net=lenet_mnist or lenet_cifar10)")


def dictionary_filters(images: np.ndarray, n_filters: int, size: tuple[int, int], seed: int, n_images: int = 500,
                       iterations: int = 1000, batch: int = 10) -> np.ndarray:
    """``(n_filters, channels, h, w)`` unit-norm atoms of a sparse dictionary of ``size`` patches of
    ``n_images`` random ``images`` (``(n, channels, H, W)``), each patch pixel standardised over
    the patches; ``iterations`` mini-batch updates of ``batch`` random patches."""
    from sklearn.decomposition import MiniBatchDictionaryLearning
    from sklearn.feature_extraction.image import extract_patches_2d

    rng = np.random.default_rng(seed)
    n, channels = images.shape[:2]
    chosen = images[rng.choice(n, size=min(n_images, n), replace=False)]
    patches = np.concatenate([extract_patches_2d(np.moveaxis(img, 0, -1), size).reshape(-1, channels * size[0] * size[1])
                              for img in chosen]).astype(np.float64)
    patches -= patches.mean(axis=0)
    std = patches.std(axis=0)
    patches /= np.where(std > 0, std, 1.0)
    learner = MiniBatchDictionaryLearning(n_components=n_filters, alpha=1.0, batch_size=batch,
                                          random_state=int(rng.integers(2**31 - 1)))
    for _ in range(iterations):
        learner.partial_fit(patches[rng.integers(len(patches), size=batch)])
    atoms = learner.components_.reshape(n_filters, size[0], size[1], channels)
    return np.ascontiguousarray(np.moveaxis(atoms, -1, 1)).astype(np.float32)


@torch.no_grad()
def init_first_conv(net: nn.Module, x: torch.Tensor, seed: int) -> None:
    """Set the first convolution's filters of ``net`` to :func:`dictionary_filters` of the images ``x``."""
    conv = first_conv(net)
    if x.dim() != 4 or x.shape[1] != conv.in_channels:
        raise ConfigError(f"model.pretrain_init=dictionary needs images (n, {conv.in_channels}, H, W), got shape "
                          f"{tuple(x.shape)}")
    w = dictionary_filters(x.detach().cpu().numpy(), conv.out_channels, tuple(conv.kernel_size), seed)
    conv.weight.copy_(torch.from_numpy(w).to(conv.weight))
