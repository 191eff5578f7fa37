"""One-off: golden outputs of the community AGW model for tests/modeling/test_agw.py.

Needs the community ``model.py`` and ``resnet.py`` of mangye16/Cross-Modal-Re-ID-baseline (NOT
committed here), in a folder given on the command line, and ``fastreid_ext`` installed (``pip install
-e .``): run as a script, this file imports the weight fill from the installed package, so that the
golden data and the tests share one rule:

    python tests/assets/agw_golden/make_golden.py /tmp/agw_community

It builds ``embed_net(class_num, no_local='on', gm_pool='on')`` with random init (the ImageNet
download is switched off), fills every state-dict key with the deterministic rule of
``fastreid_ext.utils.testing.fill_value`` (the same rule as the PAENet golden data), runs eval
mode on fixed images for modal 1 (visible) and modal 2 (thermal) and writes, beside this file:

* ``golden.npz``: ``images`` (N×3×H×W, already normalised) and, per modality (``visible_*``,
  ``infrared_*``), ``pool``/``bn`` (the GeM feature and its BatchNorm output, as the model computes
  them before its final L2 normalisation) and ``pool_l2``/``bn_l2`` (what ``net(...)`` returns);
* ``state_dict.json``: ``class_num``, ``image_size`` and ``[name, shape]`` of every key.
"""
from __future__ import annotations

import importlib.util
import json
import pathlib
import sys

import numpy as np
import torch

from fastreid_ext.utils.testing import deterministic_fill

HERE = pathlib.Path(__file__).resolve().parent
CLASS_NUM = 8
NUM_IMAGES = 2
IMAGE_SIZE = (128, 64)  # H, W: small enough for a < 1 MB npz, large enough for layer4 to be 8×4


def fixed_images() -> torch.Tensor:
    return torch.randn(NUM_IMAGES, 3, *IMAGE_SIZE, generator=torch.Generator().manual_seed(0))


def _load(name: str, path: pathlib.Path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # model.py does `from resnet import ...`
    spec.loader.exec_module(module)
    return module


def main(community_dir: str) -> None:
    src = pathlib.Path(community_dir)
    resnet = _load("resnet", src / "resnet.py")
    for arch in ("resnet18", "resnet50"):  # random init: no ImageNet download
        original = getattr(resnet, arch)
        setattr(resnet, arch, lambda pretrained=False, _f=original, **kw: _f(pretrained=False, **kw))
    model = _load("agw_community_model", src / "model.py")
    net = model.embed_net(CLASS_NUM, no_local="on", gm_pool="on")
    sd = net.state_dict()
    net.load_state_dict(deterministic_fill(sd))
    net.eval()

    captured = {}
    net.bottleneck.register_forward_hook(lambda m, i, o: captured.update(pool=i[0].detach(), bn=o.detach()))
    images = fixed_images()
    out = {"images": images.numpy()}
    with torch.no_grad():
        for modal, prefix in ((1, "visible"), (2, "infrared")):
            pool_l2, bn_l2 = net(images, images, modal)
            out[f"{prefix}_pool"] = captured["pool"].numpy()
            out[f"{prefix}_bn"] = captured["bn"].numpy()
            out[f"{prefix}_pool_l2"] = pool_l2.numpy()
            out[f"{prefix}_bn_l2"] = bn_l2.numpy()
    np.savez_compressed(HERE / "golden.npz", **out)
    keys = {"class_num": CLASS_NUM, "image_size": list(IMAGE_SIZE),
            "state_dict": [[k, list(v.shape)] for k, v in sd.items()]}
    (HERE / "state_dict.json").write_text(json.dumps(keys, indent=0) + "\n")
    for k, v in out.items():
        print(k, v.shape, float(np.abs(v).mean()))


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    main(sys.argv[1])
