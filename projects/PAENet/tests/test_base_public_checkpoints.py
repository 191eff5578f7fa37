"""A public checkpoint of a base's own code (DDAG, MPANet, the published HCT PCB) given to PAENet on
that base initialises the base exactly as it initialises the base alone, leaves PAENet's own modules
untouched and skips what the base alone skips; given to PAENet on another base it is refused in one
line naming the base that loads it. The public files are written by the public models' structures
(the references the bases' golden tests use), ResNet-50 as published."""
import types

import pytest
import torch

from fastreid_ext.checkpoint import ReidCheckpointer
from fastreid_ext.config import load_config
from fastreid_ext.modeling import build_model
from fastreid_ext.utils.plugins import import_plugins
from fastreid_ext.utils.testing import deterministic_fill

CLASSES = 4
# base: (its reference source, how to build it, how its code saves a file, PAENet config, base config, size)
PUBLIC = {
    "DDAG": ("projects/DDAG/tests/public_ddag_reference.py", lambda m: m.PublicDDAG(512, CLASSES, drop=0.0),
             lambda sd: {"net": sd, "cmc": [0.0], "mAP": 0.0, "epoch": 80},
             "configs/PAENet/ddag_sysu.yml", "configs/DDAG/sysu.yml", (64, 32)),
    "MPANet": ("projects/MPANet/tests/public_mpanet_reference.py", lambda m: m.PublicMPANet(CLASSES, k_size=2),
               lambda sd: sd, "configs/PAENet/mpanet_sysu.yml", "configs/MPANet/sysu.yml", (64, 32)),
    "HCTPCB": ("tests/assets/hct_pcb_reference/public_hct_pcb.py",
               lambda m: m.PublicHCTPCB(CLASSES, share_net=2, gem_p=10.0),
               lambda sd: {"net": sd, "cmc": [0.0], "mAP": 0.0, "mINP": 0.0, "epoch": 60},
               "configs/PAENet/hct_pcb_sysu.yml", "configs/HCT/sysu_pcb.yml", (192, 64)),
}


def _cfg(repo_root, config, size, depth=50):
    cfg = load_config(str(repo_root / config), [
        "MODEL.BACKBONE.PRETRAIN", "False", "MODEL.DEVICE", "cpu", "MODEL.BACKBONE.DEPTH", str(depth),
        "MODEL.HEADS.NUM_CLASSES", str(CLASSES), "INPUT.SIZE_TRAIN", str(list(size)), "INPUT.SIZE_TEST",
        str(list(size))] + (["MODEL.NUM_ATTRIBUTES", "5"] if "PAENet" in config else []))
    import_plugins(cfg.IMPORTS)
    return cfg


@pytest.fixture(scope="module", params=list(PUBLIC))
def public_file(request, repo_root, tmp_path_factory):
    name = request.param
    source, make, wrap, *_ = PUBLIC[name]
    path = repo_root / source
    module = types.ModuleType(path.stem)  # executed from source, as the bases' golden tests do
    exec(compile(path.read_text(), str(path), "exec"), module.__dict__)
    ref = make(module)
    ref.load_state_dict(deterministic_fill(ref))
    file = tmp_path_factory.mktemp(name) / f"{name}_public_best.t"
    torch.save(wrap(ref.state_dict()), file)
    return name, str(file)


def test_public_file_initialises_the_base_as_it_does_alone(repo_root, public_file):
    name, file = public_file
    _, _, _, paenet_config, base_config, size = PUBLIC[name]
    torch.manual_seed(0)
    alone = build_model(_cfg(repo_root, base_config, size))
    ReidCheckpointer(alone).load(file)
    torch.manual_seed(1)
    model = build_model(_cfg(repo_root, paenet_config, size))
    own_before = {k: v.clone() for k, v in model.state_dict().items() if not k.startswith("base.")}
    ReidCheckpointer(model).load(file)
    state = model.state_dict()
    expected = alone.state_dict()
    assert {k for k in state if k.startswith("base.")} == {f"base.{k}" for k in expected}
    assert all(torch.equal(state[f"base.{k}"], v) for k, v in expected.items())
    assert all(torch.equal(state[k], v) for k, v in own_before.items())  # PAENet's own modules start fresh
    assert model.skipped_checkpoint_keys == alone.skipped_checkpoint_keys


def test_public_file_of_another_base_is_refused(repo_root, public_file):
    name, file = public_file
    other = "DDAG" if name != "DDAG" else "MPANet"
    _, _, _, paenet_config, _, size = PUBLIC[other]
    model = build_model(_cfg(repo_root, paenet_config, size, depth=18))  # refused by name, before any shape
    with pytest.raises(ValueError, match=rf"it cannot initialise PAENet on {other}: expected "
                                         rf"PAENET\.BASE_ARCHITECTURE set to the model that loads it "
                                         rf"\(MODEL\.META_ARCHITECTURE: {name}"):
        ReidCheckpointer(model).load(file)
