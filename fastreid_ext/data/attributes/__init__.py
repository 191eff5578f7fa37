"""Attribute readers: SYSU per-camera .mat, the documented CSV, the released one-hot spreadsheet."""
from .csv_table import CsvAttributes
from .load import load_attributes
from .names import SYSU_ATTRIBUTE_NAMES, AttributeTable
from .onehot_xlsx import OneHotXlsxAttributes
from .sysu_mat import FALLBACKS, SysuMatAttributes

__all__ = [
    "AttributeTable",
    "CsvAttributes",
    "FALLBACKS",
    "OneHotXlsxAttributes",
    "SYSU_ATTRIBUTE_NAMES",
    "SysuMatAttributes",
    "load_attributes",
]
