"""Datasets for the harness: every adapter trains on the same ``SpikeData`` from here."""

from harness.datasets.synthetic import synthetic_shd as synthetic_shd

__all__ = ["synthetic_shd"]
