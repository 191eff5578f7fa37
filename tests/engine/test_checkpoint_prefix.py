"""A checkpoint whose keys all differ from the model's by one prefix is named in one short line."""
import pytest
import torch
from torch import nn

from fastreid_ext.checkpoint import CheckpointPrefixError, ReidCheckpointer
from fastreid_ext.checkpoint.key_prefix import find_key_prefix


class Inner(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3)
        self.bn = nn.BatchNorm2d(4)
        self.classifier = nn.Linear(4, 2)


class Outer(nn.Module):
    """Holds an Inner as ``base`` plus its own head (as PAENet holds its baseline)."""

    def __init__(self):
        super().__init__()
        self.base = Inner()
        self.head = nn.Linear(4, 3)


def _save(module, path):
    torch.save({"model": module.state_dict()}, path)
    return str(path)


def test_find_key_prefix_both_directions():
    inner, outer = Inner().state_dict().keys(), Outer().state_dict().keys()
    assert find_key_prefix(outer, inner) == ("model", "base.")
    assert find_key_prefix(inner, outer) == ("file", "base.")
    assert find_key_prefix(inner, inner) is None  # keys match as they are
    assert find_key_prefix(inner, ["x.y", "z.w"]) is None  # unrelated: no single prefix explains it
    assert find_key_prefix(["a.b.w", "a.b.v"], ["b.w", "b.v"]) == ("model", "a.")


@pytest.mark.parametrize("eval_only", [True, False])
def test_submodule_checkpoint_into_the_larger_model(tmp_path, eval_only):
    path = _save(Inner(), tmp_path / "inner.pth")
    ck = ReidCheckpointer(Outer())
    with pytest.raises(CheckpointPrefixError) as e:
        ck.load_for_eval(path) if eval_only else ck.load(path)
    msg = str(e.value)
    assert "\n" not in msg and len(msg) < 300, msg
    assert "prefix 'base.'" in msg and "looks like a checkpoint of Inner, the 'base' part of Outer" in msg and "Outer" in msg
    assert "conv.weight" not in msg  # no key listing


def test_larger_model_checkpoint_into_its_part(tmp_path):
    path = _save(Outer(), tmp_path / "outer.pth")
    with pytest.raises(CheckpointPrefixError) as e:
        ReidCheckpointer(Inner()).load_for_eval(path)
    msg = str(e.value)
    assert "\n" not in msg and "prefix 'base.'" in msg and "holds a Inner as 'base'" in msg


def test_matching_checkpoint_still_loads(tmp_path):
    src = Outer()
    path = _save(src, tmp_path / "outer.pth")
    dst = Outer()
    ReidCheckpointer(dst).load_for_eval(path)
    assert torch.equal(dst.base.conv.weight, src.base.conv.weight)
