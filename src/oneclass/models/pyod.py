"""Any PyOD detector (Zhao et al., pyod.readthedocs.io) as a oneclass detector.

``model=pyod model.name=<PyOD class>`` with the class's keyword arguments in ``model.params``;
presets ``pyod_iforest``, ``pyod_lof``, ``pyod_knn``, ``pyod_ecod``, ``pyod_copod``, ``pyod_ae`` and
``pyod_deepsvdd``. The score is PyOD's ``decision_function`` (its convention is already higher =
more anomalous). Images are flattened to vectors.

PyOD is an optional extra: ``pip install 'oneclass[pyod]'`` (or ``pip install pyod``).
"""

from __future__ import annotations

import importlib
import inspect
import re
from pathlib import Path
from typing import Any

import numpy as np

from oneclass.config import require_int
from oneclass.errors import ConfigError, TrainingError, first_line
from oneclass.models.adapter import Adapter, in_chunks

INSTALL = "model=pyod needs PyOD: pip install 'oneclass[pyod]' (or pip install pyod)"
# classes in modules whose names do not follow the class name (the rest are found by scanning pyod.models)
KNOWN = {"IForest": "iforest", "LOF": "lof", "KNN": "knn", "ECOD": "ecod", "COPOD": "copod", "PCA": "pca",
         "HBOS": "hbos", "OCSVM": "ocsvm", "LODA": "loda", "AutoEncoder": "auto_encoder", "DeepSVDD": "deep_svdd",
         "VAE": "vae", "CBLOF": "cblof", "ABOD": "abod", "MCD": "mcd", "GMM": "gmm", "INNE": "inne", "KDE": "kde"}


def pyod_available() -> bool:
    """Whether PyOD can be imported."""
    try:
        import pyod  # noqa: F401
    except ImportError:
        return False
    return True


def _models_dir() -> Path:
    try:
        import pyod.models
    except ImportError:
        raise ConfigError(INSTALL) from None
    return Path(pyod.models.__file__).parent


def detector_names() -> list[str]:
    """Every class defined at the top of a ``pyod.models`` module (found without importing them)."""
    names = set()
    for path in _models_dir().glob("*.py"):
        names.update(re.findall(r"^class ([A-Z]\w*)\(", path.read_text(errors="replace"), flags=re.M))
    return sorted(n for n in names if not n.startswith(("Base", "Inner")))


def detector_class(name: Any) -> type:
    """The PyOD class called ``name`` (``IForest``, ``LOF``...), or ``pyod.models.<module>.<Class>``."""
    if not isinstance(name, str) or not name.strip():
        raise ConfigError(f"model.name must name a PyOD detector class (e.g. IForest), got {name!r}")
    folder = _models_dir()
    if "." in name:
        module_name, _, cls_name = name.rpartition(".")
    else:
        cls_name = name
        module = KNOWN.get(name)
        if module is None:
            pattern = re.compile(rf"^class {re.escape(name)}\(", re.M)
            module = next((p.stem for p in sorted(folder.glob("*.py")) if pattern.search(p.read_text(errors="replace"))), None)
        if module is None:
            shown = ", ".join(detector_names())
            raise ConfigError(f"model.name: PyOD has no detector {name!r}; known: {shown}")
        module_name = f"pyod.models.{module}"
    try:
        cls = getattr(importlib.import_module(module_name), cls_name)
    except ImportError as exc:
        raise ConfigError(f"model.name={name}: cannot import {module_name} ({first_line(exc)}); it may need an "
                          f"extra package") from None
    except AttributeError:
        raise ConfigError(f"model.name: {module_name} has no class {cls_name!r}") from None
    if not (isinstance(cls, type) and callable(getattr(cls, "decision_function", None))):
        raise ConfigError(f"model.name={name} is not a PyOD detector (no decision_function)")
    return cls


