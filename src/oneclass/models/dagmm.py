"""DAGMM: Deep Autoencoding Gaussian Mixture Model (Zong et al., ICLR 2018).

A compression network (an autoencoder) gives each event a low-dimensional code z_c and two
reconstruction features z_r = (relative Euclidean distance |x - x'| / |x|, cosine similarity of x
and x'); an estimation network maps z = [z_c, z_r] to soft mixture memberships gamma (softmax over
K components). From a batch's (z, gamma) the GMM parameters follow in closed form (paper Eq. 5):

    phi_k = mean_i gamma_ik,   mu_k = sum_i gamma_ik z_i / sum_i gamma_ik,
    Sigma_k = sum_i gamma_ik (z_i - mu_k)(z_i - mu_k)^T / sum_i gamma_ik,

and the sample energy is E(z) = -log sum_k phi_k N(z | mu_k, Sigma_k) (Eq. 6). The objective (Eq. 7)

    J = mean_i L(x_i, x_i') + lambda_1 mean_i E(z_i) + lambda_2 sum_k sum_j 1 / Sigma_k,jj

is minimised end to end. After training the GMM parameters are estimated once over the whole
training set (eval mode: the estimation network's dropout off) and the anomaly score of an event
is its energy under them (higher = more anomalous).

The GMM arithmetic runs in float64 (z has only latent + 2 dimensions): ``reg_covar`` is added to
every covariance's diagonal (NRCAN's suggested 1e-12), and a covariance that is still not positive
definite stops training with one line naming the fix. Defaults: the NRCAN collection's (their
README: 4 mixtures - 2 on arrhythmia -, latent 1, lambda_1 0.1, lambda_2 0.005, reg_covar 1e-12,
a ReLU funnel autoencoder d -> d/2 -> d/4 -> d/8 -> 1, a tanh estimation network) and the paper's
estimation network FC(10, tanh) - Dropout(0.5) - FC(K, softmax).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from oneclass.config import require_int, require_number
from oneclass.errors import ConfigError, TrainingError
from oneclass.models.autoencoder import Autoencoder
from oneclass.models.base import score_chunk
from oneclass.nets import hidden_sizes, make_activation, normal_init

# a mixture weight or membership sum never goes below this (a component that lost every event)
TINY = 1e-12


def gmm_parameters(z: torch.Tensor, gamma: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(phi (K,), mu (K, D), Sigma (K, D, D)) of the mixture with soft memberships ``gamma`` (N, K)
    of the points ``z`` (N, D) (DAGMM's Eq. 5)."""
    n_k = gamma.sum(dim=0).clamp_min(TINY)
    phi = n_k / z.shape[0]
    mu = gamma.T @ z / n_k[:, None]
    diff = z[:, None, :] - mu[None]  # (N, K, D)
    cov = torch.einsum("nk,nkd,nke->kde", gamma, diff, diff) / n_k[:, None, None]
    return phi, mu, cov


def regularised_cholesky(cov: torch.Tensor, reg_covar: float, model: str = "DAGMM") -> torch.Tensor:
    """Cholesky factors of ``cov + reg_covar * I``; one line when one is not positive definite."""
    eye = torch.eye(cov.shape[-1], dtype=cov.dtype, device=cov.device)
    chol, info = torch.linalg.cholesky_ex(cov + reg_covar * eye)
    if bool((info > 0).any()):
        k = int(torch.nonzero(info > 0)[0, 0])
        raise TrainingError(f"{model}: the covariance of GMM component {k} is singular even with reg_covar={reg_covar:g}; "
                            "raise model.reg_covar (e.g. 1e-6) or lower model.n_mixtures")
    return chol


