"""MPANet test fixtures. ``repo_root`` comes from the repository's tests/conftest.py (this folder is not
below it), as in projects/PAENet/tests."""
from __future__ import annotations

import importlib.util
import pathlib

import pytest
import torch


def _suite_conftest():
    path = pathlib.Path(__file__).resolve().parents[3] / "tests" / "conftest.py"
    spec = importlib.util.spec_from_file_location("fastreid_ext_suite_conftest_mpanet", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_suite = _suite_conftest()
repo_root = _suite.repo_root
sysu_root = _suite.sysu_root


@pytest.fixture(autouse=True)
def _few_threads():
    old = torch.get_num_threads()
    torch.set_num_threads(2)
    yield
    torch.set_num_threads(old)