def sized_widths(d: int, spec: dict) -> list[int]:
    """Layer widths from the input size (``model.widths_from_input``), the same rule as our
    :class:`oneclass.nets.FunnelMLP` / ``FunnelSVDDMLP``: ``funnel_widths(d, compression_factor,
    n_layers, min_width)``, the last one replaced by ``last`` when given."""
    from oneclass.nets import funnel_widths

    allowed = {"param", "compression_factor", "n_layers", "min_width", "last"}
    unknown = sorted(set(spec) - allowed)
    if unknown or "param" not in spec:
        raise ConfigError(f"model.widths_from_input takes {sorted(allowed)} (param required), got {sorted(spec)}")
    n_layers = require_int(spec.get("n_layers", 2), "model.widths_from_input.n_layers")
    widths = funnel_widths(d, spec.get("compression_factor", 2), n_layers, spec.get("min_width", 1),
                           name="model.widths_from_input")
    if spec.get("last") is not None:
        widths[-1] = require_int(spec["last"], "model.widths_from_input.last")
    return widths


class PyOD(Adapter):
    """A PyOD detector behind the oneclass contract (:class:`~oneclass.models.adapter.Adapter`); ``score(x) = decision_function(x)``.

    Parameters
    ----------
    input_shape : shape of one event or image (from the pipeline); images are flattened.
    name : the PyOD class (``IForest``, ``LOF``, ``KNN``, ``ECOD``, ``COPOD``, ``AutoEncoder``,
        ``DeepSVDD``...) or its full path ``pyod.models.<module>.<Class>``.
    params : the class's keyword arguments.
    random_state : given to classes that take ``random_state`` unless ``params`` sets it (the
        config passes the run's seed).
    widths_from_input : optional ``{param, compression_factor, n_layers, min_width, last}``: set
        ``params[param]`` (e.g. ``hidden_neuron_list``) to widths sized from the input, as our
        funnel nets (equal architecture for the side-by-side).

    Classes that take ``n_features`` (PyOD's DeepSVDD) get the input size; ``verbose`` is 0 unless set.
    """

    def __init__(self, input_shape: Any = None, name: str = "IForest", params: dict | None = None,
                 random_state: int | None = None, widths_from_input: dict | None = None,
                 n_features: int | None = None) -> None:
        self.input_shape = input_shape
        self.n_features = n_features
        self.name = name
        self.params = dict(params or {})
        self.random_state = random_state
        self.widths_from_input = None if widths_from_input is None else dict(widths_from_input)
        self.validate()  # now, not after the data are read
        self._make()  # the class's own checks of its keyword arguments, now too

    # rows per decision_function call (memory only)
    SCORE_CHUNK = 100_000

    @property
    def label(self) -> str:
        return f"PyOD {self.name}"

    def check_params(self) -> None:
        if self.random_state is not None:
            require_int(self.random_state, "model.random_state")
        self.cls_ = detector_class(self.name)
        self._kwargs()

    def _kwargs(self) -> dict[str, Any]:
        accepted = inspect.signature(self.cls_.__init__).parameters
        d = int(np.prod(self.shape_))
        kwargs = dict(self.params)
        if self.widths_from_input is not None:
            kwargs[self.widths_from_input.get("param")] = sized_widths(d, self.widths_from_input)
        defaults = {"random_state": self.random_state, "n_features": d, "verbose": 0}
        for key, value in defaults.items():
            if key in accepted and key not in kwargs and value is not None:
                kwargs[key] = value
        takes_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in accepted.values())
        unknown = [k for k in kwargs if k not in accepted and not takes_any]
        if unknown:
            names = [p for p in accepted if p != "self"]
            raise ConfigError(f"model.params: PyOD {self.name} takes no argument {unknown[0]!r}; its arguments: "
                              f"{', '.join(names)}")
        return kwargs

    def _make(self) -> Any:
        try:
            return self.cls_(**self._kwargs())
        except ConfigError:
            raise
        except (TypeError, ValueError, AssertionError) as exc:
            raise ConfigError(f"model.params: PyOD {self.name} refuses them: {first_line(exc)}") from None

    def fit_rows(self, x: np.ndarray) -> None:
        estimator = self._make()
        try:
            estimator.fit(x)
        except (ValueError, np.linalg.LinAlgError) as exc:
            raise TrainingError(f"PyOD {self.name} failed to fit {x.shape[0]} x {x.shape[1]} training rows: "
                                f"{first_line(exc)}") from None
        self.estimator_ = estimator

    def score_rows(self, x: np.ndarray) -> np.ndarray:
        """``decision_function(x)``: PyOD's convention is already higher = more anomalous."""
        return in_chunks(self.estimator_.decision_function, x, self.SCORE_CHUNK)