def sample_energy(z: torch.Tensor, phi: torch.Tensor, mu: torch.Tensor, chol: torch.Tensor) -> torch.Tensor:
    """E(z) = -log sum_k phi_k N(z | mu_k, L_k L_k^T) for each row of ``z`` (N, D) (DAGMM's Eq. 6),
    with the covariances given by their Cholesky factors ``chol`` (K, D, D); log-sum-exp stable."""
    d = z.shape[1]
    diff = (z[:, None, :] - mu[None]).unsqueeze(-1)  # (N, K, D, 1)
    sol = torch.linalg.solve_triangular(chol.expand(z.shape[0], *chol.shape), diff, upper=False)
    maha = sol.squeeze(-1).pow(2).sum(dim=-1)  # (N, K)
    log_det = 2.0 * torch.diagonal(chol, dim1=-2, dim2=-1).log().sum(dim=-1)  # (K,)
    log_p = torch.log(phi.clamp_min(TINY)) - 0.5 * (maha + log_det + d * math.log(2 * math.pi))
    return -torch.logsumexp(log_p, dim=1)


class DAGMM(Autoencoder):
    """DAGMM detector; ``forward`` is the sample energy under the GMM fitted on the training set.

    Parameters
    ----------
    net : the compression network's encoder (``conf/model/net/``) with a ``decoder()``; its
        ``rep_dim`` is the code size (NRCAN: 1).
    n_mixtures : K, the GMM components (NRCAN: 4; 2 on arrhythmia).
    estimation_hidden, estimation_activation, dropout : the estimation network, z -> hidden
        (activation, then dropout) -> K (softmax); paper: [10], tanh, 0.5.
    lambda_energy, lambda_cov : lambda_1 (mean sample energy) and lambda_2 (sum of inverse
        covariance diagonals) of the objective.
    reg_covar : added to each covariance's diagonal before it is factorised (NRCAN: 1e-12).
    loss : the reconstruction term L, ``sse`` (|x - x'|^2 per event, mean over the batch: the
        paper's) or ``mse`` (mean over all values: NRCAN's code).
    Other parameters: :class:`~oneclass.models.autoencoder.Autoencoder`.
    """

    image_net = None  # tabular: its dense nets refuse images

    cannot_vectorise = "its Gaussian mixture (phi, mu, covariance buffers) is estimated for one model, not per member"  # oneclass.vectorised

    # dimensions that subclasses append to z (SOM-DAGMM's map coordinates)
    EXTRA_DIMS = 0

    training_defaults = {"lr": 1e-4, "batch_size": 128}

    def __init__(
        self,
        input_shape: Any = None,
        net: Any = None,
        n_mixtures: int = 4,
        estimation_hidden: Sequence[int] = (10,),
        estimation_activation: str = "tanh",
        dropout: float = 0.5,
        lambda_energy: float = 0.1,
        lambda_cov: float = 0.005,
        reg_covar: float = 1e-12,
        init: str = "torch",
        loss: str = "sse",
        **training: Any,
    ) -> None:
        super().__init__(input_shape=input_shape, net=net, init=init, loss=loss, **training)
        self.n_mixtures = require_int(n_mixtures, "model.n_mixtures")
        if self.n_mixtures < 1:
            raise ConfigError(f"model.n_mixtures must be an integer >= 1 (GMM components), got {n_mixtures!r}")
        for name, value in (("lambda_energy", lambda_energy), ("lambda_cov", lambda_cov), ("reg_covar", reg_covar)):
            if require_number(value, f"model.{name}") < 0:
                raise ConfigError(f"model.{name} must be >= 0, got {value!r}")
        if isinstance(dropout, bool) or not (isinstance(dropout, (int, float)) and 0 <= dropout < 1):
            raise ConfigError(f"model.dropout must be in [0, 1), got {dropout!r}")
        self.lambda_energy, self.lambda_cov, self.reg_covar = float(lambda_energy), float(lambda_cov), float(reg_covar)
        self.z_dim = int(self.encoder.rep_dim) + 2 + self.EXTRA_DIMS
        layers: list[nn.Module] = []
        width = self.z_dim
        for h in hidden_sizes(estimation_hidden, "model.estimation_hidden"):
            layers += [nn.Linear(width, h), make_activation(estimation_activation, "model.estimation_activation")]
            if dropout > 0:
                layers.append(nn.Dropout(float(dropout)))
            width = h
        layers.append(nn.Linear(width, self.n_mixtures))
        self.estimation = nn.Sequential(*layers)
        if init == "normal":
            normal_init(self.estimation)
        # the GMM fitted on the training set after training (saved with the weights)
        self.register_buffer("phi", torch.full((self.n_mixtures,), 1.0 / self.n_mixtures, dtype=torch.float64))
        self.register_buffer("mu", torch.zeros(self.n_mixtures, self.z_dim, dtype=torch.float64))
        self.register_buffer("chol", torch.eye(self.z_dim, dtype=torch.float64).repeat(self.n_mixtures, 1, 1))
        self.register_buffer("gmm_fitted", torch.tensor(False))

    # ------------------------------------------------------------------ the model
    def gmm_input(self, x: torch.Tensor, code: torch.Tensor, x_hat: torch.Tensor) -> torch.Tensor:
        """z = [z_c, relative Euclidean distance, cosine similarity] (paper Eq. 3-4), shape (n, z_dim)."""
        x, x_hat = x.flatten(1), x_hat.flatten(1)
        rel = (x - x_hat).norm(dim=1) / x.norm(dim=1).clamp_min(1e-8)
        cos = F.cosine_similarity(x, x_hat, dim=1)
        return torch.cat([code.flatten(1), rel[:, None], cos[:, None]], dim=1)

    def compress(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(x', z) of a batch."""
        code = self.encoder(x)
        x_hat = self.decoder(code)
        return x_hat, self.gmm_input(x, code, x_hat)

    def memberships(self, z: torch.Tensor) -> torch.Tensor:
        """gamma = softmax(estimation network(z)), shape (n, K), float64 (as the GMM arithmetic)."""
        return torch.softmax(self.estimation(z).double(), dim=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Sample energy of each event under the training-set GMM, shape (n,), float64."""
        _, z = self.compress(x)
        return sample_energy(z.double(), self.phi, self.mu, self.chol)

    def training_loss(self, x: torch.Tensor) -> torch.Tensor:
        x_hat, z = self.compress(x)
        gamma = self.memberships(z)
        z64 = z.double()
        phi, mu, cov = gmm_parameters(z64, gamma)
        chol = regularised_cholesky(cov, self.reg_covar, type(self).__name__)
        energy = sample_energy(z64, phi, mu, chol).mean()
        penalty = (1.0 / torch.diagonal(cov, dim1=-2, dim2=-1).clamp_min(TINY)).sum()
        recon = F.mse_loss(x_hat, x) if self.loss == "mse" else (x_hat - x).flatten(1).pow(2).sum(dim=1).mean()
        return recon + (self.lambda_energy * energy + self.lambda_cov * penalty).to(recon.dtype)

    # ------------------------------------------------------------------ the training-set GMM
    @torch.no_grad()
    def fit_gmm(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Estimate (phi, mu, Sigma) over all rows of ``x`` in eval mode (in chunks) and keep them
        (with Sigma's regularised Cholesky factor) for scoring."""
        was_training = self.training
        self.eval()
        try:
            chunk = score_chunk(self.input_shape)
            zs, gammas = [], []
            for i in range(0, len(x), chunk):
                _, z = self.compress(x[i : i + chunk])
                zs.append(z.double())
                gammas.append(self.memberships(z))
        finally:
            self.train(was_training)
        phi, mu, cov = gmm_parameters(torch.cat(zs), torch.cat(gammas))
        self.chol.copy_(regularised_cholesky(cov, self.reg_covar, type(self).__name__))
        self.phi.copy_(phi)
        self.mu.copy_(mu)
        self.gmm_fitted.fill_(True)
        return phi, mu, cov

    def on_train_end(self) -> None:
        self.fit_gmm(self.train_data)

    @torch.no_grad()
    def score(self, x: Any, batch_size: int | None = None) -> Any:
        if self._train_x is not None:  # scored during fit (snapshot epochs): the GMM of the weights now
            self.fit_gmm(self._train_x)
        elif not bool(self.gmm_fitted):
            raise TrainingError(f"{type(self).__name__} has no training-set GMM yet: call fit() before score()")
        return super().score(x, batch_size=batch_size)
