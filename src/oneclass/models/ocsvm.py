"""One-class SVM (Schoelkopf et al. 2001) as a scikit-learn adapter.

The OCDN paper's two detectors on the raw features, RBF kernel with gamma = 0.1:
IAD ("inside anomaly detector", nu = 0.85) and OAD ("outside anomaly detector", nu = 0.15).

``solver=exact`` is scikit-learn's ``OneClassSVM`` (libsvm): its cost grows at least as n^2 in
the number of training events and the scoring cost with the number of support vectors (about
nu * n). ``solver=nystroem`` approximates the RBF kernel with a Nystroem feature map of
``n_components`` landmarks and solves the same nu-formulation with ``SGDOneClassSVM``, linear in n.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from oneclass.config import require_fraction, require_positive
from oneclass.errors import ConfigError
from oneclass.models.adapter import Adapter, in_chunks

SOLVERS = ("exact", "nystroem")
KERNELS = ("rbf", "linear", "poly", "sigmoid")


class OneClassSVM(Adapter):
    """One-class SVM adapter (:class:`~oneclass.models.adapter.Adapter`); ``score(x) = 1 - score_samples(x)``, higher = more anomalous.

    ``score_samples`` is the SVM's unshifted decision value <w, phi(x)>, large inside the
    estimated support of the training data. ``1 - score_samples`` reverses the order so that
    events outside the support score high, as the framework's contract requires; the ``1 -``
    (rather than a plain minus) keeps the numbers equal to those in the OCDN authors' saved
    scores and figures. Any decreasing function ranks events the same way, so AUC and SIC are
    unaffected by the choice.

    Parameters
    ----------
    input_shape : shape of one event (from the pipeline); images are flattened to vectors.
        ``n_features=d`` is the same as ``input_shape=(d,)``.
    nu : in (0, 1] ((0, 1) for ``solver=exact``): an upper bound on the fraction of training events outside the support and a
        lower bound on the fraction of support vectors (paper: IAD 0.85, OAD 0.15).
    gamma : RBF kernel width, K(x, y) = exp(-gamma |x - y|^2) (paper: 0.1), or ``auto`` = 1 / d
        (scikit-learn's and PyOD's ``auto``, as ADBench and PyOD's benchmark run OC-SVM).
    kernel : ``rbf`` (paper), or another libsvm kernel for ``solver=exact``.
    solver : ``exact`` (libsvm ``OneClassSVM``) or ``nystroem`` (Nystroem RBF map + ``SGDOneClassSVM``).
    n_components : Nystroem landmarks (``solver=nystroem`` only).
    tol : stopping tolerance of either solver.
    max_iter : SGD epochs over the data (``solver=nystroem`` only).
    cache_size : libsvm kernel cache in MB (``solver=exact`` only; speed only).
    random_state : seed of the Nystroem landmarks and the SGD order (the config passes the run's
        seed). The exact solver is deterministic.
    """

    def __init__(
        self,
        input_shape: Any = None,
        nu: float = 0.5,
        gamma: float | str = 0.1,
        kernel: str = "rbf",
        solver: str = "exact",
        n_components: int = 1000,
        tol: float = 1e-3,
        max_iter: int = 1000,
        cache_size: float = 500.0,
        random_state: int | None = None,
        n_features: int | None = None,
    ) -> None:
        # scikit-learn convention: store only; everything is validated in fit.
        self.input_shape = input_shape
        self.n_features = n_features
        self.nu = nu
        self.gamma = gamma
        self.kernel = kernel
        self.solver = solver
        self.n_components = n_components
        self.tol = tol
        self.max_iter = max_iter
        self.cache_size = cache_size
        self.random_state = random_state

    # rows per score_samples call (memory only)
    SCORE_CHUNK = 100_000

    def check_params(self) -> None:
        require_fraction(self.nu, "model.nu")
        if self.solver == "exact" and self.nu == 1:
            raise ConfigError("model.nu=1 makes libsvm's exact solver fail (every training event a bounded support "
                              "vector); use model.nu < 1 (e.g. 0.99) or model.solver=nystroem")
        if isinstance(self.gamma, str) and self.gamma != "auto":
            raise ConfigError(f"model.gamma must be a positive number or auto (1 / d), got {self.gamma!r}")
        if self.gamma != "auto":
            require_positive(self.gamma, "model.gamma")
        if self.solver not in SOLVERS:
            raise ConfigError(f"model.solver must be one of {list(SOLVERS)}, got {self.solver!r}")
        if self.kernel not in KERNELS:
            raise ConfigError(f"model.kernel must be one of {list(KERNELS)}, got {self.kernel!r}")
        if self.solver == "nystroem" and self.kernel != "rbf":
            raise ConfigError(f"model.solver=nystroem approximates the rbf kernel only, got model.kernel={self.kernel!r}")
        require_positive(self.n_components, "model.n_components", integer=True)
        require_positive(self.tol, "model.tol")
        require_positive(self.max_iter, "model.max_iter", integer=True)
        require_positive(self.cache_size, "model.cache_size")
        if self.random_state is not None and (isinstance(self.random_state, bool) or not isinstance(self.random_state, int)):
            raise ConfigError(f"model.random_state must be an integer or null, got {self.random_state!r}")

    @property
    def gamma_(self) -> float:
        """The kernel width used: ``gamma``, or 1 / d for ``auto``."""
        return 1.0 / int(np.prod(self.shape_)) if self.gamma == "auto" else float(self.gamma)

    def _make_estimator(self, n_train: int) -> Any:
        from sklearn.kernel_approximation import Nystroem
        from sklearn.linear_model import SGDOneClassSVM
        from sklearn.pipeline import make_pipeline
        from sklearn.svm import OneClassSVM as SkOneClassSVM

        if self.solver == "exact":
            return SkOneClassSVM(kernel=self.kernel, nu=self.nu, gamma=self.gamma_, tol=self.tol,
                                 cache_size=self.cache_size)
        return make_pipeline(
            Nystroem(kernel="rbf", gamma=self.gamma_, n_components=min(self.n_components, n_train),
                     random_state=self.random_state),
            SGDOneClassSVM(nu=self.nu, tol=self.tol, max_iter=self.max_iter, random_state=self.random_state),
        )

    def check_rows(self, x: np.ndarray) -> None:
        if len(x) == 0:
            raise ConfigError("OneClassSVM: the training set is empty")

    def fit_rows(self, x: np.ndarray) -> None:
        """Fit the solver on ``x`` (n, d), recording whether it converged (``converged_``)."""
        import warnings

        from sklearn.exceptions import ConvergenceWarning

        estimator = self._make_estimator(len(x))
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", ConvergenceWarning)
            estimator.fit(x)
        self.converged_ = not any(issubclass(w.category, ConvergenceWarning) for w in caught)
        self.estimator_ = estimator

    def score_rows(self, x: np.ndarray) -> np.ndarray:
        """``1 - score_samples(x)``: higher = further outside the support."""
        return 1.0 - in_chunks(self.estimator_.score_samples, x, self.SCORE_CHUNK)
