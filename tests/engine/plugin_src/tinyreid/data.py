import os

import cv2
import numpy as np

from fastreid_ext.data.datasets import DATASET_REGISTRY, CrossModalDataset, ImageRecord
from fastreid_ext.data.synthetic import register_generator
from fastreid_ext.utils.errors import UserFileNotFoundError

IDS = {"train": range(1, 5), "test": range(5, 7)}
CAMERAS = ((1, "visible"), (3, "infrared"))


def _path(root: str, pid: int, cam: int, k: int) -> str:
    return os.path.join(root, f"{pid:04d}_c{cam}_{k}.png")


@register_generator("TinyData", images_key="images_per_camera", short_name="tiny")
def write_tiny_data(root: str, seed: int = 0, images_per_camera: int = 2, **_) -> str:
    """The dataset's images (the data-preparation step writes them; reading never does)."""
    os.makedirs(root, exist_ok=True)
    for pids in IDS.values():
        for pid in pids:
            for cam, _modality in CAMERAS:
                for k in range(images_per_camera):
                    rng = np.random.default_rng([seed, pid, cam, k])
                    img = (rng.random((16, 8, 3)) * 60 + pid * 30).clip(0, 255).astype(np.uint8)
                    cv2.imwrite(_path(root, pid, cam, k), img)
    return root


@DATASET_REGISTRY.register()
class TinyData(CrossModalDataset):
    """4 train ids and 2 test ids, 2 images per id, camera and modality, under DATASETS.ROOT/tinydata;
    searched with the plugin's own protocol (protocol.py)."""

    name = "TinyData"
    protocol = "tiny"
    dataset_dir = "tinydata"
    default_evaluator = "TinyEvaluator"

    def __init__(self, root: str):
        folder = os.path.join(root, self.dataset_dir)
        if not os.path.isdir(folder):
            raise UserFileNotFoundError(f"TinyData not found at {folder}; write it with write_tiny_data (or "
                                        f"DATASETS.SYNTHETIC.PRESET default).")
        recs = {"train": [], "test": []}
        for split, pids in IDS.items():
            for pid in pids:
                for cam, modality in CAMERAS:
                    for k in range(2):
                        recs[split].append(ImageRecord(_path(folder, pid, cam, k), pid, cam, modality))
        query = [r for r in recs["test"] if r.modality == "infrared"]
        gallery = [r for r in recs["test"] if r.modality == "visible"]
        super().__init__(recs["train"], query, gallery)

    @classmethod
    def from_config(cls, cfg):
        return cls(cfg.DATASETS.ROOT)
