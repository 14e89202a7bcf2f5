"""ALAD: Adversarially Learned Anomaly Detection (Zenati et al., ICDM 2018).

A bidirectional GAN: an encoder E (data -> latent) and a generator G (latent -> data) are trained
against three discriminators,

* D_xz on pairs (x, E(x)) (real) against (G(z), z) (fake), z ~ N(0, I): the BiGAN game, whose
  optimum makes E and G inverse to each other on the data;
* D_xx on (x, x) (real) against (x, G(E(x))) (fake): data-space cycle consistency;
* D_zz on (z, z) (real) against (z, E(G(z))) (fake): latent-space cycle consistency.

Each mini-batch runs one discriminator step (the sum of the three binary cross-entropies, over
the discriminators' parameters) and then one encoder/generator step (the same terms with the
labels flipped, over E's and G's parameters), each with its own optimizer and fresh z. Spectral
normalisation of the discriminators' linear layers stabilises the game (the paper's setting).

The score of an event is the feature-matching distance of D_xx: the L1 (``score_norm=1``, the
paper's default degree) or L2 (``score_norm=2``, NRCAN's) distance between D_xx's intermediate
features of (x, x) and of (x, G(E(x))). An event that the BiGAN has learned to cycle is mapped
back near itself and its two feature vectors agree (distance 0 when G(E(x)) = x); higher = more
anomalous.

Defaults: the NRCAN collection's PyTorch port (their code; the README lists no ALAD row): latent
size d // 2, E = d -> 2L -> L (LeakyReLU 0.2), G = L -> 2L -> 128 -> d (ReLU), D_xz with a
128-wide x branch (BatchNorm), z branch and joint layer (dropout 0.5), D_xx = 2d -> 128 (dropout
0.2), D_zz = 2L -> L (dropout 0.2), Adam lr 1e-4 with betas (0.5, 0.999), batch 128. The official
TensorFlow code's exponential moving average of the weights at test time is not reproduced.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm as _spectral_norm

from oneclass.config import require_int
from oneclass.errors import ConfigError, TrainingError
from oneclass.models.base import LightningDetector

SCORE_NORMS = (1, 2)
NEGATIVE_SLOPE = 0.2


def _dropout(p: Any, name: str) -> float:
    if isinstance(p, bool) or not (isinstance(p, (int, float)) and 0 <= p < 1):
        raise ConfigError(f"{name} must be in [0, 1), got {p!r}")
    return float(p)


def _linear(n_in: int, n_out: int, sn: bool) -> nn.Module:
    layer = nn.Linear(n_in, n_out)
    return _spectral_norm(layer) if sn else layer


class PairDiscriminator(nn.Module):
    """D on a concatenated pair (a, b): Linear(2 * size -> hidden) - LeakyReLU - Dropout gives the
    features used for feature matching, then Linear(hidden -> 1) the logit."""

    def __init__(self, size: int, hidden: int, dropout: float, sn: bool) -> None:
        super().__init__()
        self.features = nn.Sequential(_linear(2 * size, hidden, sn), nn.LeakyReLU(NEGATIVE_SLOPE), nn.Dropout(dropout))
        self.logit = _linear(hidden, 1, sn)

    def forward(self, a: torch.Tensor, b: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(logit (n, 1), features (n, hidden)) of the pairs."""
        h = self.features(torch.cat([a, b], dim=1))
        return self.logit(h), h


