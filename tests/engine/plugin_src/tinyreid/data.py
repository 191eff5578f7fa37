import os

import cv2
import numpy as np

from fastreid_ext.data.datasets import DATASET_REGISTRY, CrossModalDataset, ImageRecord


@DATASET_REGISTRY.register()
class TinyData(CrossModalDataset):
    """4 train ids and 2 test ids, 2 images per id, camera and modality, written under DATASETS.ROOT."""

    name = "TinyData"
    protocol = "sysu"
    default_evaluator = "TinyEvaluator"

    def __init__(self, root: str):
        recs = {"train": [], "test": []}
        for split, pids in (("train", range(1, 5)), ("test", range(5, 7))):
            for pid in pids:
                for cam, modality in ((1, "visible"), (3, "infrared")):
                    for k in range(2):
                        path = os.path.join(root, "tinydata", f"{pid:04d}_c{cam}_{k}.png")
                        if not os.path.isfile(path):
                            os.makedirs(os.path.dirname(path), exist_ok=True)
                            rng = np.random.default_rng(pid * 100 + cam * 10 + k)
                            img = (rng.random((16, 8, 3)) * 60 + pid * 30).clip(0, 255).astype(np.uint8)
                            cv2.imwrite(path, img)
                        recs[split].append(ImageRecord(path, pid, cam, modality))
        query = [r for r in recs["test"] if r.modality == "infrared"]
        gallery = [r for r in recs["test"] if r.modality == "visible"]
        super().__init__(recs["train"], query, gallery)

    @classmethod
    def from_config(cls, cfg):
        return cls(cfg.DATASETS.ROOT)
