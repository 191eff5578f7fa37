"""Pick the attribute reader from what a path holds, so one config key serves every format."""
from __future__ import annotations

import os

from ...utils.errors import UserError, UserFileNotFoundError
from .csv_table import CsvAttributes
from .onehot_xlsx import OneHotXlsxAttributes
from .sysu_mat import SysuMatAttributes

__all__ = ["load_attributes"]


def load_attributes(path: str, cameras: dict[int, str], names=(), fallback: str = "other_camera"):
    """A folder of ``cam{k}_att.mat`` (or one holding ``sysu_attribute/``), a ``.csv`` or an ``.xlsx``."""
    if os.path.isdir(path):
        for folder in (path, os.path.join(path, "sysu_attribute")):
            if any(os.path.isfile(os.path.join(folder, f"cam{c}_att.mat")) for c in cameras):
                return SysuMatAttributes(folder, cameras, names, fallback)
        csvs = sorted(f for f in os.listdir(path) if f.endswith(".csv"))
        if len(csvs) == 1:
            return CsvAttributes(os.path.join(path, csvs[0]), names)
        raise UserFileNotFoundError(
            f"Attribute folder {path} holds neither cam{{k}}_att.mat files (cameras {sorted(cameras)}) nor exactly one .csv "
            f"(found {csvs})."
        )
    ext = os.path.splitext(path)[1].lower()
    if ext == ".csv":
        return CsvAttributes(path, names)
    if ext in (".xlsx", ".xlsm"):
        return OneHotXlsxAttributes(path, names)
    if not os.path.exists(path):
        raise UserFileNotFoundError(f"DATASETS.ATTRIBUTES.PATH '{path}' does not exist (expected a folder of cam{{k}}_att.mat, a .csv or an .xlsx).")
    raise UserError(f"DATASETS.ATTRIBUTES.PATH '{path}': unsupported file type '{ext}' (expected .csv, .xlsx or a folder of .mat files).")