class JointDiscriminator(nn.Module):
    """D_xz: x -> hidden (BatchNorm, LeakyReLU), z -> hidden (LeakyReLU, dropout), the two joined
    -> hidden (LeakyReLU, dropout) -> logit."""

    def __init__(self, d: int, latent: int, hidden: int, dropout: float, sn: bool) -> None:
        super().__init__()
        self.x_branch = nn.Sequential(_linear(d, hidden, sn), nn.BatchNorm1d(hidden), nn.LeakyReLU(NEGATIVE_SLOPE))
        self.z_branch = nn.Sequential(_linear(latent, hidden, sn), nn.LeakyReLU(NEGATIVE_SLOPE), nn.Dropout(dropout))
        self.joint = nn.Sequential(_linear(2 * hidden, hidden, sn), nn.LeakyReLU(NEGATIVE_SLOPE), nn.Dropout(dropout))
        self.logit = _linear(hidden, 1, sn)

    def forward(self, x: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        return self.logit(self.joint(torch.cat([self.x_branch(x), self.z_branch(z)], dim=1)))


def bce(logits: torch.Tensor, real: bool) -> torch.Tensor:
    """Binary cross-entropy of ``logits`` against the label 1 (``real``) or 0."""
    target = torch.ones_like(logits) if real else torch.zeros_like(logits)
    return F.binary_cross_entropy_with_logits(logits, target)


class ALAD(LightningDetector):
    """ALAD detector; ``forward`` is D_xx's feature-matching distance between (x, x) and (x, G(E(x))).

    Parameters
    ----------
    input_shape : (d,): flat events only.
    latent_dim : L, the latent size; None = d // 2 (at least 1; NRCAN's default).
    hidden : width of D_xz's and D_xx's layers and of G's last hidden layer (NRCAN: 128).
    dropout_xz, dropout_pair : dropout of D_xz (0.5) and of D_xx / D_zz (0.2).
    spectral_norm : spectral normalisation of every discriminator linear layer.
    score_norm : 1 (L1, the paper's default) or 2 (L2, NRCAN's) feature-matching distance.
    use_dzz : train the latent cycle discriminator D_zz (the paper's full model); False drops its
        terms from both steps (the paper's ablation).
    Other parameters: :class:`~oneclass.models.base.LightningDetector`; the optimizer (lr,
    weight decay, betas from conf/model/alad.yaml) is built twice, for the discriminators and for
    E and G; a scheduler applies to both.
    """

    cannot_vectorise = "it trains adversarially, each batch alternating a discriminator step and a generator step"  # oneclass.vectorised

    score_name = "feature-matching distance"
    flat_only = True  # its dense generator and discriminators take (events, features); images are refused

    training_defaults = {"lr": 1e-4, "batch_size": 128}

    def __init__(
        self,
        input_shape: Any = None,
        latent_dim: int | None = None,
        hidden: int = 128,
        dropout_xz: float = 0.5,
        dropout_pair: float = 0.2,
        spectral_norm: bool = True,
        score_norm: int = 1,
        use_dzz: bool = True,
        **training: Any,
    ) -> None:
        super().__init__(input_shape=input_shape, **training)
        if len(self.input_shape) != 1:
            raise ConfigError(f"ALAD takes flat (events, features) inputs but the dataset gives images of shape "
                              f"{self.input_shape}; use a tabular dataset")
        d = int(self.input_shape[0])
        if latent_dim is None:
            latent_dim = max(1, d // 2)
        self.latent_dim = require_int(latent_dim, "model.latent_dim")
        if self.latent_dim < 1:
            raise ConfigError(f"model.latent_dim must be an integer >= 1 (or null for d // 2), got {latent_dim!r}")
        self.hidden = require_int(hidden, "model.hidden")
        if self.hidden < 1:
            raise ConfigError(f"model.hidden must be an integer >= 1, got {hidden!r}")
        dropout_xz = _dropout(dropout_xz, "model.dropout_xz")
        dropout_pair = _dropout(dropout_pair, "model.dropout_pair")
        if score_norm not in SCORE_NORMS or isinstance(score_norm, bool):
            raise ConfigError(f"model.score_norm must be 1 (L1) or 2 (L2), got {score_norm!r}")
        for name, value in (("spectral_norm", spectral_norm), ("use_dzz", use_dzz)):
            if not isinstance(value, bool):
                raise ConfigError(f"model.{name} must be true or false, got {value!r}")
        self.score_norm, self.use_dzz = int(score_norm), use_dzz
        self.save_hyperparameters()
        L, sn = self.latent_dim, spectral_norm
        self.encoder = nn.Sequential(nn.Linear(d, 2 * L), nn.LeakyReLU(NEGATIVE_SLOPE), nn.Linear(2 * L, L))
        self.generator = nn.Sequential(nn.Linear(L, 2 * L), nn.ReLU(), nn.Linear(2 * L, self.hidden), nn.ReLU(),
                                       nn.Linear(self.hidden, d))
        self.d_xz = JointDiscriminator(d, L, self.hidden, dropout_xz, sn)
        self.d_xx = PairDiscriminator(d, self.hidden, dropout_pair, sn)
        self.d_zz = PairDiscriminator(L, L, dropout_pair, sn)

    # ------------------------------------------------------------------ the model
    def discriminator_modules(self) -> list[nn.Module]:
        return [self.d_xz, self.d_xx] + ([self.d_zz] if self.use_dzz else [])

    def reconstruct(self, x: torch.Tensor) -> torch.Tensor:
        """G(E(x))."""
        return self.generator(self.encoder(x))

    def feature_distance(self, x: torch.Tensor, x_rec: torch.Tensor) -> torch.Tensor:
        """|f_xx(x, x) - f_xx(x, x_rec)| (L1 or L2, ``score_norm``) per event, shape (n,)."""
        _, real = self.d_xx(x, x)
        _, fake = self.d_xx(x, x_rec)
        return (real - fake).norm(p=self.score_norm, dim=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The feature-matching score of each event, shape (n,)."""
        return self.feature_distance(x, self.reconstruct(x))

    def adversarial_terms(self, x: torch.Tensor, z: torch.Tensor, generator_side: bool,
                          ) -> torch.Tensor:
        """The summed BCE of D_xz, D_xx (and D_zz): the discriminators' loss, or with the labels
        flipped (``generator_side``) the encoder's and generator's."""
        real = not generator_side
        z_enc = self.encoder(x)
        x_gen = self.generator(z)
        x_rec = self.generator(z_enc)
        loss = bce(self.d_xz(x, z_enc), real) + bce(self.d_xz(x_gen, z), not real)
        loss = loss + bce(self.d_xx(x, x)[0], real) + bce(self.d_xx(x, x_rec)[0], not real)
        if self.use_dzz:
            z_rec = self.encoder(x_gen)
            loss = loss + bce(self.d_zz(z, z)[0], real) + bce(self.d_zz(z, z_rec)[0], not real)
        return loss

    def training_loss(self, x: torch.Tensor) -> torch.Tensor:
        """The discriminators' loss of a batch (for inspection; training runs both steps)."""
        return self.adversarial_terms(x, torch.randn(len(x), self.latent_dim, device=x.device), generator_side=False)

    # ------------------------------------------------------------------ training
    def configure_optimizers(self):
        d_params = [p for m in self.discriminator_modules() for p in m.parameters()]
        ge_params = [*self.encoder.parameters(), *self.generator.parameters()]
        opts = [self.make_optimizer(d_params), self.make_optimizer(ge_params)]
        scheds = [self.make_scheduler(o, self.lr_milestones) for o in opts]
        if scheds[0] is None:
            return opts
        return opts, [{"scheduler": s, "interval": "epoch"} for s in scheds]

    def optimise_batch(self, batch: torch.Tensor, optimizers: Any) -> torch.Tensor:
        """One discriminator step and one encoder/generator step on ``batch`` (in the base's block
        loop); the epoch's loss is the mean of (discriminator loss + encoder/generator loss)."""
        opt_d, opt_ge = optimizers
        ge_params = [*self.encoder.parameters(), *self.generator.parameters()]
        d_params = [p for m in self.discriminator_modules() for p in m.parameters()]
        z = torch.randn(len(batch), self.latent_dim, device=batch.device)
        with torch.no_grad():  # E and G are fixed in the discriminator step
            z_enc, x_gen = self.encoder(batch), self.generator(z)
            x_rec, z_rec = self.generator(z_enc), self.encoder(x_gen)
        loss_d = bce(self.d_xz(batch, z_enc), True) + bce(self.d_xz(x_gen, z), False)
        loss_d = loss_d + bce(self.d_xx(batch, batch)[0], True) + bce(self.d_xx(batch, x_rec)[0], False)
        if self.use_dzz:
            loss_d = loss_d + bce(self.d_zz(z, z)[0], True) + bce(self.d_zz(z, z_rec)[0], False)
        opt_d.zero_grad()
        self.manual_backward(loss_d, inputs=d_params)
        opt_d.step()
        z = torch.randn(len(batch), self.latent_dim, device=batch.device)
        loss_ge = self.adversarial_terms(batch, z, generator_side=True)
        opt_ge.zero_grad()
        self.manual_backward(loss_ge, inputs=ge_params)
        opt_ge.step()
        return loss_d.detach() + loss_ge.detach()

    def check_training_input(self, x: Any) -> None:
        super().check_training_input(x)
        if len(x) < 2:
            raise TrainingError(f"ALAD needs at least 2 training events (D_xz's BatchNorm), got {len(x)}")
