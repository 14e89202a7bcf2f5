"""Detectors. Each follows the contract in :mod:`oneclass.models.base`."""

from oneclass.models.base import Detector, LightningDetector

__all__ = ["Detector", "LightningDetector"]
