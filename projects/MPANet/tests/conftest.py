"""MPANet test fixtures; the suite-wide ones (``repo_root``, ``sysu_root``, ...) come from the
repository's conftest.py."""
import pytest


@pytest.fixture(autouse=True)
def _few_threads(two_intra_op_threads):
    """Every test of this folder on two intra-op threads (the repository conftest's fixture)."""
