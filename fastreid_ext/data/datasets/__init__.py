"""Datasets; importing this package registers the built-in ones."""
from .bases import CrossModalDataset, ImageRecord
from .build import DATASET_REGISTRY, build_dataset
from .catalog import DatasetCache, get_dataset
from .regdb import RegDB
from .sysu_mm01 import SYSU_MM01

__all__ = ["DATASET_REGISTRY", "CrossModalDataset", "DatasetCache", "ImageRecord", "RegDB", "SYSU_MM01", "build_dataset",
           "get_dataset"]
