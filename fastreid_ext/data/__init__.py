"""Cross-modal data: datasets, attributes, synthetic generator, samplers, transforms, loaders.

Importing this package registers the built-in datasets (SYSU_MM01, RegDB).
"""
from . import datasets  # noqa: F401  (registration)
from .build import build_test_loader, build_train_loader
from .datasets import DATASET_REGISTRY, CrossModalDataset, ImageRecord, build_dataset
from .prepare import prepare_datasets

__all__ = [
    "DATASET_REGISTRY",
    "CrossModalDataset",
    "ImageRecord",
    "build_dataset",
    "build_test_loader",
    "build_train_loader",
    "prepare_datasets",
]
