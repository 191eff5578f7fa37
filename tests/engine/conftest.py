import pytest

from engine_testkit import import_tiny_plugin


@pytest.fixture(scope="session")
def tiny_plugin(tmp_path_factory):
    """The tinyreid plugin, imported once (in-process tests)."""
    return import_tiny_plugin(tmp_path_factory.mktemp("plugin"))
