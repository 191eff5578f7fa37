"""Datasets; importing this package registers the built-in ones."""
from .build import DATASET_REGISTRY, build_dataset

__all__ = ["DATASET_REGISTRY", "build_dataset"]
