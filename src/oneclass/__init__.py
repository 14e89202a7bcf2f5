"""oneclass: Hydra-configured experiments for one-class (unsupervised) anomaly detection.

Every detector follows one scoring contract (see :mod:`oneclass.models.base`): ``fit`` on
background-only training data, then ``score`` returns one float per event, higher = more
anomalous. Metrics, plots and tracking live in :mod:`oneclass.run.engine`, never in models.
"""

__version__ = "0.1.0"


def load_detector(run_id: str, tracking_uri: str | None = None):
    """The trained detector of a finished MLflow run (see :mod:`oneclass.launch.scoring`)."""
    from oneclass.launch.scoring import load_detector as _load

    return _load(run_id, tracking_uri)
