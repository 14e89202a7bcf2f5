"""Networks injected into detectors (``model.net``, configs in ``conf/model/net/``).

See :mod:`oneclass.nets.base` for the contract: ``Net(input_shape, rep_dim=..., ...)``,
``forward: (n, *input_shape) -> (n, rep_dim)``, ``decoder()`` the mirrored network.
"""

from oneclass.nets.base import glorot_init, hidden_sizes, normal_init, make, make_activation, require_rep_dim
from oneclass.nets.dense import MLP, DenseEncoder, SVDDMLP, funnel_widths, sized_hidden
from oneclass.nets.lenet import CIFAR10LeNet, MNISTLeNet, image_net

__all__ = ["MLP", "CIFAR10LeNet", "DenseEncoder", "MNISTLeNet", "SVDDMLP", "funnel_widths", "sized_hidden", "glorot_init", "normal_init",
           "hidden_sizes", "image_net", "make", "make_activation",
           "require_rep_dim"]
