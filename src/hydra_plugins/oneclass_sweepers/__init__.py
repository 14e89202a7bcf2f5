"""oneclass's Hydra sweepers. Hydra only instantiates plugins defined under the ``hydra_plugins``
namespace package; the logic lives in :mod:`oneclass` and these modules only name it here."""
