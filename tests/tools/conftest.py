"""A tiny real run shared by the tool tests: a depth-18 baseline trained for two short epochs on the
synthetic SYSU-MM01 (metrics.json with loss terms, lr and evaluations; results.json; saved features;
model_final.pth; config.yaml). The helpers live in tools_testkit."""
import pytest
import torch

from tools_testkit import train_tiny


@pytest.fixture(scope="session")
def tiny_run(repo_root, sysu_root, tmp_path_factory):
    """Folder of a finished tiny SYSU run."""
    old = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        return train_tiny(repo_root, sysu_root, tmp_path_factory.mktemp("tiny_run"))
    finally:
        torch.set_num_threads(old)
